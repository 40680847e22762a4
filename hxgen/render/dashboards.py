"""Grafana dashboards and their Prometheus datasource, built as data from the plan.

Panels read the engine-independent `hx:` series (recording_rules.py and the SLO and cost rules)
and the exporters' own metrics. Every panel and query names the datasource by its fixed uid, so a
dashboard does not depend on what Grafana calls the datasource. Panel ids and positions come from
`grafana.Grid`; nothing here is a copied JSON blob. The same queries are checked by promtool in
the tests and evaluated against the sandbox's Prometheus by Molecule, through `grafana.queries`
and `grafana.concrete`.
"""

from __future__ import annotations

from typing import Any

from .. import layout
from ..contracts import control as control_contract
from ..plan import ModelService, Plan
from . import predictive_rules, usage_rules
from .common import RENDERED_DIR, Artifact, yaml_text
from .grafana import (
    DATASOURCE_UID,
    WIDTH,
    Grid,
    above,
    bar_gauge,
    below,
    dashboard,
    stat,
    table,
    timeseries,
    up_stat,
)
from .json_emitter import json_text

DASHBOARDS_DIR = f"{RENDERED_DIR}/grafana/dashboards"
DATASOURCE_FILE = f"{RENDERED_DIR}/grafana/datasources/prometheus.yml"

UID_MODELS = "hx-model-performance"
UID_RESOURCES = "hx-resources"
UID_INTEGRATIONS = "hx-integrations"
UID_BUSINESS = "hx-business"

# Panel titles that tests look panels up by.
TITLE_REQUESTS = "Requests per second"
TITLE_TTFT = "Time to first token"
TITLE_E2E = "End-to-end latency"
TITLE_QUEUE = "Waiting and running requests"
TITLE_CPU = "CPU busy"
TITLE_MEMORY = "Memory used"
GPU_ROW_PREFIX = "GPU "
PREDICTIONS_ROW = "Predictions (hx-analytics)"
CANARY_ROW = "Canary rollouts"


QUANTILES = ("p50", "p95", "p99")
RATE = "$__rate_interval"


# Grafana's own currency units; any other ISO code is shown as a suffix.
_CURRENCY_UNITS = {
    "USD": "currencyUSD",
    "EUR": "currencyEUR",
    "GBP": "currencyGBP",
    "JPY": "currencyJPY",
    "CHF": "currencyCHF",
}


def render(plan: Plan) -> list[Artifact]:
    if not plan.monitoring.dashboards:
        return []
    artifacts = [Artifact(DATASOURCE_FILE, yaml_text(datasources(plan), plan.spec_file))]
    for board in build_dashboards(plan):
        artifacts.append(Artifact(f"{DASHBOARDS_DIR}/{board['uid']}.json", dashboard_text(board)))
    return artifacts


def dashboard_text(board: dict[str, Any]) -> str:
    return json_text(board)


def build_dashboards(plan: Plan) -> list[dict[str, Any]]:
    return [model_performance(plan), resources(plan), integrations(plan), business(plan)]


def datasources(plan: Plan) -> dict[str, Any]:
    mon = plan.monitoring
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (hx)",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": f"http://{layout.ENGINE_BIND_ADDRESS}:{mon.prometheus_port}",
                "isDefault": True,
                "editable": False,
                # Grafana's $__rate_interval is computed from this; it must match the scrape.
                "jsonData": {"timeInterval": f"{mon.scrape_interval_s}s", "httpMethod": "POST"},
            }
        ],
    }


def _rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{selector}}}[{RATE}])"


def _p95(bucket: str, selector: str) -> str:
    return f"histogram_quantile(0.95, sum by (le) ({_rate(bucket, selector)}))"


# --- 1. Model performance ------------------------------------------------------------------------


def _has_ttft(m: ModelService) -> bool:
    # TGI exports no time-to-first-token histogram; an embedding request has no first token.
    return m.engine == "vllm" and m.task == "generate"


def model_performance(plan: Plan) -> dict[str, Any]:
    grid = Grid()
    grid.add(
        timeseries(
            f"{TITLE_REQUESTS}, all models",
            "Requests each engine finished per second, any outcome (hx:model_requests:rate5m).",
            [("hx:model_requests:rate5m", "{{model}}")],
            "reqps",
            stack=True,
        ),
        w=12,
    )
    grid.add(
        timeseries(
            "p95 end-to-end latency, all models",
            "Engine-side request latency, p95 over 5 minutes (hx:model_e2e_seconds:p95_5m).",
            [("hx:model_e2e_seconds:p95_5m", "{{model}}")],
            "s",
        ),
        w=12,
    )
    if plan.canaries:
        _canary_section(grid, plan)
    for i, m in enumerate(plan.models):
        grid.row(f"{m.name} {m.version} ({m.engine}, {m.task}, served as {m.served_name})", collapsed=i > 0)
        for panel in model_panels(m, max_num_seqs=m.max_num_seqs, prefix_caching=m.prefix_caching):
            grid.add(panel)
    return dashboard(
        plan,
        UID_MODELS,
        "hx / Model performance",
        "Per model: traffic, latency against its SLO, engine queue and caches, error budget.",
        grid,
    )


