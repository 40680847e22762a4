"""Cross-field checks, one rule at a time, on a small valid spec."""

from __future__ import annotations

import ast
import inspect
import itertools
import sys
import textwrap

import pytest
from conftest import DATA, ROOT

from hxgen.checks import CHECKS, run_checks, run_section_checks
from hxgen.checks.sections import READS, SECTIONS, SectionView, UndeclaredSection, reads
from hxgen.diagnostics import dotted
from hxgen.pipeline import check_file
from hxgen.validation import validate, validate_sections


def problems(data: dict) -> list[tuple[str, str, str]]:
    spec, found = validate(data)
    assert spec is not None, found
    return [(d.severity, d.code, dotted(d.path)) for d in run_checks(spec)]


def errors(data: dict) -> list[tuple[str, str]]:
    return [(code, path) for severity, code, path in problems(data) if severity == "error"]


def add_gpu(data: dict, index: int, memory_gb: float = 48) -> None:
    data["host"]["gpus"].append({"index": index, "model": "NVIDIA L40S", "memory_gb": memory_gb})


def second_model(data: dict, **changes) -> dict:
    model = {**data["models"][0], "name": "second", "port": 8002, **changes}
    data["models"].append(model)
    return model


def test_the_base_spec_is_clean(spec_data):
    assert problems(spec_data) == []


def test_duplicate_names_and_ports(spec_data):
    second_model(spec_data, name="phi-3-mini", port=8001, gpu_memory_utilization=0.05)
    assert ("duplicate-name", "models[1].name") in errors(spec_data)
    assert ("port-conflict", "models[1].port") in errors(spec_data)


def test_port_shared_with_a_platform_service(spec_data):
    spec_data["models"][0]["port"] = 9090  # Prometheus
    assert errors(spec_data) == [("port-conflict", "monitoring.prometheus_port")]


def test_disabled_services_free_their_ports(spec_data):
    spec_data["models"][0]["port"] = 5432
    assert errors(spec_data) == [("port-conflict", "databases.postgres.port")]
    spec_data["databases"] = {"postgres": {"enabled": False}}
    assert errors(spec_data) == []


def test_served_name_collides_with_route_alias(spec_data):
    spec_data["gateway"]["routes"] = [{"alias": "phi-3-mini", "split": [{"model": "phi-3-mini", "weight": 100}]}]
    assert errors(spec_data) == [("duplicate-name", "gateway.routes[0].alias")]


def test_unknown_gpu_index_and_duplicate_gpu(spec_data):
    spec_data["models"][0]["gpus"] = [3]
    assert ("unknown-reference", "models[0].gpus[0]") in errors(spec_data)
    add_gpu(spec_data, 1)
    spec_data["models"][0]["gpus"] = [1, 1]
    spec_data["models"][0]["tensor_parallel_size"] = 2
    assert ("duplicate-gpu", "models[0].gpus[1]") in errors(spec_data)


def test_tensor_parallel_must_match_gpus(spec_data):
    add_gpu(spec_data, 1)
    spec_data["models"][0]["gpus"] = [0, 1]
    assert errors(spec_data) == [("tp-mismatch", "models[0].gpus")]  # the key the user wrote
    spec_data["models"][0]["tensor_parallel_size"] = 2
    assert errors(spec_data) == []


def test_gpu_shares_may_not_exceed_95_percent(spec_data):
    spec_data["models"][0]["gpu_memory_utilization"] = 0.6
    second_model(spec_data, gpu_memory_utilization=0.4)
    found = [d for d in validate_and_check(spec_data) if d.code == "gpu-oversubscribed"]
    assert len(found) == 1
    assert "phi-3-mini 0.6 + second 0.4" in found[0].message
    assert dotted(found[0].path) == "host.gpus[0]"


def validate_and_check(data):
    spec, _ = validate(data)
    return run_checks(spec)


