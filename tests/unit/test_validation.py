"""pydantic's errors become diagnostics that say where and what to do."""

from __future__ import annotations

import pytest
from conftest import DATA, ROOT

from hxgen.diagnostics import did_you_mean, dotted
from hxgen.loader import load
from hxgen.validation import SECTIONS, _sound_sections, validate, validate_sections

SEED_SPECS = [ROOT / "hx.yaml", ROOT / "sandbox" / "hx.yaml", *sorted((DATA / "cases").glob("*/hx.yaml"))]


def codes(diagnostics):
    return [(d.code, d.path) for d in diagnostics]


def test_valid_data_gives_a_spec(spec_data):
    spec, found = validate(spec_data)
    assert spec is not None and found == []


def test_unknown_key_points_at_the_key_and_suggests(spec_data):
    spec_data["models"][0]["gpu"] = [0]
    _, found = validate(spec_data)
    assert codes(found) == [("unknown-key", ("models", 0, "gpu"))]
    assert found[0].at == "key"
    assert found[0].hint == "did you mean 'gpus'?"


def test_misspelt_required_key_is_reported_once(spec_data):
    spec_data["models"][0]["parameter_b"] = spec_data["models"][0].pop("parameters_b")
    _, found = validate(spec_data)
    assert codes(found) == [("unknown-key", ("models", 0, "parameter_b"))]
    assert found[0].hint == "did you mean 'parameters_b'?"


def test_missing_key_points_at_its_parent_and_explains_the_field(spec_data):
    del spec_data["models"][0]["port"]
    _, found = validate(spec_data)
    assert codes(found) == [("missing-key", ("models", 0))]
    assert "'port' is required" in found[0].message
    assert "port" in found[0].hint.lower()


def test_invalid_choice_suggests_the_nearest(spec_data):
    spec_data["models"][0]["engine"] = "vlm"
    _, found = validate(spec_data)
    assert codes(found) == [("invalid-choice", ("models", 0, "engine"))]
    assert found[0].hint == "did you mean 'vllm'?"
    assert "'vlm'" in found[0].message


def test_pattern_errors_are_said_in_words(spec_data):
    spec_data["models"][0]["name"] = "Phi_3"
    _, found = validate(spec_data)
    assert codes(found) == [("bad-format", ("models", 0, "name"))]
    assert "lower-case letters" in found[0].hint


def test_all_field_errors_are_reported_together(spec_data):
    spec_data["models"][0]["port"] = 70000
    spec_data["host"]["memory_gb"] = "lots"
    spec_data["host"]["address"] = "300.1.1.1"
    _, found = validate(spec_data)
    assert {d.code for d in found} == {"out-of-range", "wrong-type", "invalid-value"}
    assert len(found) == 3


def test_version_problems_are_reported_alone(spec_data):
    spec_data["version"] = "hx/v2"
    spec_data["models"] = "broken"
    _, found = validate(spec_data)
    assert codes(found) == [("unsupported-version", ("version",))]
    del spec_data["version"]
    _, found = validate(spec_data)
    assert codes(found) == [("missing-version", ())]


def test_non_mapping_documents():
    for data, word in ((None, "empty"), ([1, 2], "list"), ("text", "str")):
        _, found = validate(data)
        assert found[0].code == "not-a-mapping" and word in found[0].message


def test_dotted_paths_and_suggestions():
    assert dotted(("models", 0, "gpus", 1)) == "models[0].gpus[1]"
    assert did_you_mean("Tenants", ["tenants", "routes"]) == "did you mean 'tenants'?"
    assert did_you_mean("zzz", ["tenants"]) is None


def test_infinity_and_nan_are_refused(spec_data):
    spec_data["host"]["memory_gb"] = float("inf")
    spec_data["models"][0]["parameters_b"] = float("nan")
    _, found = validate(spec_data)
    assert [d.code for d in found] == ["wrong-type", "wrong-type"]
    assert all("finite number" in d.message for d in found)


def test_long_inputs_are_shortened_in_messages(spec_data):
    spec_data["models"][0]["port"] = "x" * 500
    _, found = validate(spec_data)
    assert len(found[0].message) < 150 and found[0].message.endswith("...)")


# --- sections validated one by one, so that the cross-field checks of sound ones can run -------


@pytest.mark.parametrize("path", SEED_SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_section_alone_validates_to_what_the_whole_spec_holds(path):
    data = load(path.read_text(), path.name).data
    result = validate_sections(data)
    assert result.spec is not None and result.diagnostics == []
    assert result.sections == {name: getattr(result.spec, name) for name in SECTIONS}
    assert _sound_sections(data) == result.sections


def test_a_section_with_errors_is_left_out_and_the_others_kept(spec_data):
    spec_data["monitoring"]["scrape_interval"] = 15
    spec_data["gateway"]["tenants"][0]["tier"] = "standrd"  # valid as a field; checks judge it
    result = validate_sections(spec_data)
    assert result.spec is None and codes(result.diagnostics) == [("unknown-key", ("monitoring", "scrape_interval"))]
    assert set(result.sections) == set(SECTIONS) - {"monitoring"}
    assert result.sections["gateway"].tenants[0].tier == "standrd"


def test_sections_the_file_leaves_out_take_their_defaults(spec_data):
    assert "databases" not in spec_data
    spec_data["host"]["memory_gb"] = "lots"
    result = validate_sections(spec_data)
    assert "host" not in result.sections
    assert result.sections["databases"].postgres.enabled is True  # the default
    assert result.sections["business"] is None


def test_a_misspelt_section_does_not_count_as_its_default(spec_data):
    spec_data["gatway"] = spec_data.pop("gateway")
    result = validate_sections(spec_data)
    assert codes(result.diagnostics) == [("unknown-key", ("gatway",))]
    assert "gateway" not in result.sections  # its default would make tenant checks lie
    spec_data["x-notes"] = spec_data.pop("gatway")  # a stray key, not a section: nothing else changes
    assert "gateway" in validate_sections(spec_data).sections


def test_required_sections_missing_are_not_sound(spec_data):
    del spec_data["models"]
    result = validate_sections(spec_data)
    assert "models" not in result.sections and "host" in result.sections


def test_unusable_documents_check_no_field():
    for data in (None, [1], {"version": "hx/v9", "host": {}}):
        result = validate_sections(data)
        assert result.fields_checked is False and result.sections == {} and len(result.diagnostics) == 1