def _canary_section(grid: Grid, plan: Plan) -> None:
    """What hx-control's rollouts did and what their gates saw (docs/canary.md)."""
    grid.row(CANARY_ROW)
    for c in plan.canaries:
        sel = f'route="{c.route}"'
        grid.add(
            timeseries(
                f"{c.route}: weight of {c.canary.name} {c.canary.version}",
                "The canary's live weight (hx_control_rollout_canary_weight): each step, and 0 after a rollback.",
                [(f"{control_contract.ROLLOUT_CANARY_WEIGHT_METRIC}{{{sel}}}", "{{canary}}")],
                "percent",
                maximum=100,
            ),
            w=8,
        )
        grid.add(
            timeseries(
                f"{c.route}: error ratio, canary against stable",
                f"Share of the requests the weights sent to each side that it failed, over {c.window_s} s "
                "(hx:canary_errors:ratio; a failed canary request may have been answered by the stable variant).",
                [(f"{control_contract.CANARY_ERRORS_SERIES}{{{sel}}}", "{{role}}")],
                "percentunit",
            ),
            w=8,
        )
        grid.add(
            timeseries(
                f"{c.route}: failing checks of the gate",
                "1 while a check fails (hx:canary_gate:failing); hx-control rolls back after "
                f"{c.failed_checks} failed checks in a row.",
                [(f"{control_contract.GATE_SERIES}{{{sel}}}", "{{check}}")],
                "short",
                maximum=1,
            ),
            w=8,
        )


def model_panels(m: ModelService, *, max_num_seqs: int, prefix_caching: bool) -> list[dict[str, Any]]:
    sel = f'{{model="{m.name}"}}'
    slo = m.slo
    vllm = m.engine == "vllm"
    result = [
        timeseries(
            TITLE_REQUESTS,
            "Requests the engine finished per second, any outcome (hx:model_requests:rate5m)."
            + (f" Throughput target: {slo.throughput_rps:g} req/s." if slo.throughput_rps else ""),
            [(f"hx:model_requests:rate5m{sel}", "requests")],
            "reqps",
        ),
        timeseries(
            "Server errors",
            "Share of API requests that failed on the engine's side, 5xx "
            f"(hx:model_request_errors:ratio_rate5m). Dashed line: the tolerated {slo.error_rate_percent:g} %.",
            [(f"hx:model_request_errors:ratio_rate5m{sel}", "errors")],
            "percentunit",
            thresholds=above(slo.error_rate_percent / 100),
        ),
    ]
    if _has_ttft(m):
        target = (
            f" SLO: p{slo.ttft_percentile} under {slo.ttft_ms:g} ms (dashed line)." if slo.ttft_ms is not None else ""
        )
        result.append(
            timeseries(
                TITLE_TTFT,
                f"Time until the first token is streamed, p50/p95/p99 over 5 minutes.{target}",
                [(f"hx:model_ttft_seconds:{p}_5m{sel}", p) for p in QUANTILES],
                "s",
                thresholds=above(slo.ttft_ms / 1000) if slo.ttft_ms is not None else None,
            )
        )
    target = (
        f" SLO: p{slo.e2e_percentile} under {slo.e2e_ms:g} ms for {slo.e2e_output_tokens} output tokens (dashed line)."
        if slo.e2e_ms is not None
        else ""
    )
    result += [
        timeseries(
            TITLE_E2E,
            f"Engine-side request latency, p50/p95/p99 over 5 minutes.{target}",
            [(f"hx:model_e2e_seconds:{p}_5m{sel}", p) for p in QUANTILES],
            "s",
            thresholds=above(slo.e2e_ms / 1000) if slo.e2e_ms is not None else None,
        ),
        timeseries(
            "Tokens per second",
            "Prompt tokens processed and tokens generated per second "
            "(hx:model_prompt_tokens:rate5m, hx:model_generation_tokens:rate5m).",
            [
                (f"hx:model_prompt_tokens:rate5m{sel}", "prompt"),
                (f"hx:model_generation_tokens:rate5m{sel}", "generated"),
            ],
            "suffix: tok/s",
            stack=True,
        ),
        timeseries(
            TITLE_QUEUE,
            "Requests waiting for a batch slot (hx:model_queue_depth) and in the running batch "
            "(hx:model_running_requests)." + (f" Dashed line: max_num_seqs ({max_num_seqs})." if vllm else ""),
            [(f"hx:model_queue_depth{sel}", "waiting"), (f"hx:model_running_requests{sel}", "running")],
            "short",
            thresholds=above(max_num_seqs, "orange") if vllm else None,
        ),
    ]
    if vllm:
        result.append(
            timeseries(
                "KV cache used",
                "Share of the engine's KV cache in use (hx:model_kv_cache_usage:ratio); near 100 % the engine "
                "preempts sequences.",
                [(f"hx:model_kv_cache_usage:ratio{sel}", "KV cache")],
                "percentunit",
                maximum=1,
            )
        )
        if prefix_caching:
            result.append(
                timeseries(
                    "Prefix cache hits",
                    "Share of prompt tokens found in the prefix cache (hx:model_prefix_cache_hits:ratio_rate5m).",
                    [(f"hx:model_prefix_cache_hits:ratio_rate5m{sel}", "hit ratio")],
                    "percentunit",
                    maximum=1,
                )
            )
        result.append(
            timeseries(
                "Preemptions per second",
                "Sequences preempted for lack of KV cache (hx:model_preemptions:rate5m); they are recomputed "
                "later and add latency.",
                [(f"hx:model_preemptions:rate5m{sel}", "preemptions")],
                "short",
            )
        )
    result += [
        timeseries(
            "Error budget remaining",
            f"Share of each SLO's error budget left in its {slo.window_days}-day window "
            "(hx:slo_period_error_budget_remaining:ratio); below 0 the SLO is missed.",
            [(f"hx:slo_period_error_budget_remaining:ratio{sel}", "{{slo}}")],
            "percentunit",
            minimum=None,
            thresholds=below(0),
        ),
        timeseries(
            "Error budget burn rate",
            "How fast each SLO spends its budget now (hx:slo_current_burn_rate:ratio); at 1 (dashed line) the "
            "budget lasts exactly the window.",
            [(f"hx:slo_current_burn_rate:ratio{sel}", "{{slo}}")],
            "short",
            thresholds=above(1, "orange"),
        ),
    ]
    return result


