"""Recording rules that turn each engine's metrics into engine-independent `hx:` series per model.

Dashboards and alerts read only `hx:model_*` series. Each one is the union (`or`) of the same
quantity in every dialect hx knows: vLLM's current names, the names older vLLM releases used,
and TGI's. A model runs one engine, so exactly one dialect answers for it, and an engine upgrade
or a mixed host changes nothing downstream. Series are aggregated by the `model` label that the
scrape configuration puts on every model target (the hx name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..plan import Plan
from . import promql
from .common import RENDERED_DIR, Artifact, yaml_text

WINDOW = "5m"
QUANTILES = (0.5, 0.95, 0.99)
# The engines' own request handlers; health and metrics requests do not count.
VLLM_API = 'handler=~"/v1/.+"'


@dataclass(frozen=True)
class Series:
    record: str
    help: str
    sources: tuple[str, ...]
    """One PromQL expression per engine dialect, all aggregated `by (model)`."""

    def expr(self) -> str:
        return promql.union(self.sources)


def _rate(metric: str) -> str:
    return promql.rate(metric, WINDOW)


def _ratio(numerator: str, denominator: str) -> str:
    return promql.ratio(numerator, denominator, WINDOW)


def _quantile(q: float, bucket: str) -> str:
    return promql.quantile(q, bucket, WINDOW)


_gauge = promql.gauge


def server_errors(window: str) -> tuple[str, ...]:
    """Share of API requests that failed on the server's side, per model, in each dialect."""
    return (
        promql.ratio(f'http_requests_total{{{VLLM_API},status="5xx"}}', f"http_requests_total{{{VLLM_API}}}", window),
        promql.ratio("tgi_request_failure", "tgi_request_count", window),
    )


def model_series() -> list[Series]:
    series = [
        Series(
            f"hx:model_requests:rate{WINDOW}",
            "Requests finished per second (any outcome).",
            (_rate("vllm:request_success_total"), _rate("tgi_request_count")),
        ),
        Series(
            f"hx:model_request_errors:ratio_rate{WINDOW}",
            "Share of API requests that failed on the server's side (5xx).",
            server_errors(WINDOW),
        ),
    ]
    for q in QUANTILES:
        p = f"p{round(q * 100)}"
        series.append(
            Series(
                f"hx:model_ttft_seconds:{p}_{WINDOW}",
                f"Time to first token, {p} (vLLM; TGI exports no such histogram).",
                (_quantile(q, "vllm:time_to_first_token_seconds_bucket"),),
            )
        )
    for q in QUANTILES:
        p = f"p{round(q * 100)}"
        series.append(
            Series(
                f"hx:model_e2e_seconds:{p}_{WINDOW}",
                f"End-to-end request latency, {p}.",
                (
                    _quantile(q, "vllm:e2e_request_latency_seconds_bucket"),
                    _quantile(q, "tgi_request_duration_bucket"),
                ),
            )
        )
    series += [
        Series(
            f"hx:model_prompt_tokens:rate{WINDOW}",
            "Prompt tokens processed per second.",
            (_rate("vllm:prompt_tokens_total"), _rate("tgi_request_input_length_sum")),
        ),
        Series(
            f"hx:model_generation_tokens:rate{WINDOW}",
            "Tokens generated per second.",
            (_rate("vllm:generation_tokens_total"), _rate("tgi_request_generated_tokens_sum")),
        ),
        Series(
            "hx:model_kv_cache_usage:ratio",
            "Share of the KV cache in use, 0 to 1 (vLLM; older releases called it gpu_cache_usage_perc).",
            (_gauge("vllm:kv_cache_usage_perc", "max"), _gauge("vllm:gpu_cache_usage_perc", "max")),
        ),
        Series(
            "hx:model_queue_depth",
            "Requests waiting for a batch slot.",
            (_gauge("vllm:num_requests_waiting"), _gauge("tgi_queue_size")),
        ),
        Series(
            "hx:model_running_requests",
            "Requests in the running batch.",
            (_gauge("vllm:num_requests_running"), _gauge("tgi_batch_current_size")),
        ),
        Series(
            f"hx:model_prefix_cache_hits:ratio_rate{WINDOW}",
            "Share of prompt tokens found in the prefix cache (vLLM; older releases prefixed gpu_).",
            (
                _ratio("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"),
                _ratio("vllm:gpu_prefix_cache_hits_total", "vllm:gpu_prefix_cache_queries_total"),
            ),
        ),
        Series(
            f"hx:model_preemptions:rate{WINDOW}",
            "Sequences preempted per second for lack of KV cache (vLLM).",
            (_rate("vllm:num_preemptions_total"),),
        ),
    ]
    return series


def rule_groups(plan: Plan) -> dict[str, Any]:
    interval = plan.monitoring.evaluation_interval_s
    return {
        "groups": [
            {
                "name": "hx-models",
                "interval": f"{interval}s",
                "rules": [{"record": s.record, "expr": s.expr()} for s in model_series()],
            }
        ]
    }


def render(plan: Plan) -> list[Artifact]:
    if not plan.models:
        return []
    return [Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-models.yml", yaml_text(rule_groups(plan), plan.spec_file))]
