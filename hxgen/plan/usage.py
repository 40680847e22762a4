"""Usage accounting as the usage role, the gateway and the rules need it: what hx-usage follows,
where it writes, the tenants and models it may name, and each tenant's daily token quota."""

from __future__ import annotations

from dataclasses import dataclass

from .. import addresses, layout
from ..contracts import usage as contract
from ..spec import Spec
from .databases import service_login


@dataclass(frozen=True)
class UsagePlan:
    host: str
    service: str
    user: str
    port: int
    config_file: str
    venv_dir: str
    state_dir: str
    quota_dir: str
    access_log: str
    db_host: str
    db_port: int
    """PgBouncer's port when it runs, else PostgreSQL's."""
    database: str
    db_user: str
    """The database's owner: hx_retention prunes only tables it owns."""
    db_password_file: str
    time_zone: str
    quotas: dict[str, int | None]
    """Every tenant the gateway knows -> its daily token quota (its own, else its tier's), or None."""
    models: dict[str, str]
    """Served name -> hx.yaml name of every model."""
    reports_enabled: bool
    reports_dir: str
    reports_keep: int
    report_service: str
    prometheus_url: str
    """Where the reports read service levels, latencies, forecasts and alerts."""
    spec_file: str
    """The spec on the host (layout.HOST_SPEC_FILE), which the reports read prices and targets from."""

    @property
    def any_quota(self) -> bool:
        return any(q is not None for q in self.quotas.values())


def tenant_quotas(spec: Spec) -> dict[str, int | None]:
    tiers = {t.name: t.daily_tokens for t in spec.gateway.rate_limit_tiers}
    return {t.name: t.daily_tokens if t.daily_tokens is not None else tiers.get(t.tier) for t in spec.gateway.tenants}


def build_usage_plan(spec: Spec, extra_tenants: tuple[str, ...] = ()) -> UsagePlan:
    """For a spec whose usage accounting runs (hxgen.components decides). extra_tenants: the
    gateway's own tenants (the probe's), which have no quota."""
    u = spec.usage
    login = service_login(spec, u.database)
    return UsagePlan(
        host=spec.host.name,
        service=layout.USAGE_SERVICE,
        user=layout.USAGE_USER,
        port=layout.USAGE_PORT,
        config_file=contract.CONFIG_PATH,
        venv_dir=layout.USAGE_VENV,
        state_dir=layout.USAGE_STATE,
        quota_dir=contract.QUOTA_DIR,
        access_log=layout.gateway_access_log(spec.host.storage.logs_dir),
        db_host=login.host,
        db_port=login.port,
        database=login.database,
        db_user=login.owner,
        db_password_file=layout.USAGE_DB_PASSWORD_FILE,
        time_zone=u.time_zone,
        quotas=tenant_quotas(spec) | {name: None for name in extra_tenants},
        models={m.public_name: m.name for m in spec.models},
        reports_enabled=u.reports.enabled,
        reports_dir=layout.usage_reports_dir(spec.host.storage.data_dir),
        reports_keep=u.reports.keep,
        report_service=layout.USAGE_REPORT_SERVICE,
        prometheus_url=addresses.url("http", "127.0.0.1", spec.monitoring.prometheus_port, ""),
        spec_file=layout.HOST_SPEC_FILE,
    )