# --- 2. Resource utilisation ---------------------------------------------------------------------


def resources(plan: Plan) -> dict[str, Any]:
    targets = plan.targets
    node = 'job="node"'
    fs = f'{node},fstype!~"tmpfs|ramfs"'
    net = f'{node},device!="lo"'
    grid = Grid()
    grid.row("Host (node_exporter)")
    grid.add(
        timeseries(
            TITLE_CPU,
            "Share of CPU time not idle, averaged over all cores, and the share waiting for I/O "
            f"(node_cpu_seconds_total). Dashed line: targets.cpu_max_percent ({targets.cpu_max_percent:g} %).",
            [
                (f'1 - avg(rate(node_cpu_seconds_total{{{node},mode="idle"}}[{RATE}]))', "busy"),
                (f'avg(rate(node_cpu_seconds_total{{{node},mode="iowait"}}[{RATE}]))', "iowait"),
            ],
            "percentunit",
            maximum=1,
            thresholds=above(targets.cpu_max_percent / 100),
        )
    )
    grid.add(
        timeseries(
            TITLE_MEMORY,
            "Share of RAM not available to new allocations (1 - MemAvailable / MemTotal). Dashed line: "
            f"targets.memory_max_percent ({targets.memory_max_percent:g} %).",
            [(f"1 - node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}}", "used")],
            "percentunit",
            maximum=1,
            thresholds=above(targets.memory_max_percent / 100),
        )
    )
    grid.add(
        timeseries(
            "Disk space used",
            "Share of each file system in use (node_filesystem_avail_bytes / node_filesystem_size_bytes).",
            [(f"1 - node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}}", "{{mountpoint}}")],
            "percentunit",
            maximum=1,
        )
    )
    grid.add(
        timeseries(
            "Disk throughput",
            "Bytes read and written per second per block device (node_disk_read_bytes_total, "
            "node_disk_written_bytes_total).",
            [
                (f"rate(node_disk_read_bytes_total{{{node}}}[{RATE}])", "{{device}} read"),
                (f"rate(node_disk_written_bytes_total{{{node}}}[{RATE}])", "{{device}} written"),
            ],
            "Bps",
        )
    )
    grid.add(
        timeseries(
            "Disk busy",
            "Share of time each block device had I/O in progress (node_disk_io_time_seconds_total).",
            [(f"rate(node_disk_io_time_seconds_total{{{node}}}[{RATE}])", "{{device}}")],
            "percentunit",
            maximum=1,
        )
    )
    grid.add(
        timeseries(
            "Network throughput",
            "Bytes received and sent per second per interface, loopback excluded "
            "(node_network_receive_bytes_total, node_network_transmit_bytes_total).",
            [
                (f"rate(node_network_receive_bytes_total{{{net}}}[{RATE}])", "{{device}} in"),
                (f"rate(node_network_transmit_bytes_total{{{net}}}[{RATE}])", "{{device}} out"),
            ],
            "Bps",
        )
    )
    grid.add(
        timeseries(
            "Network errors and drops",
            "Packets per second with errors or dropped, per interface (node_network_*_errs_total, "
            "node_network_*_drop_total).",
            [
                (f"rate(node_network_receive_errs_total{{{net}}}[{RATE}])", "{{device}} receive errors"),
                (f"rate(node_network_transmit_errs_total{{{net}}}[{RATE}])", "{{device}} transmit errors"),
                (f"rate(node_network_receive_drop_total{{{net}}}[{RATE}])", "{{device}} receive drops"),
                (f"rate(node_network_transmit_drop_total{{{net}}}[{RATE}])", "{{device}} transmit drops"),
            ],
            "pps",
        )
    )
    if plan.any_gpu_host:
        for host, gpu in plan.gpus:
            on_it = [m.name for m in plan.models if m.host == host.name and gpu.index in m.gpus]
            grid.row(f"{GPU_ROW_PREFIX}{gpu.index} ({gpu.model}): {', '.join(on_it) or 'no model'}")
            for panel in gpu_panels(gpu.index, targets.gpu_max_percent):
                grid.add(panel, w=6)
    if plan.analytics is not None:
        grid.row(PREDICTIONS_ROW)
        for panel in prediction_panels():
            grid.add(panel, w=6)
    return dashboard(
        plan,
        UID_RESOURCES,
        "hx / Resource utilisation",
        "CPU, memory, disks and network of the host" + (" and each GPU (DCGM exporter)." if plan.any_gpu_host else "."),
        grid,
    )


