# shellcheck shell=bash
# Shared by hx-pg-backup, hx-pg-restore and hx-pg-retention (installed by the hx backup role).
# Every setting comes from the environment, with the host's defaults: the systemd units set
# them from hx.yaml, and tests point them at a cluster of their own.

HX_PG_HOST=${HX_PG_HOST:-/var/run/postgresql}
HX_PG_PORT=${HX_PG_PORT:-5432}
# The PostgreSQL superuser the client programs run as (peer authentication on the socket).
HX_PG_RUN_AS=${HX_PG_RUN_AS:-postgres}
HX_PG_DATABASES=${HX_PG_DATABASES:-}
HX_BACKUP_DIR=${HX_BACKUP_DIR:-/srv/hx/backups/postgres}
HX_BACKUP_RECIPIENT_FILE=${HX_BACKUP_RECIPIENT_FILE:-/etc/hx/backup/age-recipients.txt}
HX_BACKUP_IDENTITY_FILE=${HX_BACKUP_IDENTITY_FILE:-/etc/hx/secrets/backup/age-identity.txt}
# Empty: no audit records (the role sets it when security.audit_log is enabled).
HX_AUDIT_COMMAND=${HX_AUDIT_COMMAND:-}
# Empty: no node_exporter textfile metrics.
HX_TEXTFILE_DIR=${HX_TEXTFILE_DIR:-}

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    log "$*"
    exit 1
}

# Run a PostgreSQL client program as HX_PG_RUN_AS (unless this already is that user).
pg_run() {
    if [[ -n $HX_PG_RUN_AS && $(id -un) != "$HX_PG_RUN_AS" ]]; then
        runuser -u "$HX_PG_RUN_AS" -- "$@"
    else
        "$@"
    fi
}

pg_psql() {
    pg_run psql -X -q -v ON_ERROR_STOP=1 -h "$HX_PG_HOST" -p "$HX_PG_PORT" "$@"
}

json_string() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# audit ACTION DATABASE FILE BYTES: one record in the hx audit log, when it is enabled.
audit() {
    [[ -n $HX_AUDIT_COMMAND ]] || return 0
    if [[ ! -x $HX_AUDIT_COMMAND ]]; then
        log "warning: $HX_AUDIT_COMMAND is not installed; no audit record of this $1"
        return 0
    fi
    local detail
    detail="{\"database\":$(json_string "$2"),\"file\":$(json_string "$3"),\"bytes\":$4}"
    "$HX_AUDIT_COMMAND" append --actor "${0##*/}" --action "$1" --detail "$detail" ||
        log "warning: the audit record of this $1 could not be written"
}
