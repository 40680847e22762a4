"""Promises that contradict themselves, and settings that are legal but probably wrong."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from .. import alerts, components
from ..diagnostics import Diagnostic, error, warning
from ..spec import Spec
from .sections import reads

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")

# Flags hx sets from the spec; passing them again in extra_args would silently fight it.
MANAGED_FLAGS = {
    "vllm": {
        "--model",
        "--served-model-name",
        "--host",
        "--port",
        "--tensor-parallel-size",
        "-tp",
        "--dtype",
        "--quantization",
        "-q",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--max-num-seqs",
        "--max-num-batched-tokens",
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
        "--revision",
        "--runner",
        "--custom-histogram-buckets",
    },
    "tgi": {
        "--model-id",
        "--revision",
        "--port",
        "--hostname",
        "--num-shard",
        "--quantize",
        "--dtype",
        "--max-total-tokens",
        "--max-input-tokens",
        "--max-concurrent-requests",
        "--max-batch-prefill-tokens",
        "--cuda-memory-fraction",
    },
}


@reads("models")
def model_slos(spec: Spec) -> Iterator[Diagnostic]:
    for i, m in enumerate(spec.models):
        slo = m.slo
        if slo is None:
            yield warning(
                "no-slo",
                "no SLO declared: nothing will alert when this model is slow or failing",
                ("models", i),
                hint="add 'slo:' with time_to_first_token, throughput_rps, ...",
            )
            continue
        ttft, e2e = slo.time_to_first_token, slo.end_to_end
        if ttft and e2e and e2e.target_ms <= ttft.target_ms:
            yield error(
                "slo-contradiction",
                f"end-to-end target {e2e.target_ms:g} ms is not above the time-to-first-token target "
                f"{ttft.target_ms:g} ms, yet every answer includes its first token",
                ("models", i, "slo", "end_to_end", "target_ms"),
            )
        if e2e and e2e.output_tokens >= m.max_model_len:
            yield error(
                "slo-contradiction",
                f"the end-to-end target is stated for {e2e.output_tokens} output tokens, but "
                f"max_model_len is {m.max_model_len}",
                ("models", i, "slo", "end_to_end", "output_tokens"),
            )
        if m.task == "embed" and ttft:
            yield error(
                "slo-contradiction",
                "embedding models produce no tokens; use end_to_end or drop it",
                ("models", i, "slo", "time_to_first_token"),
            )
        if m.engine == "tgi" and ttft:
            yield warning(
                "slo-not-measured",
                "TGI exports no time-to-first-token histogram: nothing measures or alerts on this objective",
                ("models", i, "slo", "time_to_first_token"),
                hint="serve the model with vLLM, or state the objective as end_to_end",
            )
        if m.engine == "tgi" and e2e:
            yield warning(
                "slo-estimated",
                f"TGI's latency histogram has fixed bucket bounds, none at {e2e.target_ms:g} ms: the objective is "
                f"alerted on from the p{e2e.percentile} estimate (HxModelLatencyAboveTarget), without an error budget",
                ("models", i, "slo", "end_to_end", "target_ms"),
                hint="vLLM takes the targets as bucket bounds and gets exact error-budget alerts",
            )


@reads("models")
def model_settings(spec: Spec) -> Iterator[Diagnostic]:
    for i, m in enumerate(spec.models):
        if m.source.hub and m.source.revision and not COMMIT_SHA.match(m.source.revision):
            yield warning(
                "unpinned-revision",
                f"revision '{m.source.revision}' is not a commit sha; it can move",
                ("models", i, "source", "revision"),
                hint="pin the 40-character commit sha shown on the model's 'Files' page",
            )
        if m.max_num_batched_tokens is not None and m.max_num_batched_tokens < m.max_num_seqs:
            yield error(
                "invalid-value",
                f"max_num_batched_tokens ({m.max_num_batched_tokens}) is below max_num_seqs ({m.max_num_seqs})",
                ("models", i, "max_num_batched_tokens"),
                hint="every scheduled sequence needs at least one token per step",
            )
        for j, arg in enumerate(m.extra_args):
            flag = arg.split("=", 1)[0]
            if flag in MANAGED_FLAGS[m.engine]:
                yield error(
                    "managed-flag",
                    f"'{flag}' is set by hx from the spec",
                    ("models", i, "extra_args", j),
                    hint="set the matching spec field instead of passing the flag",
                )


@reads("gateway")
def gateway(spec: Spec) -> Iterator[Diagnostic]:
    g = spec.gateway
    if not g.enabled:
        return
    current = [v.name for v in g.api_versions if v.status == "current"]
    if len(current) != 1:
        yield error(
            "api-versions",
            f"exactly one API version must be 'current' (found {len(current)})",
            ("gateway", "api_versions"),
        )
    if not g.tenants:
        yield warning(
            "no-tenants",
            "no tenants: the gateway will refuse every request",
            ("gateway",),
            hint="declare tenants, then create their keys with 'hxgen keys create --tenant NAME'",
        )
    if g.tls.mode == "off" and not _is_loopback(g.listen.address):
        yield warning(
            "cleartext-keys",
            f"TLS is off while listening on {g.listen.address}: API keys cross the network in clear text",
            ("gateway", "tls", "mode"),
            hint="use 'mode: internal-ca', or listen on 127.0.0.1 only",
        )
    for i, tenant in enumerate(g.tenants):
        if tenant.client_cert_cn and not (g.tls.mode != "off" and g.tls.client_ca_file):
            yield error(
                "mtls-without-ca",
                "a client certificate can only authenticate when the gateway verifies client certificates",
                ("gateway", "tenants", i, "client_cert_cn"),
                hint="set gateway.tls.client_ca_file to the CA that signs your service clients' certificates",
            )
    cns = [t.client_cert_cn for t in g.tenants if t.client_cert_cn]
    for i, tenant in enumerate(g.tenants):
        if tenant.client_cert_cn and cns.count(tenant.client_cert_cn) > 1:
            yield error(
                "duplicate-name",
                f"client certificate name '{tenant.client_cert_cn}' belongs to more than one tenant",
                ("gateway", "tenants", i, "client_cert_cn"),
            )
    if g.cache.enabled and g.cache.size_mb / 1024 > g.memory_gb:
        yield error(
            "invalid-value",
            f"the response cache ({g.cache.size_mb} MB) is larger than the gateway's "
            f"memory budget ({g.memory_gb:g} GB)",
            ("gateway", "cache", "size_mb"),
        )


@reads("models", "gateway")
def grpc_models(spec: Spec) -> Iterator[Diagnostic]:
    """A model served over gRPC needs vLLM, its own gRPC port, and the gateway's gRPC listener."""
    g = spec.gateway
    for i, m in enumerate(spec.models):
        if m.protocol == "http":
            if m.grpc_port is not None:
                yield error(
                    "grpc-port-unused",
                    "grpc_port is only used with protocol: grpc; this model serves the HTTP API",
                    ("models", i, "grpc_port"),
                    hint="set 'protocol: grpc', or remove grpc_port",
                )
            continue
        if m.engine != "vllm":
            yield error(
                "grpc-unsupported",
                f"the {m.engine} engine has no gRPC serving mode; only vLLM serves gRPC",
                ("models", i, "protocol"),
                hint="serve the model with engine: vllm, or use protocol: http",
            )
        if m.task != "generate":
            yield error(
                "grpc-unsupported",
                "only generation models are served over gRPC; embeddings use the HTTP API",
                ("models", i, "protocol"),
                hint="use protocol: http for embedding models",
            )
        if m.grpc_port is None:
            yield error(
                "missing-grpc-port",
                "a model served over gRPC needs grpc_port (its port keeps /health and /metrics)",
                ("models", i, "protocol"),
                hint="add 'grpc_port:' with a free loopback port",
            )
        if g.enabled and not g.grpc.enabled:
            yield error(
                "grpc-listener-off",
                "this model is served over gRPC, but the gateway's gRPC listener is off: no client can reach it",
                ("models", i, "protocol"),
                hint="set gateway.grpc.enabled: true",
            )
        for j, r in enumerate(g.routes):
            if any(t.model in (m.name, m.public_name) for t in r.split):
                yield error(
                    "grpc-in-route",
                    f"route '{r.alias}' sends HTTP requests to '{m.name}', which is served over gRPC",
                    ("gateway", "routes", j, "alias"),
                    hint="routes split HTTP traffic; give gRPC clients the model's own name",
                )
    if g.enabled and g.grpc.enabled and not any(m.protocol == "grpc" for m in spec.models):
        yield warning(
            "grpc-no-models",
            "the gateway's gRPC listener is on, but no model is served over gRPC: it refuses every call",
            ("gateway", "grpc", "enabled"),
            hint="set 'protocol: grpc' (and grpc_port) on a vLLM model, or leave grpc.enabled false",
        )


