# Managed by Ansible (hx role pgbouncer). Do not edit.
#
# Starts the distribution's prometheus-pgbouncer-exporter (Debian 12: 1.7) unchanged, except
# that rows of the admin console also carry two columns under the names the exporter reads,
# which PgBouncer has since renamed:
#   SHOW STATS      total_requests = total_query_count  (renamed in PgBouncer 1.8)
#   SHOW DATABASES  reserve_pool   = reserve_pool_size  (renamed in PgBouncer 1.24)
# Without this the exporter exits at start with KeyError: 'total_requests' against any
# PgBouncer since 1.8 (Debian 12 ships 1.18). Rows that have the old name are left alone.
from prometheus_pgbouncer_exporter import cli, collectors

_OLD_NAMES = {
    "STATS": {"total_requests": "total_query_count"},
    "DATABASES": {"reserve_pool": "reserve_pool_size"},
}
_show = collectors.get_data_by_named_column


def _show_with_old_names(connection, key):
    rows = _show(connection, key)
    for old, new in _OLD_NAMES.get(key, {}).items():
        for row in rows:
            if old not in row and new in row:
                row[old] = row[new]
    return rows


collectors.get_data_by_named_column = _show_with_old_names
cli.main()