def prediction_panels() -> list[dict[str, Any]]:
    member = "{{series}} {{model}}{{resource}}"
    return [
        timeseries(
            "Time until a resource is exhausted",
            "When hx-analytics' forecast reaches each limited series' limit (KV cache 95 %, GPU memory, "
            "disk); no line while it stays below it within the longest horizon (hx_capacity_exhaustion_seconds).",
            [("hx_capacity_exhaustion_seconds < +Inf", member)],
            "s",
        ),
        timeseries(
            "Anomaly scores",
            "How unusual each series' latest value is, 0 to 1 (hx_anomaly_score). Dashed line: the score "
            "HxAnomalySustained needs for most of its window.",
            [("hx_anomaly_score", member)],
            "percentunit",
            maximum=1,
            thresholds=above(predictive_rules.SUSTAINED_SCORE),
        ),
        timeseries(
            "Request rate forecast",
            "Each model's forecast request rate at every horizon (hx_forecast, bound=forecast), beside "
            "its current rate (hx:model_requests:rate5m).",
            [
                ('hx_forecast{series="request-rate",bound="forecast"}', "{{model}} in {{horizon}}"),
                ("hx:model_requests:rate5m", "{{model}} now"),
            ],
            "reqps",
        ),
        timeseries(
            "hx-analytics",
            "Wall time of the service's last cycle (hx_analytics_cycle_duration_seconds); it should stay "
            "well below the interval. Failed cycles per minute mean Prometheus did not answer.",
            [
                ("hx_analytics_cycle_duration_seconds", "cycle"),
                (f'rate(hx_analytics_cycles_total{{outcome="failed"}}[{RATE}]) * 60', "failed cycles per minute"),
            ],
            "s",
        ),
    ]


def gpu_panels(index: int, gpu_max_percent: float) -> list[dict[str, Any]]:
    sel = f'{{gpu="{index}"}}'
    return [
        timeseries(
            "GPU utilisation",
            "Share of time a kernel was running (DCGM_FI_DEV_GPU_UTIL). Dashed line: targets.gpu_max_percent "
            f"({gpu_max_percent:g} %).",
            [(f"DCGM_FI_DEV_GPU_UTIL{sel}", "utilisation")],
            "percent",
            maximum=100,
            thresholds=above(gpu_max_percent),
        ),
        timeseries(
            "GPU memory used",
            "Share of framebuffer memory in use (DCGM_FI_DEV_FB_USED / (FB_USED + FB_FREE)); vLLM reserves "
            "gpu_memory_utilization of it at start.",
            [(f"DCGM_FI_DEV_FB_USED{sel} / (DCGM_FI_DEV_FB_USED{sel} + DCGM_FI_DEV_FB_FREE{sel})", "used")],
            "percentunit",
            maximum=1,
        ),
        timeseries(
            "GPU power",
            "Power draw (DCGM_FI_DEV_POWER_USAGE).",
            [(f"DCGM_FI_DEV_POWER_USAGE{sel}", "power")],
            "watt",
        ),
        timeseries(
            "GPU temperature",
            "Core temperature (DCGM_FI_DEV_GPU_TEMP).",
            [(f"DCGM_FI_DEV_GPU_TEMP{sel}", "temperature")],
            "celsius",
        ),
    ]


# --- 3. Integration health -----------------------------------------------------------------------


def integrations(plan: Plan) -> dict[str, Any]:
    grid = Grid()
    grid.row("Scrape targets")
    grid.add(
        up_stat(
            "Targets up",
            "Whether Prometheus reached each job's targets at the last scrape (up, lowest per job).",
            "min by (job) (up)",
            "{{job}}",
        ),
        w=WIDTH,
        h=4,
    )
    if plan.gateway is not None:
        _gateway_section(grid)
    db = plan.databases
    if db.postgres is not None:
        databases = "|".join(d.name for d in db.postgres.databases)
        _postgres_section(grid, databases)
        _statements_section(grid)
        if db.pgbouncer is not None:
            _pgbouncer_section(grid, databases, plan.targets.sql_latency_ms)
    if db.qdrant is not None:
        _qdrant_section(grid, plan.targets.vector_search_ms)
    if plan.usage is not None:  # last, so that the sections above keep their panel ids
        _usage_section(grid, plan)
    return dashboard(
        plan,
        UID_INTEGRATIONS,
        "hx / Integration health",
        "The gateway, databases and scrape targets around the models, from their exporters.",
        grid,
    )


