"""The nginx gateway: one authenticated, rate-limited, OpenAI-compatible endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .common import AbsolutePath, IpAddress, MemoryGb, Name, Port, PositiveFloat, PositiveInt, StrictModel

Role = Literal["admin", "operator", "user", "readonly"]
ALL_MODELS = "*"


class Listen(StrictModel):
    address: IpAddress = Field(default="0.0.0.0", description="Address nginx binds; 127.0.0.1 keeps the gateway local.")
    http_port: Port = Field(default=80, description="Plain HTTP: redirects to HTTPS when TLS is on.")
    https_port: Port = 443


class Tls(StrictModel):
    mode: Literal["internal-ca", "provided", "off"] = Field(
        default="internal-ca",
        description="internal-ca: a CA and server certificate generated on the host. provided: your files.",
    )
    cert_file: AbsolutePath | None = Field(default=None, description="Certificate chain on the host (mode: provided).")
    key_file: AbsolutePath | None = Field(default=None, description="Private key on the host (mode: provided).")
    client_ca_file: AbsolutePath | None = Field(
        default=None,
        description="CA that signs client certificates; enables optional mTLS for service clients.",
    )
    min_version: Literal["1.2", "1.3"] = "1.2"
    hsts_max_age_s: int = Field(default=31536000, ge=0)

    @model_validator(mode="after")
    def _files_match_mode(self) -> Tls:
        has_files = self.cert_file is not None or self.key_file is not None
        if self.mode == "provided" and (self.cert_file is None or self.key_file is None):
            raise ValueError("mode 'provided' needs both 'cert_file' and 'key_file'")
        if self.mode != "provided" and has_files:
            raise ValueError(f"'cert_file'/'key_file' only apply to mode 'provided', not '{self.mode}'")
        return self


class RateLimitTier(StrictModel):
    name: Name
    requests_per_second: PositiveFloat
    burst: int = Field(default=0, ge=0, description="Requests above the rate accepted at once before 429.")
    daily_tokens: PositiveInt | None = Field(
        default=None,
        description="Prompt + completion tokens each tenant of the tier may use per day (usage.time_zone); "
        "beyond it the gateway answers 429 quota_exceeded until the day resets. Needs usage accounting.",
    )


class Tenant(StrictModel):
    name: Name = Field(description="Appears in logs and metrics instead of the key.")
    role: Role = Field(
        default="user",
        description="admin: everything. operator: status and metrics. user: inference. readonly: model list.",
    )
    models: list[str] = Field(
        default=[ALL_MODELS],
        min_length=1,
        description="Model names or route aliases this tenant may call; '*' for all.",
    )
    tier: str = Field(description="Name of a rate_limit_tiers entry.")
    client_cert_cn: str | None = Field(
        default=None,
        min_length=1,
        pattern=r"^[^,=+\\\"<>;]+$",
        description="Common name of a client certificate (signed by tls.client_ca_file) that "
        "authenticates as this tenant without an API key: mTLS for service clients.",
    )
    daily_tokens: PositiveInt | None = Field(
        default=None, description="This tenant's daily token quota, instead of its tier's daily_tokens."
    )


class SplitTarget(StrictModel):
    model: str
    weight: int = Field(ge=0, le=100, description="Share of traffic in percent; a route's weights sum to 100.")


class Canary(StrictModel):
    """A progressive rollout of one variant of the route, gated by Prometheus and carried out by
    hx-control without a converge (docs/canary.md). The checks, each over window_s: the canary's
    engine is down; its error ratio burns its availability budget 14.4 times too fast; its error
    ratio or its latency-SLO miss ratio is above the stable variants' by more than the margin."""

    model: str = Field(
        description="The variant under test (a model of the split, weight 0 there); the others are stable."
    )
    steps_percent: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default=[1, 5, 25, 50, 100],
        min_length=1,
        description="The canary's weight at each step, increasing, ending at 100.",
    )
    step_min_s: int = Field(default=300, ge=0, description="Least time at a step before it may advance.")
    step_min_requests: int = Field(
        default=50, ge=0, description="Least requests sent to the canary at a step before it may advance."
    )
    interval_s: PositiveInt = Field(default=10, description="How often hx-control checks the gate.")
    failed_checks: PositiveInt = Field(
        default=2, description="Consecutive failed checks that roll the canary back to weight 0."
    )
    window_s: PositiveInt = Field(default=60, description="The window of the gate's rates.")
    error_margin_percent: float = Field(
        default=2,
        ge=0,
        le=100,
        description="How many percentage points the canary's error ratio may exceed the stable variants'.",
    )
    latency_margin_percent: float = Field(
        default=5,
        ge=0,
        le=100,
        description="How many percentage points the canary's share of requests missing its latency "
        "objectives may exceed the stable variants' share missing theirs.",
    )
    promotion: Literal["auto", "manual"] = Field(
        default="auto",
        description="auto: a step whose gate held advances by itself. manual: it waits for `hxgen rollout promote`.",
    )