def test_weights_must_fit_with_a_minimum_kv_cache(spec_data):
    model = spec_data["models"][0]
    model.update(parameters_b=70, dtype="bfloat16")  # 140 GB of weights on one 48 GB GPU
    found = [d for d in validate_and_check(spec_data) if d.code == "gpu-memory"]
    assert len(found) == 1 and "140.0 GB" in found[0].message
    model["quantization"] = "awq"  # 38.5 GB + 1 + 1 fits in 0.9 x 48 = 43.2 GB
    assert errors(spec_data) == []


def test_tensor_parallel_splits_the_weights(spec_data):
    add_gpu(spec_data, 1)
    spec_data["models"][0].update(parameters_b=34, gpus=[0, 1], tensor_parallel_size=2)  # 34 GB per GPU
    assert errors(spec_data) == []
    spec_data["models"][0].update(gpus=[0], tensor_parallel_size=1)
    assert ("gpu-memory", "models[0].parameters_b") in errors(spec_data)


def test_host_memory_budget_is_85_percent(spec_data):
    spec_data["host"]["memory_gb"] = 40  # 34 GB allowed; defaults declare 8+16+2+16+8+4+2 = 56
    found = [d for d in validate_and_check(spec_data) if d.code == "host-memory"]
    assert len(found) == 1
    assert "85 % of 40 GB is 34 GB" in found[0].message
    assert "postgres 16" in found[0].message


def test_profile_rules(spec_data):
    spec_data["host"]["profile"] = "cpu"
    assert ("profile-mismatch", "host.gpus") in errors(spec_data)
    assert ("profile-mismatch", "models[0].gpus") in errors(spec_data)
    spec_data["host"]["gpus"] = []
    spec_data["host"]["profile"] = "gpu"
    assert ("profile-mismatch", "host.profile") in errors(spec_data)


def test_tgi_needs_a_gpu_and_generates_only(spec_data):
    spec_data["host"].update(profile="cpu", gpus=[])
    spec_data["models"][0].update(engine="tgi", gpus=[], parameters_b=0.001, task="embed", slo=None)
    found = errors(spec_data)
    assert found.count(("engine-unsupported", "models[0].engine")) == 2


def test_cpu_profile_needs_ram_for_weights(spec_data):
    spec_data["host"].update(profile="cpu", gpus=[])
    spec_data["models"][0].update(gpus=[], resources={"memory_gb": 4})  # 7.6 GB of weights
    assert errors(spec_data) == [("cpu-memory", "models[0].resources.memory_gb")]


def test_route_targets_and_weights(spec_data):
    second_model(spec_data, gpu_memory_utilization=0.05, parameters_b=0.1)
    spec_data["gateway"]["routes"] = [
        {"alias": "chat", "split": [{"model": "phi-3-mini", "weight": 70}, {"model": "secnd", "weight": 20}]}
    ]
    spec_data["models"][0]["gpu_memory_utilization"] = 0.85
    found = validate_and_check(spec_data)
    assert {(d.code, dotted(d.path)) for d in found if d.severity == "error"} == {
        ("unknown-reference", "gateway.routes[0].split[1].model"),
        ("split-weights", "gateway.routes[0].split"),
    }
    assert next(d for d in found if d.code == "unknown-reference").hint == "did you mean 'second'?"


def test_tenant_references(spec_data):
    spec_data["gateway"]["tenants"][0].update(tier="standrd", models=["phi-3-mini", "gpt-4"])
    assert errors(spec_data) == [
        ("unknown-reference", "gateway.tenants[0].tier"),
        ("unknown-reference", "gateway.tenants[0].models[1]"),
    ]


def test_pgbouncer_pool_must_fit_in_max_connections(spec_data):
    spec_data["databases"] = {"postgres": {"tuning": {"max_connections": 150}}}
    assert errors(spec_data) == [("pool-exceeds-connections", "databases.postgres.tuning.max_connections")]


def test_collection_needs_an_embedding_model(spec_data):
    spec_data["databases"] = {
        "qdrant": {"collections": [{"name": "docs", "vector_size": 384, "embedding_model": "phi-3-mini"}]}
    }
    assert errors(spec_data) == [("unknown-reference", "databases.qdrant.collections[0].embedding_model")]