def _gateway_section(grid: Grid) -> None:
    sel = 'job="nginx"'
    grid.row("Gateway (nginx, prometheus-nginx-exporter)")
    grid.add(
        up_stat(
            "nginx status page",
            "Whether the exporter could read nginx's stub_status (nginx_up).",
            f"nginx_up{{{sel}}}",
            "nginx",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Gateway requests per second",
            "Requests nginx handled per second, every status (nginx_http_requests_total; stub_status has no "
            "status codes or per-model counts).",
            [(f"sum(rate(nginx_http_requests_total{{{sel}}}[{RATE}]))", "requests")],
            "reqps",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Gateway connections",
            "Client connections by state (nginx_connections_active/reading/writing/waiting).",
            [(f"nginx_connections_{state}{{{sel}}}", state) for state in ("active", "reading", "writing", "waiting")],
            "short",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Dropped connections",
            "Connections accepted but not handled per second, e.g. at worker_connections "
            "(nginx_connections_accepted - nginx_connections_handled).",
            [(f"{_rate('nginx_connections_accepted', sel)} - {_rate('nginx_connections_handled', sel)}", "dropped")],
            "short",
        ),
        w=6,
    )


def _postgres_section(grid: Grid, databases: str) -> None:
    job = 'job="postgres"'
    sel = f'{job},datname=~"{databases}"'
    grid.row("PostgreSQL (prometheus-postgres-exporter)")
    grid.add(
        up_stat(
            "PostgreSQL up",
            "Whether the exporter could connect to PostgreSQL (pg_up).",
            f"pg_up{{{job}}}",
            "up",
        ),
        w=4,
    )
    grid.add(
        timeseries(
            "Connections",
            "Backends connected to each hx database (pg_stat_database_numbackends), all backends, and "
            "max_connections (pg_settings_max_connections).",
            [
                (f"sum by (datname) (pg_stat_database_numbackends{{{sel}}})", "{{datname}}"),
                (f"sum(pg_stat_database_numbackends{{{job}}})", "all databases"),
                (f"pg_settings_max_connections{{{job}}}", "max_connections"),
            ],
            "short",
        ),
        w=5,
    )
    grid.add(
        timeseries(
            "Transactions per second",
            "Commits and rollbacks per database (pg_stat_database_xact_commit, pg_stat_database_xact_rollback).",
            [
                (f"sum by (datname) (rate(pg_stat_database_xact_commit{{{sel}}}[{RATE}]))", "{{datname}} commit"),
                (f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{sel}}}[{RATE}]))", "{{datname}} rollback"),
            ],
            "ops",
        ),
        w=5,
    )
    hit = f"sum by (datname) (rate(pg_stat_database_blks_hit{{{sel}}}[{RATE}]))"
    read = f"sum by (datname) (rate(pg_stat_database_blks_read{{{sel}}}[{RATE}]))"
    grid.add(
        timeseries(
            "Buffer cache hit ratio",
            "Share of block reads served from shared buffers (pg_stat_database_blks_hit, _blks_read).",
            [(f"{hit} / ({hit} + {read} > 0)", "{{datname}}")],
            "percentunit",
            maximum=1,
        ),
        w=5,
    )
    grid.add(
        timeseries(
            "Database size",
            "Size on disk per database (pg_database_size_bytes).",
            [(f"pg_database_size_bytes{{{sel}}}", "{{datname}}")],
            "bytes",
        ),
        w=5,
    )


def _pgbouncer_section(grid: Grid, databases: str, sql_latency_ms: float) -> None:
    job = 'job="pgbouncer"'
    sel = f'{job},database=~"{databases}"'
    requests = f"rate(pgbouncer_requests_total{{{sel}}}[{RATE}])"
    grid.row("PgBouncer (prometheus-pgbouncer-exporter)")
    grid.add(
        timeseries(
            "Client connections",
            "Clients linked to a server connection (pgbouncer_active_clients) and clients that sent a query "
            "and wait for one (pgbouncer_waiting_clients), per database; waiting clients mean the pool is "
            "too small.",
            [
                (f"sum by (database) (pgbouncer_active_clients{{{sel}}})", "{{database}} active"),
                (f"sum by (database) (pgbouncer_waiting_clients{{{sel}}})", "{{database}} waiting"),
            ],
            "short",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Server connections and pool size",
            "Server connections PgBouncer holds, all pools (pgbouncer_used_servers), against the sum of the "
            "pool sizes of the hx databases (pgbouncer_pool_size). The exporter has no per-pool count of "
            "active server connections.",
            [
                (f"pgbouncer_used_servers{{{job}}}", "server connections"),
                (f"sum(pgbouncer_pool_size{{{sel}}})", "pool size"),
            ],
            "short",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Queries per second",
            "Queries pooled per second per database (pgbouncer_requests_total).",
            [(requests, "{{database}}")],
            "ops",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Average query time",
            "Time connected to PostgreSQL per query, mean per database (pgbouncer_query_microseconds_total / "
            f"pgbouncer_requests_total). Dashed line: targets.sql_latency_ms ({sql_latency_ms:g} ms, a p95; "
            "the exporter gives totals only).",
            [(f"rate(pgbouncer_query_microseconds_total{{{sel}}}[{RATE}]) / 1e6 / ({requests} > 0)", "{{database}}")],
            "s",
            thresholds=above(sql_latency_ms / 1000),
        ),
        w=6,
    )