@reads(*components.READS)
def quotas(spec: Spec) -> Iterator[Diagnostic]:
    """Token quotas are counted by usage accounting (hx-usage); without it nothing counts them."""
    if "usage" in components.enabled_roles(spec):
        return
    g = spec.gateway
    why = usage_missing(spec)
    places = [("rate_limit_tiers", i) for i, t in enumerate(g.rate_limit_tiers) if t.daily_tokens is not None]
    places += [("tenants", i) for i, t in enumerate(g.tenants) if t.daily_tokens is not None]
    for section, i in places:
        yield error(
            "quota-without-usage",
            f"a daily token quota needs usage accounting, which is off: {why}",
            ("gateway", section, i, "daily_tokens"),
            hint="turn usage accounting on (it needs the gateway and databases.postgres), or remove daily_tokens",
        )


def usage_missing(spec: Spec) -> str:
    if not spec.usage.enabled:
        return "usage.enabled is false"
    if not spec.databases.postgres.enabled:
        return "databases.postgres.enabled is false"
    return "gateway.enabled is false"


@reads("monitoring")
def monitoring(spec: Spec) -> Iterator[Diagnostic]:
    mon = spec.monitoring
    if not mon.receivers:
        yield warning(
            "no-receivers",
            "alerts have no receiver: nobody is paged",
            ("monitoring",),
            hint="declare monitoring.receivers (webhook, email, slack or pagerduty)",
        )
    if mon.evaluation_interval_s and mon.evaluation_interval_s < mon.scrape_interval_s:
        yield warning(
            "evaluation-interval",
            "rules evaluated more often than series are scraped see no new data",
            ("monitoring", "evaluation_interval_s"),
        )
    for i, rule in enumerate(mon.extra_rules):
        if rule.alert in alerts.GENERATED:
            yield error(
                "reserved-name",
                f"hx generates an alert named '{rule.alert}'; a second one would be indistinguishable",
                ("monitoring", "extra_rules", i, "alert"),
                hint="give the rule a name of its own (e.g. a team prefix)",
            )
        if problem := alerts.unbalanced(rule.expr):
            yield error(
                "invalid-promql",
                f"the expression does not parse: {problem}",
                ("monitoring", "extra_rules", i, "expr"),
                hint="check it with `promtool check rules` or in the Prometheus UI",
            )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


CHECKS = (model_slos, model_settings, gateway, grpc_models, quotas, monitoring)
