"""A spec with only warnings passes `hxgen validate`, and fails it with --strict."""

from __future__ import annotations

import json

WARNINGS_ONLY = """\
# Valid, but with two warnings: the hub revision is the moving branch "main",
# and monitoring declares no receivers, so nobody would be paged.
version: hx/v1
host:
  name: gpu-host
  address: 10.0.0.5
  cpu_cores: 32
  memory_gb: 128
  gpus:
    - {index: 0, model: NVIDIA L40S, memory_gb: 48}
models:
  - name: phi-3-mini
    source:
      hub: microsoft/Phi-3-mini-4k-instruct
      revision: main
    parameters_b: 3.82
    gpus: [0]
    max_model_len: 4096
    port: 8001
    slo:
      time_to_first_token: {target_ms: 300}
gateway:
  rate_limit_tiers: [{name: standard, requests_per_second: 10}]
  tenants: [{name: app, tier: standard}]
monitoring:
  retention_days: 15
security:
  firewall:
    allow: [{source: 10.0.0.0/8, ports: [443]}]
"""

EXPECTED_WARNINGS = [
    "hx.yaml:15:17: warning[unpinned-revision]: models[0].source.revision: "
    "revision 'main' is not a commit sha; it can move",
    "  hint: pin the 40-character commit sha shown on the model's 'Files' page",
    "hx.yaml:25:1: warning[no-receivers]: monitoring: alerts have no receiver: nobody is paged",
    "  hint: declare monitoring.receivers (webhook, email, slack or pagerduty)",
]


def _write(tmp_path):
    (tmp_path / "hx.yaml").write_text(WARNINGS_ONLY)


def test_warnings_alone_pass_without_strict(tmp_path, hxgen):
    _write(tmp_path)
    result = hxgen("validate", "hx.yaml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.err.splitlines() == [*EXPECTED_WARNINGS, "hx.yaml: ok: 0 errors, 2 warnings"]
    assert "error[" not in result.err


def test_warnings_fail_with_strict(tmp_path, hxgen):
    _write(tmp_path)
    result = hxgen("validate", "hx.yaml", "--strict", cwd=tmp_path)
    assert result.code == 1, result.err
    assert result.err.splitlines() == [*EXPECTED_WARNINGS, "hx.yaml: failed: 0 errors, 2 warnings"]


def test_warnings_in_json_format(tmp_path, hxgen):
    _write(tmp_path)
    for strict, code in ((False, 0), (True, 1)):
        args = ["validate", "hx.yaml", "--format", "json"] + (["--strict"] if strict else [])
        result = hxgen(*args, cwd=tmp_path)
        assert result.code == code, result.out
        document = json.loads(result.out)
        assert document["ok"] is (not strict)
        assert (document["errors"], document["warnings"]) == (0, 2)
        assert [(d["line"], d["column"], d["code"]) for d in document["diagnostics"]] == [
            (15, 17, "unpinned-revision"),
            (25, 1, "no-receivers"),
        ]