def _qdrant_section(grid: Grid, vector_search_ms: float) -> None:
    job = 'job="qdrant"'
    rest_search = f'{job},endpoint=~".*/points/(search|query).*"'
    grpc_search = f'{job},endpoint=~"/qdrant.Points/(Search|Query).*"'
    grid.row("Qdrant")
    grid.add(
        timeseries(
            "Qdrant responses per second",
            "REST responses by status (rest_responses_total) and gRPC responses (grpc_responses_total).",
            [
                (f"sum by (status) (rate(rest_responses_total{{{job}}}[{RATE}]))", "REST {{status}}"),
                (f"sum(rate(grpc_responses_total{{{job}}}[{RATE}]))", "gRPC"),
            ],
            "reqps",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Qdrant failed responses",
            "Failed responses per second (rest_responses_fail_total, grpc_responses_fail_total).",
            [
                (f"sum(rate(rest_responses_fail_total{{{job}}}[{RATE}]))", "REST"),
                (f"sum(rate(grpc_responses_fail_total{{{job}}}[{RATE}]))", "gRPC"),
            ],
            "reqps",
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Vector search latency, p95",
            "p95 of search and query requests (rest_responses_duration_seconds, grpc_responses_duration_seconds). "
            f"Dashed line: targets.vector_search_ms ({vector_search_ms:g} ms).",
            [
                (
                    _p95("rest_responses_duration_seconds_bucket", rest_search),
                    "REST",
                ),
                (
                    _p95("grpc_responses_duration_seconds_bucket", grpc_search),
                    "gRPC",
                ),
            ],
            "s",
            thresholds=above(vector_search_ms / 1000),
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Vectors stored",
            "Vectors in all collections (collections_vector_total).",
            [(f"collections_vector_total{{{job}}}", "vectors")],
            "short",
        ),
        w=6,
    )


# --- 4. Business ---------------------------------------------------------------------------------


def business(plan: Plan) -> dict[str, Any]:
    grid = Grid()
    grid.row("Usage")
    grid.add(
        timeseries(
            "Requests per second by model",
            "Requests each model finished per second (hx:model_requests:rate5m).",
            [("hx:model_requests:rate5m", "{{model}}")],
            "reqps",
            stack=True,
        )
    )
    grid.add(
        timeseries(
            "Tokens per second by model",
            "Prompt tokens processed and tokens generated per second "
            "(hx:model_prompt_tokens:rate5m, hx:model_generation_tokens:rate5m).",
            [
                ("hx:model_prompt_tokens:rate5m", "{{model}} prompt"),
                ("hx:model_generation_tokens:rate5m", "{{model}} generated"),
            ],
            "suffix: tok/s",
            stack=True,
        )
    )
    volume = "sum by (model) (avg_over_time({}[$__range])) * $__range_s"
    grid.add(
        table(
            "Volume in the selected time range",
            "Requests and tokens per model over the dashboard's time range: the mean of the 5-minute rates "
            "times the range, so the first and last minutes are approximate.",
            [
                (volume.format("hx:model_requests:rate5m"), "requests", "short", None),
                (volume.format("hx:model_prompt_tokens:rate5m"), "prompt tokens", "short", None),
                (volume.format("hx:model_generation_tokens:rate5m"), "generated tokens", "short", None),
            ],
        )
    )
    if plan.business is not None:
        _cost_section(grid, plan.business.currency, bool(plan.business.reference_prices))
    grid.row("Service levels")
    targets = " or ".join(
        f'label_replace(vector({m.slo.availability_percent / 100:g}), "model", "{m.name}", "", "")' for m in plan.models
    )
    budget = 'max by (model) (hx:slo_period_error_budget_remaining:ratio{{slo="{}"}})'
    budget_left = [{"color": "red", "value": None}, {"color": "orange", "value": 0}, {"color": "green", "value": 0.25}]
    grid.add(
        table(
            "SLA compliance",
            "Per model: availability over the last 24 hours (1 - hx:slo_errors:ratio_rate1d) against its target, "
            "and the error budget left in the SLO window for each SLO (hx:slo_period_error_budget_remaining:ratio); "
            "a negative budget is a missed SLO. Empty cells: the model has no such SLO.",
            [
                (
                    'max by (model) (1 - hx:slo_errors:ratio_rate1d{slo="availability"})',
                    "availability, 24 h",
                    "percentunit",
                    None,
                ),
                (targets, "availability target", "percentunit", None),
                (budget.format("availability"), "budget left: availability", "percentunit", budget_left),
                (budget.format("ttft"), "budget left: time to first token", "percentunit", budget_left),
                (budget.format("e2e"), "budget left: end-to-end latency", "percentunit", budget_left),
            ],
        ),
        w=WIDTH,
        h=4 + 2 * len(plan.models),
    )
    if plan.usage is not None:  # last, so that the sections above keep their panel ids
        _tenant_section(grid, plan.business.currency if plan.business else None)
    return dashboard(
        plan,
        UID_BUSINESS,
        "hx / Business",
        "Traffic and tokens per model"
        + (", per tenant" if plan.usage else "")
        + (f", what the host and each model cost in {plan.business.currency}" if plan.business else "")
        + ", and whether each model meets its SLOs.",
        grid,
    )


