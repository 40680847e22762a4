"""The Plan: the spec with defaults applied, names resolved and every "is X on" decided.
Renderers read nothing else (they never import hxgen.spec; `make lint` checks it).

Placement: every placed part (each model service, the gateway, the databases, the monitoring
stack, analytics) names the host it runs on, and Plan.hosts lists the hosts. Today a spec
describes exactly one host, so Plan.hosts has one entry and every part names it; a plan with
several hosts changes what the planner decides, not what renderers receive.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import addresses, components, layout
from ..components import HelperPort
from ..spec import Spec
from ..spec.models import Model
from . import engines
from .analytics import AnalyticsPlan, build_analytics_plan
from .audit import AuditPlan, build_audit_plan
from .backup import BackupPlan, build_backup_plan
from .business import BusinessPlan, build_business_plan
from .canary import CanaryPlan, build_canary_plans
from .control import ControlPlan, build_control_plan
from .databases import DatabasesPlan, build_databases_plan
from .engines import EnginesPlan, build_engines_plan
from .firewall import FirewallPlan, build_firewall_plan
from .gateway import GatewayPlan, build_gateway_plan
from .hosts import GpuPlan, HostPlan, StoragePlan, build_host
from .intrusion import IntrusionPlan, build_intrusion_plan
from .limits import LimitsPlan, build_limits_plan
from .monitoring import MonitoringPlan, build_monitoring_plan
from .policy import SecurityPlan, TargetsPlan, build_security_plan, build_targets_plan
from .probes import ProbePlan, build_probe_plan
from .usage import UsagePlan, build_usage_plan
from .weights import staging


@dataclass(frozen=True)
class ServiceLevels:
    availability_percent: float
    error_rate_percent: float
    window_days: int
    ttft_ms: float | None
    ttft_percentile: int | None
    e2e_ms: float | None
    e2e_percentile: int | None
    e2e_output_tokens: int | None
    throughput_rps: float | None


@dataclass(frozen=True)
class ModelService:
    name: str
    host: str
    """The host the engine runs on."""
    service: str
    engine: str
    task: str
    version: str
    served_name: str
    port: int
    """The engine's HTTP port: its API, or only /health and /metrics with protocol grpc."""
    protocol: str
    """http or grpc."""
    grpc_port: int | None
    """Where the engine's gRPC server listens (protocol grpc), else None."""
    user: str
    command: tuple[tuple[str, ...], ...]
    """The engine's command line, one option per line (see plan.engines)."""
    environment: tuple[tuple[str, str], ...]
    gpus: tuple[int, ...]
    memory_max_gb: float
    cpu_quota_percent: int | None
    weights_dir: str
    source: dict
    weights: dict
    """How the weights reach the host (plan.weights.staging): what the engine roles follow."""
    max_concurrent_requests: int
    max_num_seqs: int
    prefix_caching: bool
    gpu_memory_utilization: float
    """The share of each of its GPUs' memory the engine may take."""
    slo: ServiceLevels

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(word for line in self.command for word in line)

    @property
    def unit_file(self) -> str:
        return f"systemd/{self.service}.service"

    @property
    def health_url(self) -> str:
        return addresses.url("http", layout.ENGINE_BIND_ADDRESS, self.port, "/health")


@dataclass(frozen=True)
class Component:
    """A role the host needs (in the order site.yml applies them), and the host it is on."""

    role: str
    host: str


@dataclass(frozen=True)
class Plan:
    spec_file: str
    """File name of the spec (no directory), for the headers of generated files."""
    hosts: tuple[HostPlan, ...]
    """Every host of the plan; exactly one today."""
    components: tuple[Component, ...]
    """The roles the hosts need, decided once (hxgen.components)."""
    helper_ports: tuple[HelperPort, ...]
    """Status pages and exporters the roles bind beside the components they watch."""
    models: tuple[ModelService, ...]
    engines: EnginesPlan
    gateway: GatewayPlan | None
    """None when the gateway is disabled."""
    probe: ProbePlan | None
    """None when nothing is probed (no gateway, or monitoring.probes disabled)."""
    monitoring: MonitoringPlan
    databases: DatabasesPlan
    analytics: AnalyticsPlan | None
    """None when analytics is disabled."""
    business: BusinessPlan | None
    """None when the spec prices nothing."""
    targets: TargetsPlan
    security: SecurityPlan
    firewall: FirewallPlan | None
    """None when security.firewall.enabled is false: hx then loads no packet filter."""
    limits: LimitsPlan
    """Memory budgets that become systemd limits (plan.limits)."""
    backup: BackupPlan | None = None
    """None when PostgreSQL is off (role backup)."""
    audit: AuditPlan | None = None
    """None when security.audit_log is disabled."""
    intrusion: IntrusionPlan | None = None
    """fail2ban's jails and what a ban does; None when security.fail2ban is disabled."""
    usage: UsagePlan | None = None
    """Usage accounting and token quotas; None without the gateway or PostgreSQL (role usage)."""
    control: ControlPlan | None = None
    canaries: tuple[CanaryPlan, ...] = ()
    """The routes' canary rollouts; empty unless hx-control and usage accounting run."""
    """hx-control (keys and route weights on the host); None when it is off or without the gateway
    or PostgreSQL (role control)."""

    def host_named(self, name: str) -> HostPlan:
        return next(h for h in self.hosts if h.name == name)

    @property
    def single_host(self) -> HostPlan:
        """The host of a one-host plan. Only what is rendered per inventory group (the hx group's
        variables, whose values are host facts) reads it: with several hosts those become host
        variables, and this property says where to look."""
        (host,) = self.hosts
        return host

    @property
    def gpus(self) -> tuple[tuple[HostPlan, GpuPlan], ...]:
        """Every GPU of every host, with its host."""
        return tuple((h, g) for h in self.hosts for g in h.gpus)

    @property
    def any_gpu_host(self) -> bool:
        return any(h.has_gpus for h in self.hosts)

    def enabled(self, role: str) -> bool:
        return any(c.role == role for c in self.components)

    @property
    def vllm_package(self) -> str:
        return self.engines.vllm.package

    def models_on(self, engine: str) -> tuple[ModelService, ...]:
        return tuple(m for m in self.models if m.engine == engine)