def test_alert_routes_need_receivers(spec_data):
    spec_data["monitoring"]["routes"] = [{"receiver": "pager"}]
    spec_data["monitoring"]["default_receiver"] = "hook"
    assert errors(spec_data) == [("unknown-reference", "monitoring.routes[0].receiver")]


def test_slo_contradictions(spec_data):
    spec_data["models"][0]["slo"] = {
        "time_to_first_token": {"target_ms": 500},
        "end_to_end": {"target_ms": 400, "output_tokens": 8192},
    }
    assert errors(spec_data) == [
        ("slo-contradiction", "models[0].slo.end_to_end.target_ms"),
        ("slo-contradiction", "models[0].slo.end_to_end.output_tokens"),
    ]


def test_managed_flags_are_refused_in_extra_args(spec_data):
    spec_data["models"][0]["extra_args"] = ["--max-model-len=8192", "--kv-cache-dtype", "fp8"]
    assert errors(spec_data) == [("managed-flag", "models[0].extra_args[0]")]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: d["models"][0].update(slo=None), "no-slo"),
        (lambda d: d["models"][0]["source"].update(revision="main"), "unpinned-revision"),
        (lambda d: d["gateway"].update(tenants=[]), "no-tenants"),
        (lambda d: d["gateway"].update(tls={"mode": "off"}), "cleartext-keys"),
        (lambda d: d["monitoring"].update(receivers=[]), "no-receivers"),
    ],
)
def test_warnings(spec_data, change, code):
    change(spec_data)
    found = problems(spec_data)
    assert [(severity, c) for severity, c, _ in found] == [("warning", code)]


def test_exactly_one_current_api_version(spec_data):
    spec_data["gateway"]["api_versions"] = [{"name": "v1", "status": "preview"}]
    assert errors(spec_data) == [("api-versions", "gateway.api_versions")]


def test_ports_reserved_for_exporters(spec_data):
    spec_data["models"][0]["port"] = 9187  # the PostgreSQL exporter
    found = [d for d in validate_and_check(spec_data) if d.code == "port-conflict"]
    assert [(dotted(d.path), d.message) for d in found] == [
        ("models[0].port", "port 9187 is reserved for the PostgreSQL exporter")
    ]
    spec_data["databases"] = {"postgres": {"enabled": False}}
    assert errors(spec_data) == []


def test_pgbouncer_keeps_a_pool_per_database(spec_data):
    spec_data["databases"] = {
        "postgres": {"databases": [{"name": "a", "owner": "a"}, {"name": "b", "owner": "b"}]}
    }  # 2 x 200 + 10 > the default 300
    assert errors(spec_data) == [("pool-exceeds-connections", "databases.postgres.tuning.max_connections")]
    spec_data["databases"]["postgres"]["tuning"] = {"max_connections": 410}
    assert errors(spec_data) == []


def test_email_receivers_need_a_relay(spec_data):
    spec_data["monitoring"]["receivers"].append({"name": "mail", "type": "email", "to": ["sre@example.com"]})
    assert errors(spec_data) == [("missing-key", "monitoring.receivers[1].type")]
    spec_data["monitoring"]["email"] = {"smarthost": "smtp.example.com:587", "from_address": "hx@example.com"}
    assert errors(spec_data) == []


def test_tgi_refuses_float32(spec_data):
    spec_data["models"][0].update(engine="tgi", dtype="float32", parameters_b=1)
    assert errors(spec_data) == [("engine-unsupported", "models[0].dtype")]


# --- which sections each check reads, and what runs when some sections are not valid ----------

SEED_SPECS = [ROOT / "hx.yaml", ROOT / "sandbox" / "hx.yaml", *sorted((DATA / "cases").glob("*/hx.yaml"))]


def _sections(spec) -> dict:
    return {name: getattr(spec, name) for name in SECTIONS}


