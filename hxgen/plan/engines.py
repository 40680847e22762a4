"""The exact command line and environment of each model's engine."""

from __future__ import annotations

import math

from .. import layout
from ..spec import Spec
from ..spec.models import Model


def weights_dir(spec: Spec, model: Model) -> str:
    """Where the engine reads weights: the given path, or the folder the role fills."""
    return model.source.path or f"{spec.host.storage.models_dir}/{model.name}"


def vllm_argv(spec: Spec, model: Model) -> list[str]:
    argv = [
        f"{layout.VLLM_VENV}/bin/vllm",
        "serve",
        weights_dir(spec, model),
        "--served-model-name",
        model.public_name,
        "--host",
        layout.ENGINE_BIND_ADDRESS,
        "--port",
        str(model.port),
        "--dtype",
        model.dtype,
        "--max-model-len",
        str(model.max_model_len),
        "--max-num-seqs",
        str(model.max_num_seqs),
    ]
    if model.max_num_batched_tokens is not None:
        argv += ["--max-num-batched-tokens", str(model.max_num_batched_tokens)]
    argv.append("--enable-prefix-caching" if model.prefix_caching else "--no-enable-prefix-caching")
    if model.task == "embed":
        argv += ["--runner", "pooling"]
    if spec.host.profile == "gpu":
        argv += [
            "--tensor-parallel-size",
            str(model.tensor_parallel_size),
            "--gpu-memory-utilization",
            f"{model.gpu_memory_utilization:g}",
        ]
        if model.quantization != "none":
            argv += ["--quantization", model.quantization]
    else:
        # CUDA graphs do not exist on the CPU build; eager mode also starts faster.
        argv.append("--enforce-eager")
    return argv + list(model.extra_args)


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


def tgi_argv(spec: Spec, model: Model) -> list[str]:
    tgi = spec.engines.tgi
    container_weights = "/data/model"
    argv = [
        f"/usr/bin/{tgi.runtime}",
        "run",
        "--rm",
        "--replace" if tgi.runtime == "podman" else "--init",
        "--name",
        layout.model_service(model.name),
        "--network",
        "host",
        "--shm-size",
        "1g",
        "--volume",
        f"{weights_dir(spec, model)}:{container_weights}:ro",
        "--env",
        "HF_HUB_OFFLINE=1",
    ]
    argv += [f"--device=nvidia.com/gpu={g}" for g in model.gpus]  # CDI
    argv += [
        tgi.image,
        "--model-id",
        container_weights,
        "--hostname",
        layout.ENGINE_BIND_ADDRESS,
        "--port",
        str(model.port),
        "--num-shard",
        str(model.tensor_parallel_size),
        "--max-total-tokens",
        str(model.max_model_len),
        "--max-input-tokens",
        str(model.max_model_len - 1),
        "--max-concurrent-requests",
        str(concurrency_cap(model)),
        "--cuda-memory-fraction",
        f"{model.gpu_memory_utilization:g}",
    ]
    if model.max_num_batched_tokens is not None:
        argv += ["--max-batch-prefill-tokens", str(model.max_num_batched_tokens)]
    # TGI refuses --dtype together with --quantize.
    argv += ["--quantize", model.quantization] if model.quantization != "none" else ["--dtype", model.dtype]
    return argv + list(model.extra_args)


def concurrency_cap(model: Model) -> int:
    return model.max_concurrent_requests or 2 * model.max_num_seqs
