"""Synthetic availability: what the blackbox exporter asks the gateway, and as whom.

Two probes, both through the gateway as a client would see it: its health page (which also
reports the TLS certificate's expiry) and one tiny, uncached model call authenticated with the
key of the `hx-probe` tenant. A model call that succeeds proves the whole path: TLS, key
check, routing, rate limits, the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import addresses, components, layout
from ..spec import Spec


@dataclass(frozen=True)
class ProbePlan:
    interval_s: int
    base_url: str
    """https://<address>:<port>, or http:// when the gateway's TLS is off."""
    server_name: str
    """The name the gateway's certificate is checked against."""
    ca_file: str | None
    """The internal CA's certificate; None: the host's trust store (provided certificates)."""
    health_path: str
    call_path: str | None
    """None when the probe tenant could not be given a tier (no rate-limit tiers)."""
    call_body: str
    tenant: dict | None
    """The probe tenant's entry for the gateway's tenant table."""


def build_probe_plan(spec: Spec) -> ProbePlan | None:
    if not components.probes_enabled(spec):
        return None
    g, probes = spec.gateway, spec.monitoring.probes
    tls = g.tls.mode != "off"
    port = g.listen.https_port if tls else g.listen.http_port
    base_url = addresses.local_url("https" if tls else "http", g.listen.address, port)
    version = next(v.name for v in g.api_versions if v.status == "current")
    name, task = probe_target(spec)
    tier = g.rate_limit_tiers[0].name if g.rate_limit_tiers else None
    if task == "embed":
        path, body = "embeddings", {"model": name, "input": "hx probe"}
    else:
        path = "chat/completions"
        body = {"model": name, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "temperature": 0}
    return ProbePlan(
        interval_s=probes.interval_s,
        base_url=base_url,
        server_name=g.server_name or spec.host.name,
        ca_file=f"{layout.TLS_DIR}/ca.crt" if g.tls.mode == "internal-ca" else None,
        health_path="/healthz",
        call_path=f"/{version}/{path}" if tier else None,
        call_body=json.dumps(body, separators=(",", ":")),
        tenant={"role": "user", "tier": tier, "models": [name], "client_cert_cn": None, "daily_tokens": None}
        if tier
        else None,
    )


def probe_target(spec: Spec) -> tuple[str, str]:
    """(the name the probe sends, the task behind it) for monitoring.probes.model or the default."""
    wanted = spec.monitoring.probes.model
    for m in spec.models:
        if wanted in (None, m.name, m.public_name) and (wanted is not None or m.task == "generate"):
            return m.public_name, m.task
    for r in spec.gateway.routes:
        if wanted == r.alias:
            return r.alias, "generate"
    first = spec.models[0]  # only embedding models: call the first one
    return first.public_name, first.task
