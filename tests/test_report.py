"""hxgen report against a real PostgreSQL (rows of hx_usage.requests) and a real Prometheus
(backfilled SLO ratios, latency histograms, GPU power, ALERTS and hx-analytics forecasts): the
numbers, the period's edges in Europe/Berlin, the errors when a source is down, the kept
reports, and the HTML and PDF as a browser and a PDF viewer draw them."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from conftest import ROOT
from pg_harness import free_port, pg_cluster
from prometheus_harness import PrometheusServer, Written, backfill
from test_real_tools import tool
from usage_schema import create_usage_tables

from hxgen import report as library
from hxgen.contracts import usage as contract
from hxgen.contracts.usage_config import Database, Listen, Reports, ServiceConfig
from hxgen.pipeline import render_file
from hxgen.report.period import period_ending
from hxgen.report.progress import Progress

pytestmark = pytest.mark.tools

ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
STEP_S = 300
WATTS = 200.0
# (tenant, model, rows per day, prompt tokens, completion tokens): known traffic every day.
TRAFFIC = (
    ("product-chat", "hermes-2", 1200, 900, 350),
    ("product-chat", "phi-3-mini", 800, 600, 250),
    ("research-batch", "mixtral-8x7b", 1500, 2400, 900),
    ("sre", "all-minilm-l6-v2", 300, 64, 0),
)
# (model, slo) -> share of bad requests inside the period; outside it, 0.5 (which would show).
SLO_ERRORS = {("mixtral-8x7b", "availability"): 0.001, ("hermes-2", "ttft"): 0.08, ("phi-3-mini", "e2e"): 0.01}
BUDGET_LEFT = {("hermes-2", "ttft"): 0.1}
TTFT_BUCKETS = ((0.25, 50), (0.5, 80), (1.0, 95), (1.5, 99), (2.5, 100), ("+Inf", 100))
SCALE = {"mixtral-8x7b": 1.0, "hermes-2": 2.0}  # hermes is twice as slow: p95 2 s against 1 s


def last_sunday() -> dt.date:
    today = dt.datetime.now(BERLIN).date()
    return today - dt.timedelta(days=today.isoweekday())


def spec_file(tmp: Path) -> Path:
    path = tmp / "hx.yaml"
    text = (ROOT / "hx.yaml").read_text()
    zone = "  time_zone: UTC "
    assert zone in text, "hx.yaml's usage.time_zone changed: update this test"
    path.write_text(text.replace(zone, f"  time_zone: {ZONE} ", 1))
    return path


def rows(start: dt.datetime, end: dt.datetime) -> list[dict]:
    found, n = [], 0
    day = start.date()
    while day <= end.date():
        for tenant, model, count, prompt, completion in TRAFFIC:
            for i in range(count):
                n += 1
                at = dt.datetime.combine(day, dt.time(0, 30), BERLIN) + dt.timedelta(seconds=i * 79_200 // count)
                failed = model == "hermes-2" and i % 250 == 0
                rating = (i // 20) % 3 + 3 if i % 20 == 0 else None
                cache = "" if model == "mixtral-8x7b" else "HIT" if i % 3 == 0 else "MISS"
                found.append(
                    row(n, at, tenant, model, prompt + i % 7, completion, 500 if failed else 200, cache, rating)
                )
        day += dt.timedelta(days=1)
    # The edges: the first and last second of the period count, the seconds outside do not.
    for k, at in enumerate((start - dt.timedelta(seconds=1), start, end - dt.timedelta(seconds=1), end)):
        found.append(row(10_000 + k, at, "bi-dashboards", "phi-3-mini", 1000, 1000, 200, "", None))
    return found


def row(n, at, tenant, model, prompt, completion, status, cache, rating) -> dict:
    return {
        "time": at, "request_id": f"r{n}", "tenant": tenant, "role": "user", "model": model, "variant": model,
        "model_name": model, "endpoint": "/v1/chat/completions", "status": status, "cache": cache,
        "prompt_tokens": prompt, "completion_tokens": completion, "request_s": 0.5, "upstream_s": 0.45,
        "rating": rating,
    }  # fmt: skip


def series(start: dt.datetime, end: dt.datetime) -> list[Written]:
    t0, t1 = start.timestamp(), end.timestamp()
    stamps = np.arange(t0 - 3600 + 60, t1 + 3600, STEP_S, dtype=float)
    inside = (stamps > t0) & (stamps < t1)
    out: list[Written] = []

    def gauge(metric, labels, values):
        out.append(Written(metric, labels, stamps, np.broadcast_to(np.asarray(values, float), stamps.shape).copy()))

    for (model, slo), share in SLO_ERRORS.items():
        gauge("hx:slo_errors:ratio_rate5m", {"model": model, "slo": slo}, np.where(inside, share, 0.5))
        gauge(
            "hx:slo_period_error_budget_remaining:ratio",
            {"model": model, "slo": slo},
            BUDGET_LEFT.get((model, slo), 0.8),
        )
    gauge("hx:model_prefix_cache_hits:ratio_rate5m", {"model": "hermes-2"}, 0.42)
    for gpu in range(4):
        gauge("DCGM_FI_DEV_POWER_USAGE", {"gpu": str(gpu)}, WATTS)
    steps = np.arange(len(stamps))
    for model, scale in SCALE.items():
        for le, per_step in TTFT_BUCKETS:
            label = le if le == "+Inf" else f"{le * scale:g}"
            gauge("vllm:time_to_first_token_seconds_bucket", {"model": model, "le": label}, steps * per_step)
    alert = {"alertname": "HxErrorBudgetBurn", "severity": "page", "model": "hermes-2", "slo": "ttft"}
    firing_from = t0 + 2 * 86400
    in_window = (stamps >= firing_from) & (stamps <= firing_from + 7200)
    out.append(Written("ALERTS", {**alert, "alertstate": "firing"}, stamps[in_window], np.ones(in_window.sum())))
    pending = (stamps >= firing_from - 1800) & (stamps < firing_from)
    out.append(Written("ALERTS", {**alert, "alertstate": "pending"}, stamps[pending], np.ones(pending.sum())))
    after = stamps > t1
    later = {"alertname": "HxModelDown", "severity": "page", "model": "phi-3-mini", "alertstate": "firing"}
    out.append(Written("ALERTS", later, stamps[after], np.ones(after.sum())))
    near_end = (stamps > t1 - 3000) & (stamps < t1)
    for bound, value in (("forecast", 0.91), ("lower", 0.85), ("upper", 0.97)):
        labels = {"series": "kv-cache-usage", "model": "mixtral-8x7b", "horizon": "1h", "bound": bound}
        out.append(Written("hx_forecast", labels, stamps[near_end], np.full(near_end.sum(), value)))
    exhaustion = {"series": "kv-cache-usage", "model": "mixtral-8x7b"}
    out.append(Written("hx_capacity_exhaustion_seconds", exhaustion, stamps[near_end], np.full(near_end.sum(), 5400.0)))
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    period = period_ending("week", last_sunday(), ZONE)
    written_rows = rows(period.start, period.end)
    data = tmp / "prometheus-data"
    data.mkdir()
    backfill(data, series(period.start, period.end))
    prom = PrometheusServer(data, free_port())
    with pg_cluster(bouncer=False) as cluster:
        first = (period.start - dt.timedelta(days=1)).astimezone(dt.UTC).date()
        last = (period.end + dt.timedelta(days=1)).astimezone(dt.UTC).date()
        create_usage_tables(cluster.dsn(through_bouncer=False), first, last)
        columns = list(written_rows[0])
        copy_rows = f"COPY {contract.TABLE} ({', '.join(columns)}) FROM STDIN"
        with (
            psycopg.connect(cluster.dsn(through_bouncer=False)) as conn,
            conn.cursor() as cur,
            cur.copy(copy_rows) as copy,
        ):
            for r in written_rows:
                copy.write_row([r[c] for c in columns])
        prom.start()
        try:
            yield {"period": period, "rows": written_rows, "dsn": cluster.dsn(through_bouncer=False), "prom": prom,
                   "spec": spec_file(tmp), "cluster": cluster, "tmp": tmp}  # fmt: skip
        finally:
            prom.stop()


@pytest.fixture(scope="module")
def built(sources):
    plan = render_file(sources["spec"]).plan
    request = library.ReportRequest(plan, sources["period"], sources["prom"].url, sources["dsn"])
    report, html = library.build(request, Progress(4))
    return plan, report, html


def expected_rows(sources) -> list[dict]:
    """Counted in the period by the rows' local dates, independently of the report's SQL range."""
    period = sources["period"]
    return [r for r in sources["rows"] if period.first_day <= r["time"].astimezone(BERLIN).date() <= period.last_day]


def test_usage_and_feedback_per_tenant_and_model(sources, built):
    _, report, html = built
    inside = expected_rows(sources)
    assert report.total.requests == len(inside)
    assert report.total.prompt_tokens == sum(r["prompt_tokens"] for r in inside)
    edges = [t for t in report.tenants if t.name == "bi-dashboards"]
    assert edges and edges[0].requests == 2, "the period's first and last second count, the ones outside do not"
    chat = next(t for t in report.tenants if t.name == "product-chat")
    mine = [r for r in inside if r["tenant"] == "product-chat"]
    assert chat.completion_tokens == sum(r["completion_tokens"] for r in mine)
    assert chat.cache_hits == sum(r["cache"] == "HIT" for r in mine) and chat.cache_lookups == len(mine)
    batch = next(t for t in report.tenants if t.name == "research-batch")
    assert batch.cache_lookups == 0 and batch.cache_hit_ratio is None, "'' means the cache was not asked"
    ratings = [r["rating"] for r in mine if r["rating"] is not None]
    assert chat.ratings == len(ratings) and chat.mean_rating == pytest.approx(sum(ratings) / len(ratings))
    assert report.total.server_errors == sum(r["status"] >= 500 for r in inside)
    assert f"{report.total.requests:,}" in html and f"{chat.prompt_tokens:,}" in html
    assert sum(report.daily_tokens["sre"]) == sum(r["prompt_tokens"] for r in inside if r["tenant"] == "sre")


def test_costs_follow_the_cost_model_and_add_up(sources, built):
    plan, report, html = built
    hours = (sources["period"].end.timestamp() - sources["period"].start.timestamp()) / 3600
    gpu_hour = 10500 / (3 * 365 * 24)  # hx.yaml: purchase_price 10500, amortised over 3 years
    kwh = 0.15
    host = hours * (4 * gpu_hour + (450 + 4 * WATTS) / 1000 * kwh)
    assert report.host_cost == pytest.approx(host)
    assert sum(t.cost for t in report.tenants) + report.unattributed_cost == pytest.approx(host)
    mixtral = next(m for m in report.models if m.name == "mixtral-8x7b")
    assert mixtral.cost == pytest.approx(hours * 2 * (gpu_hour + WATTS / 1000 * kwh))
    research = next(t for t in report.tenants if t.name == "research-batch")
    assert research.cost == pytest.approx(mixtral.cost), "the only tenant of mixtral carries all of its cost"
    gpt4o = next(s for s in report.savings if s.reference == "gpt-4o")
    assert gpt4o.reference_cost == pytest.approx((mixtral.prompt_tokens * 2.5 + mixtral.completion_tokens * 10) / 1e6)
    assert gpt4o.own_cost == pytest.approx(mixtral.cost)
    assert f"{report.host_cost:,.2f} USD" in html


def test_slos_latency_alerts_and_forecasts_from_prometheus(sources, built):
    _, report, html = built
    slo = {(s.model, s.slo): s for s in report.slos}
    assert slo["mixtral-8x7b", "availability"].attainment == pytest.approx(0.999)
    assert slo["mixtral-8x7b", "availability"].met
    hermes = slo["hermes-2", "ttft"]
    assert hermes.attainment == pytest.approx(0.92) and hermes.met is False
    assert hermes.budget_left == pytest.approx(0.1)
    assert slo["openchat-3-5", "availability"].attainment is None, "no data is not 100 %"
    latency = {(r.model, r.kind): r for r in report.latencies}
    assert latency["mixtral-8x7b", "ttft"].p50_s == pytest.approx(0.25)
    assert latency["mixtral-8x7b", "ttft"].p95_s == pytest.approx(1.0) and latency["mixtral-8x7b", "ttft"].met
    assert latency["hermes-2", "ttft"].p95_s == pytest.approx(2.0) and latency["hermes-2", "ttft"].met is False
    assert next(m for m in report.models if m.name == "hermes-2").prefix_cache_ratio == pytest.approx(0.42)
    (fired,) = report.alerts  # not the pending one, not the one after the period
    assert (fired.name, fired.severity, fired.subject) == ("HxErrorBudgetBurn", "page", "model=hermes-2, slo=ttft")
    firing_from = sources["period"].start + dt.timedelta(days=2)
    assert abs((fired.first_seen - firing_from).total_seconds()) <= 400
    assert 7200 <= fired.firing_s <= 7200 + 900
    (forecast,) = report.forecasts
    assert (forecast.series, forecast.member, forecast.horizon) == ("kv-cache-usage", "mixtral-8x7b", "1h")
    assert (forecast.forecast, forecast.lower, forecast.upper, forecast.exhaustion_s) == (0.91, 0.85, 0.97, 5400)
    assert "HxErrorBudgetBurn" in html and "92.000 %" in html and "1 h 30 min" in html


def test_the_query_can_use_the_indexes(sources):
    cluster, period = sources["cluster"], sources["period"]
    from hxgen.report.collect import USAGE_QUERY

    bounds = {"zone": f"'{ZONE}'", "start": f"'{period.start.isoformat()}'", "end": f"'{period.end.isoformat()}'"}
    plan = cluster.sql(f"SET enable_seqscan = off; EXPLAIN {USAGE_QUERY % bounds}", user="hx")
    assert re.search(r"Index (Only )?Scan using requests_p\d+_(tenant|model_name)_time", plan), plan
    scanned = set(re.findall(r"on requests_p(\d{8})", plan))
    hours = range(int(period.start.timestamp()), int(period.end.timestamp()), 3600)
    utc_days = {dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y%m%d") for t in hours}
    assert scanned and scanned <= utc_days, "the partitions outside the period are pruned"


def test_unreachable_prometheus_and_postgres(sources, hxgen, tmp_path):
    dead = free_port()
    base = ["report", sources["spec"], "--end", sources["period"].last_day, "--output", tmp_path / "r.html"]
    result = hxgen(*base, "--database", sources["dsn"], "--prometheus", f"http://127.0.0.1:{dead}")
    assert result.code == 4, result.err
    assert f"cannot reach Prometheus at http://127.0.0.1:{dead}: connection refused" in result.err
    assert "hint:" in result.err and "Traceback" not in result.err
    dsn = f"host=127.0.0.1 port={dead} dbname=hx user=hx password=x connect_timeout=3"
    result = hxgen(*base, "--database", dsn, "--prometheus", sources["prom"].url)
    assert result.code == 4, result.err
    assert f"PostgreSQL at 127.0.0.1:{dead}/hx" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "r.html").exists()


def usage_config(sources, directory: Path) -> Path:
    """hx-usage's configuration as the usage role installs it, pointing at the test's sources."""
    cluster = sources["cluster"]
    (directory / "db.password").write_text("hx-test-password\n")
    config = ServiceConfig(
        version=contract.VERSION, access_log="/dev/null", state_dir=str(directory), time_zone=ZONE,
        listen=Listen(port=free_port()), tenants={}, models={},
        database=Database(host="127.0.0.1", port=cluster.pg_port, dbname="hx", user="hx",
                                   password_file=str(directory / "db.password")),
        reports=Reports(enabled=True, directory=str(directory), keep=2, prometheus_url=sources["prom"].url),
    )  # fmt: skip
    path = directory / "usage.json"
    path.write_text(config.model_dump_json())
    return path


def test_directory_keeps_the_newest_reports(sources, hxgen, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    for day in ("2026-01-04", "2026-01-11", "2026-01-18"):
        (reports / f"hx-report-{day}.html").write_text("old")
        (reports / f"hx-report-{day}.pdf").write_text("old")
    (reports / "notes.txt").write_text("mine")
    config = usage_config(sources, tmp_path)
    last_day = sources["period"].last_day
    result = hxgen(
        "report", sources["spec"], "--end", last_day, "--directory", reports, "--keep", "2", "--config", config
    )
    assert result.code == 0, result.err
    newest = f"hx-report-{last_day}.html"
    assert result.out.strip() == str(reports / newest)
    assert sorted(p.name for p in reports.iterdir()) == [
        "hx-report-2026-01-18.html", "hx-report-2026-01-18.pdf", newest, "notes.txt"
    ]  # fmt: skip
    assert "[4/4]" in result.err and "removed 4 older report file(s)" in result.err
    assert f"{sum(r['prompt_tokens'] for r in expected_rows(sources)):,}" in (reports / newest).read_text()


def _drawn(png: Path, min_bytes: int = 20_000) -> None:
    """Not blank: big enough, and its pixels vary (text, tables, charts)."""
    from matplotlib import image

    assert png.stat().st_size > min_bytes, f"{png} is nearly empty"
    assert image.imread(png)[..., :3].std() > 0.05, f"{png} is blank"


def test_html_and_pdf_as_a_browser_and_a_viewer_draw_them(sources, built, tmp_path):
    _, report, html = built
    page = tmp_path / "report.html"
    library.write(html, page)
    assert 'src="http' not in html and html.count("data:image/svg+xml;base64,") == 4, "one self-contained file"
    shot = tmp_path / "report.png"
    subprocess.run(
        [tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={shot}", "--window-size=900,1300", page.as_uri()],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    _drawn(shot, 60_000)
    pdf = tmp_path / "report.pdf"
    library.write(html, pdf, pdf=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run([tool("pdftoppm"), "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2, "the summary, then the details"
    for png in pages:
        _drawn(png)