class Route(StrictModel):
    alias: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="Model name clients send; the gateway picks a target by weight.",
    )
    split: list[SplitTarget] = Field(min_length=1)
    sticky: Literal["tenant", "request"] = Field(
        default="tenant",
        description="tenant: a tenant always lands on the same variant. request: each request is drawn anew.",
    )
    weights_owner: Literal["spec", "control"] = Field(
        default="spec",
        description="Who owns the live split when hx-control runs. spec: every converge restores the spec's split "
        "(weights set through hx-control last until then). control: the spec's split is only the starting point; "
        "weights set through hx-control survive a converge.",
    )
    canary: Canary | None = Field(
        default=None, description="Roll one variant out step by step, and back when its gate fails."
    )


class ResponseCache(StrictModel):
    enabled: bool = True
    size_mb: PositiveInt = 256
    ttl_s: PositiveInt = 300
    max_entry_kb: PositiveInt = 256


class ApiVersion(StrictModel):
    name: str = Field(pattern=r"^v[0-9]+(alpha|beta)?[0-9]*$")
    status: Literal["current", "deprecated", "preview"] = "current"
    deprecated_on: dt.date | None = Field(default=None, description="Sent as the Deprecation header.")
    sunset_on: dt.date | None = Field(
        default=None, description="Sent as the Sunset header; requests fail with 410 after it."
    )

    @model_validator(mode="after")
    def _dates_follow_status(self) -> ApiVersion:
        if self.status == "deprecated" and self.deprecated_on is None:
            raise ValueError("a deprecated version needs 'deprecated_on' (and usually 'sunset_on')")
        if self.deprecated_on and self.sunset_on and self.sunset_on <= self.deprecated_on:
            raise ValueError("'sunset_on' must come after 'deprecated_on'")
        return self


class Grpc(StrictModel):
    enabled: bool = False
    port: Port = Field(
        default=50051, description="HTTP/2 port nginx exposes with grpc_pass, behind the same key checks."
    )


class Timeouts(StrictModel):
    connect_s: PositiveFloat = 5
    read_s: PositiveFloat = Field(
        default=600,
        description="Longest gap between two bytes from the engine; long generations need minutes.",
    )
    client_body_s: PositiveFloat = 60


class Gateway(StrictModel):
    enabled: bool = True
    server_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$",
        description="Host name in the certificate and server_name; defaults to host.name.",
    )
    listen: Listen = Field(default_factory=Listen)
    tls: Tls = Field(default_factory=Tls)
    body_limit_mb: PositiveFloat = Field(
        default=8, le=1024, description="Largest request body (at most 1024); larger ones get 413."
    )
    rate_limit_tiers: list[RateLimitTier] = []
    tenants: list[Tenant] = []
    routes: list[Route] = []
    cache: ResponseCache = Field(default_factory=ResponseCache)
    api_versions: list[ApiVersion] = Field(default_factory=lambda: [ApiVersion(name="v1")])
    grpc: Grpc = Field(default_factory=Grpc)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    memory_gb: MemoryGb = Field(default=2, description="Host RAM for nginx and its response cache.")