def test_a_check_that_reads_an_undeclared_section_fails(spec_data):
    sections = _sections(validate(spec_data)[0])

    @reads("models")
    def peeks_at_the_gateway(spec):
        yield from () if spec.gateway.enabled else ()

    with pytest.raises(UndeclaredSection, match=r"spec\.gateway but declares only: models"):
        list(peeks_at_the_gateway(SectionView(sections, READS[peeks_at_the_gateway], "peeks_at_the_gateway")))
    assert list(SectionView(sections, frozenset({"models"}), "x").models) == sections["models"]
    del READS[peeks_at_the_gateway]


def test_declarations_name_real_sections():
    with pytest.raises(ValueError, match="gatway"):
        reads("gatway")
    assert all(check.reads and check.reads <= set(SECTIONS) for check in CHECKS)
    assert len({check.name for check in CHECKS}) == len(CHECKS)


@pytest.mark.parametrize("path", SEED_SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_check_reads_only_what_it_declares_on_every_example_spec(path):
    outcome = check_file(path)
    assert outcome.spec is not None
    sections = _sections(outcome.spec)
    for check in CHECKS:
        list(check.run(SectionView(sections, check.reads, check.name)))  # raises UndeclaredSection


def _spec_reads(function, seen: set) -> set[str]:
    """Sections a function reads as `spec.<section>`, following the functions it hands `spec` to."""
    if function in seen or not callable(function):
        return set()
    seen.add(function)
    module = sys.modules[function.__module__]
    found: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "spec":
            found.add(node.attr)
        if isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id == "spec" for a in node.args):
            callee = node.func
            if isinstance(callee, ast.Name) and callee.id in vars(module):
                found |= _spec_reads(vars(module)[callee.id], seen)
            elif isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
                owner = vars(module).get(callee.value.id)
                found |= _spec_reads(getattr(owner, callee.attr, None), seen)
    return found & set(SECTIONS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_branch_of_a_check_reads_only_what_it_declares(check):
    """The runtime view only sees the branches the example specs take; the source shows them all."""
    assert _spec_reads(check.run, set()) <= check.reads


def test_the_source_reading_finds_reads_through_helpers():
    from hxgen.checks import references, uniqueness

    assert _spec_reads(references.probe_tenant, set()) == {"gateway", "monitoring", "models"}
    assert _spec_reads(uniqueness.no_reserved_ports, set()) == {
        "host", "models", "gateway", "databases", "monitoring", "analytics", "security", "usage", "control"
    }  # fmt: skip


def test_checks_of_valid_sections_run_while_another_section_has_errors(spec_data):
    spec_data["gateway"]["tenants"][0]["tier"] = "standrd"  # an error only a cross-field check sees
    spec_data["monitoring"]["scrape_interval"] = 15  # a key typo in another section
    result = validate_sections(spec_data)
    assert result.spec is None and "monitoring" not in result.sections
    run = run_section_checks(result.sections)
    assert [(d.code, dotted(d.path)) for d in run.diagnostics if d.severity == "error"] == [
        ("unknown-reference", "gateway.tenants[0].tier")
    ]
    assert run.waiting_on == ("monitoring",)
    assert {c.name for c in run.skipped} == {c.name for c in CHECKS if "monitoring" in c.reads}
    assert all("monitoring" in c.reads for c in run.skipped)


def test_a_whole_valid_spec_skips_nothing(spec_data):
    run = run_section_checks(validate_sections(spec_data).sections)
    assert run.skipped == () and run.waiting_on == ()


def test_the_docs_say_which_sections_each_check_reads():
    text = (ROOT / "docs/diagnostics.md").read_text().split("| check | what it looks at | reads |\n", 1)[1]
    table = itertools.takewhile(lambda line: line.startswith("|"), text.splitlines()[1:])
    rows = [line.strip("|").split("|") for line in table]
    documented = {name.strip().strip("`"): {s.strip() for s in sections.split(",")} for name, _, sections in rows}
    assert documented == {check.name: set(check.reads) for check in CHECKS}