def _cost_section(grid: Grid, currency: str, savings: bool) -> None:
    unit = _CURRENCY_UNITS.get(currency, f"suffix: {currency}")
    grid.row(f"Cost ({currency})")
    grid.add(
        stat(
            "Host cost per hour",
            "GPU amortisation (or rent) and power of the whole host (hx:host_cost:per_hour).",
            [("hx:host_cost:per_hour", "host")],
            unit,
        ),
        w=4,
    )
    grid.add(
        timeseries(
            "Cost per hour by model",
            "The host's cost shared out to the models (hx:model_cost:per_hour).",
            [("hx:model_cost:per_hour", "{{model}}")],
            unit,
            stack=True,
        ),
        w=10,
    )
    grid.add(
        timeseries(
            "Cost per 1000 tokens by model",
            "Each model's cost per hour over its tokens per hour (hx:model_cost:per_1k_tokens).",
            [("hx:model_cost:per_1k_tokens", "{{model}}")],
            unit,
        ),
        w=10,
    )
    if savings:
        grid.add(
            timeseries(
                "Savings per hour against reference prices",
                "What the same tokens would cost at each reference price in hx.yaml, minus what they cost here "
                "(hx:model_savings:per_hour).",
                [("hx:model_savings:per_hour", "{{model}} vs {{reference}}")],
                unit,
                minimum=None,
            ),
            w=WIDTH,
        )


TOP_STATEMENTS = 10

# Per tenant, from hx-usage's recording rules (usage_rules.py); only with usage accounting.
TOP_TENANTS = 10
_IN_RANGE = "sum by (tenant) (avg_over_time({}[$__range])) * $__range_s"


def _tenant_section(grid: Grid, currency: str | None) -> None:
    u = usage_rules
    grid.row("Tenants (hx-usage)")
    grid.add(
        timeseries(
            "Requests per second by tenant",
            f"Requests the gateway answered per tenant, any status ({u.TENANT_REQUESTS}). Tenant '-': "
            "requests that did not authenticate.",
            [(u.TENANT_REQUESTS, "{{tenant}}")],
            "reqps",
            stack=True,
        )
    )
    grid.add(
        timeseries(
            "Tokens per second by tenant",
            f"Prompt plus completion tokens per tenant, as the gateway's answers report them ({u.TENANT_TOKENS}).",
            [(u.TENANT_TOKENS, "{{tenant}}")],
            "suffix: tok/s",
            stack=True,
        )
    )
    grid.add(
        bar_gauge(
            f"Top {TOP_TENANTS} tenants by tokens",
            "Tokens per tenant over the dashboard's time range (the mean of the 5-minute rate times the range).",
            f"topk({TOP_TENANTS}, {_IN_RANGE.format(u.TENANT_TOKENS)})",
            "{{tenant}}",
            "short",
        )
    )
    grid.add(
        timeseries(
            "Server errors by tenant",
            f"Share of each tenant's requests answered with 5xx ({u.TENANT_ERRORS}).",
            [(u.TENANT_ERRORS, "{{tenant}}")],
            "percentunit",
        )
    )
    grid.add(
        timeseries(
            "Cache hit ratio by tenant",
            f"Share of each tenant's requests answered from the gateway's response cache ({u.TENANT_CACHE_HITS}).",
            [(u.TENANT_CACHE_HITS, "{{tenant}}")],
            "percentunit",
            maximum=1,
        )
    )
    grid.add(
        bar_gauge(
            "Quota used today",
            f"Share of each tenant's daily token quota used since the quota day began ({u.TENANT_QUOTA_USED}); "
            "a tenant without a quota has no bar. At 100 % the gateway refuses its inference requests (429).",
            u.TENANT_QUOTA_USED,
            "{{tenant}}",
            "percentunit",
            maximum=1,
            thresholds=[
                {"color": "green", "value": None},
                {"color": "orange", "value": 0.8},
                {"color": "red", "value": 1},
            ],
        )
    )
    if currency is not None:
        _tenant_cost_panels(grid, currency)
    grid.add(
        table(
            "Satisfaction by tenant and model",
            f"Mean rating (1 to 5) of the feedback given over the last day ({u.TENANT_MODEL_RATING}), and how "
            "many ratings it is the mean of. Empty: no feedback in a day.",
            [
                (f"max by (tenant, model) ({u.TENANT_MODEL_RATING})", "mean rating, 1 d", "short", None),
                (
                    "sum by (tenant, model) (increase(hx_usage_feedback_total[1d]))",
                    "ratings, 1 d",
                    "short",
                    None,
                ),
            ],
            keys=("tenant", "model"),
        ),
        w=WIDTH,
    )