def build_plan(spec: Spec, spec_file: str = "hx.yaml") -> Plan:
    host = build_host(spec)
    roles = components.enabled_roles(spec)
    engine_plan = build_engines_plan(spec)
    models = tuple(_model_service(spec, m, engine_plan.vllm.package) for m in spec.models)
    probe = build_probe_plan(spec)
    usage = build_usage_plan(spec, _probe_tenants(probe)) if "usage" in roles else None
    canaries = build_canary_plans(spec, models) if {"control", "usage"} <= set(roles) else ()
    control = build_control_plan(spec, roles, probe.tenant if probe else None, canaries) if "control" in roles else None
    return Plan(
        spec_file=spec_file,
        hosts=(host,),
        components=tuple(Component(role, host.name) for role in roles),
        helper_ports=tuple(components.helper_ports(spec)),
        models=models,
        engines=engine_plan,
        gateway=build_gateway_plan(spec, models, probe, usage, control) if "gateway" in roles else None,
        probe=probe,
        monitoring=build_monitoring_plan(spec, grafana="grafana" in roles),
        databases=build_databases_plan(spec, roles),
        analytics=build_analytics_plan(spec) if "analytics" in roles else None,
        business=build_business_plan(spec),
        targets=build_targets_plan(spec),
        security=build_security_plan(spec),
        firewall=build_firewall_plan(spec),
        backup=build_backup_plan(spec) if "backup" in roles else None,
        audit=build_audit_plan(spec, gateway="gateway" in roles) if "audit" in roles else None,
        limits=build_limits_plan(list(roles), spec.gateway.memory_gb, spec.monitoring.memory_gb, probe is not None),
        intrusion=build_intrusion_plan(spec, roles),
        usage=usage,
        control=control,
        canaries=canaries,
    )


def _probe_tenants(probe: ProbePlan | None) -> tuple[str, ...]:
    return (layout.PROBE_TENANT,) if probe and probe.tenant else ()


def _model_service(spec: Spec, model: Model, vllm_package: str) -> ModelService:
    if model.engine == "vllm":
        command, env, user = (
            engines.vllm_command(spec, model, vllm_package),
            engines.vllm_environment(spec, model),
            layout.VLLM_USER,
        )
    else:
        # Rootful podman runs the container; the image drops privileges itself.
        command, env, user = engines.tgi_command(spec, model), {}, "root"
    cpu = model.resources.cpu_cores
    weights_dir, source = engines.weights_dir(spec, model), _source(model)
    return ModelService(
        name=model.name,
        host=spec.host.name,
        service=layout.model_service(model.name),
        engine=model.engine,
        task=model.task,
        version=model.version,
        served_name=model.public_name,
        port=model.port,
        protocol=model.protocol,
        grpc_port=model.grpc_port if model.protocol == "grpc" else None,
        user=user,
        command=tuple(command),
        environment=tuple(sorted(env.items())),
        gpus=tuple(model.gpus),
        memory_max_gb=model.resources.memory_gb,
        cpu_quota_percent=round(cpu * 100) if cpu else None,
        weights_dir=weights_dir,
        source=source,
        weights=staging(source, weights_dir),
        max_concurrent_requests=engines.concurrency_cap(model),
        max_num_seqs=model.max_num_seqs,
        prefix_caching=model.prefix_caching,
        gpu_memory_utilization=model.gpu_memory_utilization,
        slo=_service_levels(spec, model),
    )


def _source(model: Model) -> dict:
    """Only the keys that matter for this kind of source (the seed only for generated models)."""
    src = model.source
    if src.generate is not None:
        return {"generate": src.generate, "seed": src.seed}
    return {"hub": src.hub, "revision": src.revision} if src.hub else {"path": src.path}


def _service_levels(spec: Spec, model: Model) -> ServiceLevels:
    slo, targets = model.slo, spec.targets
    ttft = slo.time_to_first_token if slo else None
    e2e = slo.end_to_end if slo else None
    return ServiceLevels(
        availability_percent=(slo and slo.availability_percent) or targets.availability_percent,
        error_rate_percent=(slo and slo.error_rate_percent) or targets.error_rate_percent,
        window_days=slo.window_days if slo else 30,
        ttft_ms=ttft.target_ms if ttft else None,
        ttft_percentile=ttft.percentile if ttft else None,
        e2e_ms=e2e.target_ms if e2e else None,
        e2e_percentile=e2e.percentile if e2e else None,
        e2e_output_tokens=e2e.output_tokens if e2e else None,
        throughput_rps=slo.throughput_rps if slo else None,
    )


__all__ = [
    "AnalyticsPlan",
    "BackupPlan",
    "AuditPlan",
    "BusinessPlan",
    "Component",
    "ControlPlan",
    "DatabasesPlan",
    "EnginesPlan",
    "FirewallPlan",
    "GatewayPlan",
    "GpuPlan",
    "HelperPort",
    "HostPlan",
    "IntrusionPlan",
    "ModelService",
    "MonitoringPlan",
    "Plan",
    "ProbePlan",
    "SecurityPlan",
    "ServiceLevels",
    "StoragePlan",
    "TargetsPlan",
    "UsagePlan",
    "build_plan",
]
