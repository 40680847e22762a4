"""Does everything declared fit the machine: profile, GPUs, GPU memory, host RAM."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

from .. import sizing
from ..diagnostics import Diagnostic, error, warning
from ..spec import Spec
from .sections import reads


@reads("host", "models")
def profile(spec: Spec) -> Iterator[Diagnostic]:
    host = spec.host
    if host.profile == "gpu" and not host.gpus:
        yield error(
            "profile-mismatch",
            "the gpu profile needs at least one GPU under host.gpus",
            ("host", "profile"),
            hint="declare the host's GPUs, or use 'profile: cpu' for a sandbox",
        )
    if host.profile == "cpu" and host.gpus:
        yield error(
            "profile-mismatch",
            "the cpu profile runs no GPU workloads; host.gpus must be empty",
            ("host", "gpus"),
            hint="remove host.gpus, or use 'profile: gpu'",
        )
    for i, m in enumerate(spec.models):
        if host.profile == "cpu" and m.engine == "tgi":
            yield error(
                "engine-unsupported",
                "TGI needs a GPU; the cpu profile serves with vLLM's CPU build",
                ("models", i, "engine"),
                hint="use 'engine: vllm' on the cpu profile",
            )
        if m.engine == "tgi" and m.task == "embed":
            yield error(
                "engine-unsupported",
                "TGI serves text generation, not embeddings",
                ("models", i, "engine"),
                hint="serve embedding models with 'engine: vllm'",
            )
        if m.engine == "tgi" and m.dtype == "float32":
            yield error(
                "engine-unsupported",
                "TGI serves float16 or bfloat16 only",
                ("models", i, "dtype"),
                hint="use 'dtype: bfloat16'",
            )
        if host.profile == "cpu" and m.quantization != "none":
            yield error(
                "engine-unsupported",
                f"{m.quantization} quantization needs a GPU",
                ("models", i, "quantization"),
            )
        if host.profile == "gpu" and m.source.generate is not None:
            yield warning(
                "sandbox-model",
                "a generated tiny model on a gpu host serves random text",
                ("models", i, "source", "generate"),
                hint="use 'hub' or 'path' for a real model",
            )


@reads("host", "models")
def parallelism(spec: Spec) -> Iterator[Diagnostic]:
    for i, m in enumerate(spec.models):
        if spec.host.profile == "cpu":
            if m.gpus:
                yield error("profile-mismatch", "models on the cpu profile take no GPUs", ("models", i, "gpus"))
            if m.tensor_parallel_size != 1:
                yield error(
                    "tp-mismatch",
                    "tensor_parallel_size must be 1 on the cpu profile",
                    ("models", i, "tensor_parallel_size"),
                )
        elif not m.gpus:
            yield error(
                "no-gpus",
                "the model has no GPUs assigned",
                ("models", i, "gpus"),
                hint="list host GPU indexes under 'gpus', e.g. 'gpus: [0]'",
            )
        elif m.tensor_parallel_size != len(m.gpus):
            yield error(
                "tp-mismatch",
                f"tensor_parallel_size is {m.tensor_parallel_size} but {_gpus(len(m.gpus))} assigned",
                # Point at whichever of the two the user wrote last; a default is not in the file.
                ("models", i, "tensor_parallel_size" if "tensor_parallel_size" in m.model_fields_set else "gpus"),
                hint=f"set tensor_parallel_size: {len(m.gpus)}, or assign {_gpus(m.tensor_parallel_size)}",
            )


@reads("host", "models")
def gpu_memory(spec: Spec) -> Iterator[Diagnostic]:
    if spec.host.profile != "gpu":
        return
    gpus = {g.index: g for g in spec.host.gpus}
    shares: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for i, m in enumerate(spec.models):
        for index in dict.fromkeys(m.gpus):
            if index in gpus:
                shares[index].append((m.name, m.gpu_memory_utilization))
        present = [gpus[x] for x in m.gpus if x in gpus]
        if not present or len(present) != len(m.gpus) or m.tensor_parallel_size != len(m.gpus):
            continue  # reported by the reference and parallelism checks
        smallest = min(g.memory_gb for g in present)
        budget = m.gpu_memory_utilization * smallest
        need = sizing.gpu_need_gb(m)
        if need > budget:
            explicit = "gpu_memory_utilization" in m.model_fields_set
            yield error(
                "gpu-memory",
                f"needs {_up(need)} GB per GPU (weights {sizing.weights_per_gpu_gb(m):.1f} GB + engine "
                f"{sizing.ENGINE_OVERHEAD_GB:.1f} GB + KV cache {m.kv_cache_min_gb:.1f} GB) but gets "
                f"{m.gpu_memory_utilization:g} x {smallest:g} GB = {budget:.1f} GB",
                ("models", i, "gpu_memory_utilization" if explicit else "parameters_b"),
                hint=_fit_hint(m, smallest),
            )
    for index, users in sorted(shares.items()):
        total = sum(share for _, share in users)
        if total > sizing.MAX_GPU_FRACTION + 1e-9:
            parts = " + ".join(f"{name} {share:g}" for name, share in users)
            yield error(
                "gpu-oversubscribed",
                f"GPU {index} is promised {total:.2f} of its memory ({parts}); at most {sizing.MAX_GPU_FRACTION}",
                ("host", "gpus", _gpu_position(spec, index)),
                hint="lower gpu_memory_utilization of the models sharing it, or move one to another GPU",
            )


def _fit_hint(m, gpu_gb: float) -> str:
    """The cheapest change that makes the model fit, in the order an operator would try them."""
    fixed = sizing.ENGINE_OVERHEAD_GB + m.kv_cache_min_gb
    if sizing.gpu_need_gb(m) <= sizing.MAX_GPU_FRACTION * gpu_gb:
        needed = sizing.gpu_need_gb(m) / gpu_gb
        return f"raise gpu_memory_utilization to at least {math.ceil(needed * 100) / 100:g}"
    usable = sizing.MAX_GPU_FRACTION * gpu_gb - fixed
    if usable <= 0:
        return "lower kv_cache_min_gb; nothing else fits on this GPU"
    gpus = math.ceil(sizing.weights_gb(m) / usable)
    options = [f"spread it over at least {_gpus(gpus)} (gpus and tensor_parallel_size)"]
    if m.quantization == "none" and m.dtype != "float32":
        options.insert(0, "quantize it (fp8 halves the weights, awq/gptq take about a quarter)")
    elif m.dtype == "float32":
        options.insert(0, "serve it in bfloat16 (half the memory of float32)")
    return ", or ".join(options)


def _up(gb: float) -> str:
    """A need rounded up, so that it never reads as equal to a budget it exceeds."""
    return f"{math.ceil(gb * 10) / 10:.1f}"


def _gpus(count: int) -> str:
    return f"{count} GPU" + ("s" if count != 1 else "")


def _gpu_position(spec: Spec, index: int) -> int:
    return next(i for i, g in enumerate(spec.host.gpus) if g.index == index)


@reads("host", "models")
def cpu_memory(spec: Spec) -> Iterator[Diagnostic]:
    for i, m in enumerate(spec.models):
        if spec.host.profile == "cpu" and sizing.cpu_need_gb(m) > m.resources.memory_gb:
            yield error(
                "cpu-memory",
                f"needs {_up(sizing.cpu_need_gb(m))} GB of RAM on the cpu profile (weights "
                f"{sizing.weights_gb(m):.1f} GB + runtime {sizing.CPU_RUNTIME_GB} GB + KV cache "
                f"{m.kv_cache_min_gb:g} GB) but resources.memory_gb is {m.resources.memory_gb:g}",
                ("models", i, "resources", "memory_gb"),
            )


@reads("host", "models", "gateway", "databases", "monitoring", "analytics", "targets")
def host_memory(spec: Spec) -> Iterator[Diagnostic]:
    host = spec.host
    budget = memory_budget(spec)
    total = sum(gb for _, gb in budget)
    limit = host.memory_gb * spec.targets.memory_max_percent / 100
    if total > limit:
        parts = ", ".join(f"{name} {gb:g}" for name, gb in budget)
        yield error(
            "host-memory",
            f"services declare {total:g} GB but {spec.targets.memory_max_percent:g} % of "
            f"{host.memory_gb:g} GB is {limit:g} GB ({parts})",
            ("host", "memory_gb"),
            hint="lower the memory_gb of some services, or disable ones this host does not need",
        )


def memory_budget(spec: Spec) -> list[tuple[str, float]]:
    """Host RAM each enabled part of the spec may use, as declared."""
    parts = [("reserved", spec.host.reserved_memory_gb)]
    parts += [(m.name, m.resources.memory_gb) for m in spec.models]
    if spec.gateway.enabled:
        parts.append(("gateway", spec.gateway.memory_gb))
    if spec.databases.postgres.enabled:
        parts.append(("postgres", spec.databases.postgres.memory_gb))
    if spec.databases.qdrant.enabled:
        parts.append(("qdrant", spec.databases.qdrant.memory_gb))
    parts.append(("monitoring", spec.monitoring.memory_gb))
    if spec.analytics.enabled:
        parts.append(("analytics", spec.analytics.memory_gb))
    return parts


CHECKS = (profile, parallelism, gpu_memory, cpu_memory, host_memory)