def _tenant_cost_panels(grid: Grid, currency: str) -> None:
    unit = _CURRENCY_UNITS.get(currency, f"suffix: {currency}")
    grid.add(
        timeseries(
            "Cost per hour by tenant",
            "Each model's cost per hour shared among its tenants by their tokens (hx:tenant_cost:per_hour).",
            [("hx:tenant_cost:per_hour", "{{tenant}}")],
            unit,
            stack=True,
        ),
        w=12,
    )
    grid.add(
        bar_gauge(
            f"Top {TOP_TENANTS} tenants by cost",
            "Cost per tenant over the dashboard's time range (the mean hourly cost times the hours).",
            f"topk({TOP_TENANTS}, {_IN_RANGE.format('hx:tenant_cost:per_hour')} / 3600)",
            "{{tenant}}",
            unit,
        ),
        w=12,
    )
    grid.add(
        table(
            "Tenants in the selected time range",
            "Per tenant over the dashboard's time range: requests, tokens, cost, and what the same tokens "
            "would have cost at the reference prices minus that cost (hx:tenant_savings:per_hour, all "
            "references together; empty without reference prices for its models).",
            [
                (_IN_RANGE.format(usage_rules.TENANT_REQUESTS), "requests", "short", None),
                (_IN_RANGE.format(usage_rules.TENANT_TOKENS), "tokens", "short", None),
                (f"{_IN_RANGE.format('hx:tenant_cost:per_hour')} / 3600", "cost", unit, None),
                (f"{_IN_RANGE.format('hx:tenant_savings:per_hour')} / 3600", "savings", unit, None),
            ],
            keys=("tenant",),
        ),
        w=WIDTH,
    )


def _usage_section(grid: Grid, plan: Plan) -> None:
    u, t = usage_rules, plan.targets
    grid.row("Gateway answers and usage accounting (hx-usage)")
    grid.add(up_stat("hx-usage up", "Whether Prometheus scrapes hx-usage (up).", 'up{job="usage"}', "hx-usage"), w=3)
    grid.add(
        up_stat(
            "Writes to PostgreSQL",
            "Whether hx-usage's last write to PostgreSQL succeeded (hx_usage_db_up).",
            'min(hx_usage_db_up{job="usage"})',
            "database",
        ),
        w=3,
    )
    grid.add(
        timeseries(
            "Gateway answers by status class",
            f"Everything the gateway answered per second, by status class ({u.GATEWAY_REQUESTS}); "
            "502/503/504 include engines it could not reach.",
            [(u.GATEWAY_REQUESTS, "{{status_class}}")],
            "reqps",
            stack=True,
        ),
        w=6,
    )
    grid.add(
        timeseries(
            "Latency the gateway adds",
            "Request time minus the engine's, p50 and p99 per model (hx:model_gateway_added_seconds:p50_5m, "
            f"_p99_5m) and p99 of all ({u.GATEWAY_ADDED}). Dashed line: targets.gateway_overhead_ms "
            f"({t.gateway_overhead_ms:g} ms at {t.gateway_overhead_at_rps:g} req/s and more).",
            [
                (f"hx:model_gateway_added_seconds:p50_{u.WINDOW}", "{{model}} p50"),
                (f"hx:model_gateway_added_seconds:p99_{u.WINDOW}", "{{model}} p99"),
                (u.GATEWAY_ADDED, "all p99"),
            ],
            "s",
            thresholds=above(t.gateway_overhead_ms / 1000),
        ),
        w=12,
    )
    grid.add(
        timeseries(
            "Usage queries, p95",
            f"p95 of hx-usage's queries through PgBouncer per statement ({u.USAGE_QUERY_P95}, from its own "
            f"histogram; pg_stat_statements has no percentiles). Dashed line: targets.sql_latency_ms "
            f"({t.sql_latency_ms:g} ms).",
            [(u.USAGE_QUERY_P95, "{{statement}}")],
            "s",
            thresholds=above(t.sql_latency_ms / 1000),
        ),
        w=12,
    )
    grid.add(
        timeseries(
            "Backlog",
            "Access-log bytes hx-usage has read but not yet written to PostgreSQL (hx_usage_backlog_bytes).",
            [('sum(hx_usage_backlog_bytes{job="usage"})', "backlog")],
            "bytes",
        ),
        w=12,
    )


def _statements_section(grid: Grid) -> None:
    labels = "datname, queryid, query"
    slowest = f"topk({TOP_STATEMENTS}, max by ({labels}) (pg_stat_statements_top_mean_seconds))"
    grid.add(
        table(
            "Slowest statements (pg_stat_statements)",
            f"The {TOP_STATEMENTS} statements with the longest mean execution time since the statistics were "
            "reset, from the exporter's pg_stat_statements queries (pg_stat_statements_top_*: the 20 "
            "slowest, text cut to 120 characters), with their calls per second now. A mean, not a "
            "percentile: pg_stat_statements keeps none.",
            [
                (slowest, "mean time", "s", None),
                (
                    f"sum by ({labels}) (rate(pg_stat_statements_top_calls_total[{RATE}]))\n"
                    f"and on ({labels}) {slowest}",
                    "calls per second",
                    "ops",
                    None,
                ),
            ],
            keys=("datname", "queryid", "query"),
            sort_by=("mean time", True),
        ),
        w=WIDTH,
        h=10,
    )
