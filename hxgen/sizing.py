"""Rules of thumb that size models against GPU and host memory (decimal GB throughout)."""

from __future__ import annotations

from .spec.models import Model

DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}

# 4-bit formats store about 4.4 bits per parameter once group scales, zero points and
# the unquantised embeddings and head are counted; fp8 keeps one byte per parameter.
QUANTIZED_BYTES = {"awq": 0.55, "gptq": 0.55, "bitsandbytes": 0.55, "fp8": 1.0}

# CUDA context, activations and sampler buffers that vLLM reserves on every GPU it uses.
ENGINE_OVERHEAD_GB = 1.0

# The CPU build's API server, engine core and worker before weights and KV cache
# (measured: about 1.8 GB of resident memory for a tiny model).
CPU_RUNTIME_GB = 2.0

MAX_GPU_FRACTION = 0.95


def bytes_per_parameter(model: Model) -> float:
    return QUANTIZED_BYTES.get(model.quantization) or DTYPE_BYTES[model.dtype]


def weights_gb(model: Model) -> float:
    return model.parameters_b * bytes_per_parameter(model)


def weights_per_gpu_gb(model: Model) -> float:
    return weights_gb(model) / max(1, model.tensor_parallel_size)


def gpu_need_gb(model: Model) -> float:
    """Memory one GPU must give the model: its share of weights, overhead, minimum KV cache."""
    return weights_per_gpu_gb(model) + ENGINE_OVERHEAD_GB + model.kv_cache_min_gb


def cpu_need_gb(model: Model) -> float:
    """Host RAM a model needs on the cpu profile, where weights and KV cache live in RAM."""
    return weights_gb(model) + CPU_RUNTIME_GB + model.kv_cache_min_gb
