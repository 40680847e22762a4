"""Model services: what each engine serves, on which GPUs, with which promises."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import AbsolutePath, CpuCores, MemoryGb, Name, Percent, Port, PositiveFloat, PositiveInt, StrictModel

Engine = Literal["vllm", "tgi"]
Task = Literal["generate", "embed"]
Protocol = Literal["http", "grpc"]
Dtype = Literal["bfloat16", "float16", "float32"]
Quantization = Literal["none", "awq", "gptq", "fp8", "bitsandbytes"]
Percentile = Literal[50, 90, 95, 99]


class ModelSource(StrictModel):
    """Exactly one of `hub`, `path` or `generate`."""

    hub: str | None = Field(
        default=None,
        pattern=r"^[\w.-]+/[\w.-]+$",
        description="Hugging Face repository id (org/name), downloaded once by the role.",
    )
    revision: str | None = Field(
        default=None,
        min_length=1,
        description="Commit sha (or tag) of `hub`; required so that a re-run fetches the same weights.",
    )
    path: AbsolutePath | None = Field(
        default=None, description="Weights already on the host (an internal mirror or a pre-staged copy)."
    )
    generate: Literal["tiny-llama"] | None = Field(
        default=None, description="A tiny random-weight model built on the host (sandbox and tests only)."
    )
    seed: int = Field(
        default=0, ge=0, description="Seed of `generate`, so that the generated weights are reproducible."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        chosen = [k for k in ("hub", "path", "generate") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "give exactly one of 'hub' (with 'revision'), 'path' or 'generate'"
                + (f"; found {', '.join(chosen)}" if chosen else "")
            )
        if self.hub is not None and self.revision is None:
            raise ValueError("'hub' needs a pinned 'revision' (a commit sha) so re-runs fetch the same weights")
        if self.hub is None and self.revision is not None:
            raise ValueError("'revision' only applies to 'hub' sources")
        return self


class LatencyObjective(StrictModel):
    target_ms: PositiveFloat
    percentile: Percentile = Field(
        default=95, description="The share of requests (in %) that must be faster than the target."
    )


class EndToEndObjective(LatencyObjective):
    output_tokens: PositiveInt = Field(
        description="Output length the end-to-end target is stated for; longer answers take longer."
    )


class ModelSlo(StrictModel):
    time_to_first_token: LatencyObjective | None = Field(
        default=None, description="Time until the first token arrives (what a streaming user waits for)."
    )
    end_to_end: EndToEndObjective | None = Field(
        default=None, description="Whole-request latency for answers of `output_tokens` tokens."
    )
    throughput_rps: PositiveFloat | None = Field(
        default=None, description="Requests per second the service must sustain."
    )
    availability_percent: Percent | None = Field(
        default=None,
        description="Share of successful requests over the window; defaults to targets.availability_percent.",
    )
    error_rate_percent: Percent | None = Field(
        default=None,
        description="Largest tolerated share of failed requests; defaults to targets.error_rate_percent.",
    )
    window_days: int = Field(default=30, ge=1, le=90, description="Error-budget window.")


class ModelResources(StrictModel):
    memory_gb: MemoryGb = Field(
        default=16,
        description="Host RAM the service may use (systemd MemoryMax); counted in the host budget.",
    )
    cpu_cores: CpuCores | None = Field(
        default=None, description="CPU quota (systemd CPUQuota); unlimited when omitted."
    )


class Model(StrictModel):
    name: Name = Field(description="Id used by hx: service name hx-model-NAME, metrics label, routing key.")
    engine: Engine = "vllm"
    task: Task = Field(default="generate", description="generate: chat/completions. embed: /v1/embeddings.")
    version: str = Field(
        default="1",
        min_length=1,
        description="Free-form version label, shown in dashboards and the variant header.",
    )
    source: ModelSource
    served_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$",
        description="Name clients send in the `model` field; defaults to `name`.",
    )
    parameters_b: float = Field(gt=0, le=100000, description="Parameter count in billions; sizes the GPU memory check.")
    dtype: Dtype = "bfloat16"
    quantization: Quantization = "none"
    gpus: list[int] = Field(
        default=[], description="Indexes of host GPUs the model runs on (empty on the cpu profile)."
    )
    tensor_parallel_size: PositiveInt = Field(default=1, description="Must equal the number of GPUs assigned.")
    max_model_len: PositiveInt = Field(description="Context window (prompt + output tokens) the engine accepts.")
    gpu_memory_utilization: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Fraction of each assigned GPU's memory the engine may take (weights + KV cache).",
    )
    kv_cache_min_gb: PositiveFloat = Field(
        default=1.0,
        le=65536,
        description="KV cache per GPU that must remain after the weights; below it the model is refused.",
    )
    max_num_seqs: PositiveInt = Field(default=256, description="Sequences batched at once by the engine.")
    max_num_batched_tokens: PositiveInt | None = Field(
        default=None, description="Tokens per engine step; engine default when omitted."
    )
    prefix_caching: bool = True
    port: Port = Field(
        description="Loopback port of the engine's OpenAI-compatible API; with protocol grpc, its /health and /metrics."
    )
    protocol: Protocol = Field(
        default="http",
        description="http: the OpenAI-compatible API. grpc: vLLM's gRPC server, via the gateway's gRPC listener.",
    )
    grpc_port: Port | None = Field(
        default=None, description="Loopback port of the engine's gRPC server; required with protocol grpc, only then."
    )
    max_concurrent_requests: PositiveInt | None = Field(
        default=None,
        description="Gateway cap on in-flight requests to this model; defaults to 2 x max_num_seqs.",
    )
    resources: ModelResources = Field(default_factory=ModelResources)
    extra_args: list[str] = Field(
        default=[],
        description="Additional engine flags, passed through verbatim (hx-managed flags are refused).",
    )
    slo: ModelSlo | None = None

    @property
    def public_name(self) -> str:
        return self.served_name or self.name
