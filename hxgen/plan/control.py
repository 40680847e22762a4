"""The control plane as the control role, the gateway and hx-control's configuration need it: where
hx-control listens and keeps its state, the database it logs in to, the files it writes for the
gateway (hxgen.contracts.control), and the tenants, tiers, models and routes it manages."""

from __future__ import annotations

from dataclasses import dataclass

from .. import addresses, layout
from ..contracts import audit as audit_contract
from ..contracts import control as contract
from ..contracts import usage as usage_contract
from ..spec import Spec
from ..spec.gateway import ALL_MODELS
from .canary import CanaryPlan
from .databases import service_login
from .usage import tenant_quotas


@dataclass(frozen=True)
class ControlTenant:
    role: str
    tier: str
    models: tuple[str, ...]
    """Model names or route aliases as the spec names them, or ("*",)."""
    daily_tokens: int | None


@dataclass(frozen=True)
class ControlTier:
    requests_per_second: float
    burst: int
    daily_tokens: int | None


@dataclass(frozen=True)
class ControlModel:
    served_name: str
    engine: str
    task: str
    version: str
    health_url: str


@dataclass(frozen=True)
class ControlRoute:
    sticky: str
    weights_owner: str
    """spec: every converge (`hx-control sync`) sets the spec's split again; control: it survives."""
    split: tuple[tuple[str, int], ...]
    """(hx.yaml model name, percent) in the spec's order, weight 0 included: the variants it may set."""
    canary: CanaryPlan | None = None


@dataclass(frozen=True)
class ControlPlan:
    host: str
    service: str
    user: str
    port: int
    config_file: str
    venv_dir: str
    state_dir: str
    gateway_state_dir: str
    keys_map: str
    route_weights_file: str
    inventory_keys_file: str
    reload_path_unit: str
    reload_service: str
    db_host: str
    db_port: int
    """PgBouncer's port when it runs, else PostgreSQL's."""
    database: str
    db_user: str
    """The database's owner."""
    db_password_file: str
    tenants: dict[str, ControlTenant]
    tiers: dict[str, ControlTier]
    models: dict[str, ControlModel]
    """hx.yaml name -> model."""
    routes: dict[str, ControlRoute]
    alertmanager_url: str
    prometheus_url: str | None
    """Where rollouts read their gate; None when no route has a canary."""
    gateway_status_url: str | None
    """The gateway's loopback status server, which rollout steps are verified against; None likewise."""
    audit_config: str | None
    """hx-audit's configuration when the audit log is on, else None."""
    usage_table: str | None
    usage_time_zone: str | None
    """Both None without usage accounting."""
    spec_file: str
    rotate_overlap_hours: int

    @property
    def health_url(self) -> str:
        return addresses.url("http", layout.ENGINE_BIND_ADDRESS, self.port, "/healthz")


def build_control_plan(
    spec: Spec, roles: tuple[str, ...], probe_tenant: dict | None = None, canaries: tuple[CanaryPlan, ...] = ()
) -> ControlPlan:
    """For a spec whose control plane runs (hxgen.components decides). probe_tenant: the gateway's
    own probe tenant entry, which hx-control must know too (its key is in the gateway's map)."""
    c = spec.control
    canary_of = {p.route: p for p in canaries}
    login = service_login(spec, c.database)
    return ControlPlan(
        host=spec.host.name,
        service=layout.CONTROL_SERVICE,
        user=layout.CONTROL_USER,
        port=layout.CONTROL_PORT,
        config_file=contract.CONFIG_PATH,
        venv_dir=layout.CONTROL_VENV,
        state_dir=layout.CONTROL_STATE,
        gateway_state_dir=contract.GATEWAY_STATE_DIR,
        keys_map=contract.KEYS_MAP,
        route_weights_file=contract.ROUTE_WEIGHTS,
        inventory_keys_file=contract.INVENTORY_KEYS,
        reload_path_unit=contract.RELOAD_PATH_UNIT,
        reload_service=contract.RELOAD_SERVICE,
        db_host=login.host,
        db_port=login.port,
        database=login.database,
        db_user=login.owner,
        db_password_file=layout.CONTROL_DB_PASSWORD_FILE,
        tenants=_tenants(spec, probe_tenant, quotas="usage" in roles),
        tiers={
            t.name: ControlTier(t.requests_per_second, t.burst, t.daily_tokens) for t in spec.gateway.rate_limit_tiers
        },
        models={
            m.name: ControlModel(
                served_name=m.public_name,
                engine=m.engine,
                task=m.task,
                version=m.version,
                health_url=addresses.url("http", layout.ENGINE_BIND_ADDRESS, m.port, "/health"),
            )
            for m in spec.models
        },
        routes={
            r.alias: ControlRoute(
                r.sticky,
                r.weights_owner,
                tuple((_model_name(spec, t.model), t.weight) for t in r.split),
                canary_of.get(r.alias),
            )
            for r in spec.gateway.routes
        },
        alertmanager_url=addresses.url("http", "127.0.0.1", spec.monitoring.alertmanager_port, ""),
        prometheus_url=addresses.url("http", "127.0.0.1", spec.monitoring.prometheus_port, "") if canaries else None,
        gateway_status_url=(
            addresses.url("http", layout.ENGINE_BIND_ADDRESS, layout.NGINX_STATUS_PORT, contract.LIVE_WEIGHTS_PATH)
            if canaries
            else None
        ),
        audit_config=audit_contract.CONFIG_PATH if "audit" in roles else None,
        usage_table=usage_contract.TABLE if "usage" in roles else None,
        usage_time_zone=spec.usage.time_zone if "usage" in roles else None,
        spec_file=layout.HOST_SPEC_FILE,
        rotate_overlap_hours=c.rotate_overlap_hours,
    )


def _tenants(spec: Spec, probe_tenant: dict | None, quotas: bool) -> dict[str, ControlTenant]:
    """quotas: whether usage accounting runs; only it counts tokens, so without it no tenant has one."""
    daily = tenant_quotas(spec) if quotas else {}
    tenants = {
        t.name: ControlTenant(
            role=t.role,
            tier=t.tier,
            models=(ALL_MODELS,) if ALL_MODELS in t.models else tuple(t.models),
            daily_tokens=daily.get(t.name),
        )
        for t in spec.gateway.tenants
    }
    if probe_tenant is not None:
        tenants[layout.PROBE_TENANT] = ControlTenant(
            probe_tenant["role"], probe_tenant["tier"], tuple(probe_tenant["models"]), None
        )
    return tenants


def _model_name(spec: Spec, name: str) -> str:
    """A split may name a model by its hx.yaml name or its served name; hx-control knows the former."""
    return next((m.name for m in spec.models if name in (m.name, m.public_name)), name)
