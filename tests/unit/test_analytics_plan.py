"""What hx-analytics is told to watch (plan.analytics), and how it keeps each series' history
between cycles (analytics.history)."""

from __future__ import annotations

import numpy as np

from hxgen.analytics.history import History, Member, member_of
from hxgen.analytics.prometheus import Result
from hxgen.contracts.analytics import ServiceConfig, horizon_label
from hxgen.plan import build_plan
from hxgen.render.analytics import config
from hxgen.validation import validate


def plan_of(data):
    spec, found = validate(data)
    assert spec is not None, found
    return build_plan(spec)


def test_the_default_series_on_a_gpu_host(spec_data):
    watched = {s.name: s for s in plan_of(spec_data).analytics.series}
    assert set(watched) == {"request-rate", "kv-cache-usage", "queue-depth", "error-ratio", "gpu-memory", "disk-usage"}
    assert watched["gpu-memory"].member == "gpu" and watched["gpu-memory"].limit == 1.0
    assert watched["kv-cache-usage"].limit == 0.95
    assert watched["request-rate"].limit is None
    assert watched["disk-usage"].horizons_minutes == (1440, 10080)


def test_a_cpu_host_leaves_the_gpu_series_out(spec_data):
    spec_data["host"] |= {"profile": "cpu", "gpus": []}
    spec_data["models"][0].pop("gpus", None)
    names = {s.name for s in plan_of(spec_data).analytics.series}
    assert "gpu-memory" not in names and "request-rate" in names


def test_a_custom_query_is_kept_as_written(spec_data):
    spec_data["analytics"] = {"series": [{"name": "tokens", "query": "sum(rate(x[5m]))", "horizons_minutes": [60, 5]}]}
    (s,) = plan_of(spec_data).analytics.series
    assert (s.query, s.member, s.limit, s.horizons_minutes) == ("sum(rate(x[5m]))", None, None, (5, 60))


def test_disabled_analytics_renders_no_service(spec_data):
    spec_data["analytics"] = {"enabled": False}
    assert plan_of(spec_data).analytics is None


def test_the_rendered_configuration_is_what_the_service_accepts(spec_data):
    parsed = ServiceConfig.model_validate(config(plan_of(spec_data).analytics))
    assert parsed.prediction_interval == 0.9 and parsed.listen.port == 9105


def test_horizon_labels_read_as_promql_durations():
    assert [horizon_label(m) for m in (5, 30, 60, 90, 1440, 10080)] == ["5m", "30m", "1h", "90m", "1d", "7d"]


def test_members_are_named_by_model_or_resource():
    assert member_of({"model": "a", "job": "x"}, "model") == Member("a", "")
    assert member_of({"mountpoint": "/data"}, "mountpoint") == Member("", "/data")
    assert member_of({"model": "a", "job": "x", "instance": "h:1"}, None) == Member("a", "instance=h:1,job=x")


def result(model: str, start: float, values: list[float]) -> Result:
    t = start + 60 * np.arange(len(values), dtype=float)
    return Result({"model": model}, t, np.array(values, dtype=float))


def test_history_fetches_only_what_is_new_and_replaces_late_points():
    h = History("model", window_s=3600, step_s=60)
    start, end = h.next_span(now=10_030.0)
    assert (start, end) == (6_420.0, 10_020.0)  # the whole window, on multiples of the step
    h.update([result("a", 6_420.0, [1.0] * 61)], start, end)
    start, end = h.next_span(now=10_200.0)
    assert (start, end) == (9_720.0, 10_200.0)  # five steps before the last fetch, to now
    h.update([result("a", 9_720.0, [2.0] * 9)], start, end)
    points = h.members[Member("a", "")]
    assert np.all(np.diff(points.timestamps) == 60)  # no point twice
    assert points.timestamps[0] == 10_200.0 - 3600  # older ones left the window
    assert points.values[-9:].tolist() == [2.0] * 9


def test_a_member_gone_for_a_whole_window_is_forgotten():
    h = History("model", window_s=600, step_s=60)
    h.update([result("a", 0.0, [1.0] * 10), result("b", 0.0, [1.0] * 10)], 0.0, 540.0)
    h.update([result("a", 600.0, [1.0] * 10)], 600.0, 1140.0)
    h.update([result("a", 1200.0, [1.0] * 10)], 1200.0, 1740.0)
    assert set(h.members) == {Member("a", "")}
