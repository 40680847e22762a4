"""Turn plain data into a Spec, translating pydantic's errors into diagnostics."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from .diagnostics import Diagnostic, SpecPath, did_you_mean, error
from .spec import SPEC_VERSION, Spec
from .spec.common import NAME_PATTERN, StrictModel

# Patterns are precise but unreadable; these say the same thing in words.
PATTERN_WORDS = {
    NAME_PATTERN: "use lower-case letters, digits and '-', start with a letter, end with a letter or digit, "
    "at most 48 characters",
    r"^/.*$": "give an absolute path (starting with '/')",
    r"^[\w.-]+/[\w.-]+$": "give a Hugging Face repository id such as 'org/model-name'",
    r"^[a-z_][a-z0-9_]{0,62}$": "use a PostgreSQL identifier: lower-case letters, digits and '_', at most 63",
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$": "use letters, digits and . _ : / - (no spaces), at most 128 characters",
    r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$": "give a DNS name such as 'llm.example.com'",
    r"^[A-Z]{3}$": "use a three-letter ISO 4217 currency code such as 'USD' or 'EUR'",
    r"^https?://[^\s/?#]+[^\s]*$": "give an http:// or https:// URL",
}

CODES = {
    "missing": "missing-key",
    "extra_forbidden": "unknown-key",
    "literal_error": "invalid-choice",
    "enum": "invalid-choice",
    "string_pattern_mismatch": "bad-format",
    "value_error": "invalid-value",
    "too_short": "too-short",
    "too_long": "too-long",
}
RANGE_KINDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
OUT_OF_RANGE, WRONG_TYPE = "out-of-range", "wrong-type"


# The top-level sections, in the order the Spec declares them (version is checked first, alone).
SECTIONS: tuple[str, ...] = tuple(name for name in Spec.model_fields if name != "version")


@dataclass(frozen=True)
class Validation:
    """What validation made of the data.

    `spec` is the whole Spec when every section is valid. `sections` holds each top-level
    section that is valid on its own (its default when the file leaves it out), so that the
    cross-field checks reading only those can run while another section still has errors.
    """

    spec: Spec | None
    sections: dict[str, Any]
    diagnostics: list[Diagnostic]
    fields_checked: bool = True
    """False when the document or its version was unusable, so no section was looked at."""


def validate(data: Any) -> tuple[Spec | None, list[Diagnostic]]:
    result = validate_sections(data)
    return result.spec, result.diagnostics


def validate_sections(data: Any) -> Validation:
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        problem = error(
            "not-a-mapping",
            f"the spec is {kind}; it must be a mapping of sections",
            hint=f"a spec starts with 'version: {SPEC_VERSION}', then 'host:' and 'models:' sections",
        )
        return Validation(None, {}, [problem], fields_checked=False)
    version_problem = _check_version(data)
    if version_problem:
        return Validation(None, {}, [version_problem], fields_checked=False)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        # The whole-Spec errors are the ones reported (they are what the user must fix); the
        # sections are validated again one by one only to learn which of them are sound.
        found = _merge_typos([_translate(e) for e in exc.errors(include_url=False)])
        return Validation(None, _sound_sections(data), found)
    return Validation(spec, {name: getattr(spec, name) for name in SECTIONS}, [])


def _sound_sections(data: dict) -> dict[str, Any]:
    """Every section that validates on its own, except one the file may have misspelt.

    A top-level key such as 'gatway' leaves 'gateway' at its default, which is not what the
    user wrote: checks that compared other sections against that default would report errors
    that are not there. Such a section counts as not valid.
    """
    misspelt = {_nearest_section(key) for key in data if key not in Spec.model_fields}
    sound = {}
    for name in SECTIONS:
        if name in misspelt:
            continue
        try:
            holder = _section_model(name).model_validate({name: data[name]} if name in data else {})
        except ValidationError:
            continue
        sound[name] = getattr(holder, name)
    return sound


def _nearest_section(key: object) -> str | None:
    """The section the unknown-key hint suggests for `key`, if any."""
    hint = did_you_mean(str(key), Spec.model_fields)
    return hint.split("'")[1] if hint else None


@functools.cache
def _section_model(name: str) -> type[BaseModel]:
    """A model holding only the Spec's field `name`, with its annotation, default and constraints."""
    field = Spec.model_fields[name]
    return create_model(f"Spec_{name}", __base__=StrictModel, **{name: (field.annotation, field)})


def _check_version(data: dict) -> Diagnostic | None:
    """A wrong version would make every other message misleading, so it is reported alone."""
    version = data.get("version")
    if version == SPEC_VERSION:
        return None
    if version is None:
        return error("missing-version", f"the spec has no 'version'; add 'version: {SPEC_VERSION}' as its first line")
    return error(
        "unsupported-version",
        f"version '{version}' is not supported; this hxgen reads '{SPEC_VERSION}'",
        path=("version",),
        hint="upgrade hxgen, or port the file to the version above",
    )


def _translate(e: dict) -> Diagnostic:
    kind, loc, ctx = e["type"], tuple(e["loc"]), e.get("ctx") or {}
    code = CODES.get(kind) or (OUT_OF_RANGE if kind in RANGE_KINDS else WRONG_TYPE)
    message, hint = _message(e), None
    if kind == "extra_forbidden":
        removed = getattr(_model_at(loc[:-1]), "removed_keys", {}).get(str(loc[-1]))
        if removed:
            return error("removed-key", removed, loc, at="key")
        fields = _fields_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), fields) or (f"allowed keys: {', '.join(fields)}" if fields else None)
        return error(code, "unknown key", loc, hint, at="key")
    if kind == "missing":
        return error(code, f"'{loc[-1]}' is required", loc[:-1], hint=_field_doc(loc))
    if kind == "literal_error":
        hint = did_you_mean(str(e["input"]), _literal_choices(ctx.get("expected", "")))
    if kind == "string_pattern_mismatch":
        hint = PATTERN_WORDS.get(ctx.get("pattern"))
        message = f"'{e['input']}' is not in the expected form"
    return error(code, message, loc, hint)


def _merge_typos(found: list[Diagnostic]) -> list[Diagnostic]:
    """A misspelt required key shows up twice (unknown + missing); report it once, at the typo."""
    suggested = {(d.path[:-1], d.hint) for d in found if d.code == "unknown-key"}
    return [
        d
        for d in found
        if not (d.code == "missing-key" and (d.path, f"did you mean '{_missing_name(d)}'?") in suggested)
    ]


def _missing_name(d: Diagnostic) -> str:
    return d.message.split("'")[1]


def _message(e: dict) -> str:
    msg = e["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    msg = msg[:1].lower() + msg[1:]
    shown = e.get("input")
    if isinstance(shown, (dict, list)) and e["type"].endswith("_type"):
        msg += f" (got a {'mapping' if isinstance(shown, dict) else 'list'})"
    elif e["type"] not in {"value_error", "missing"} and not isinstance(shown, (dict, list)):
        text = repr(shown)
        msg += f" (got {text[:57] + '...' if len(text) > 60 else text})"
    return msg


def _literal_choices(expected: str) -> list[str]:
    return [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",") if part.strip()]


def _model_at(loc: SpecPath) -> type[BaseModel] | None:
    """Follow the annotations of Spec along `loc` to the model that holds its last key."""
    annotation: Any = Spec
    for part in loc:
        annotation = _unwrap(annotation, list_item=isinstance(part, int))
        if isinstance(part, int):
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        field = annotation.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
    annotation = _unwrap(annotation, list_item=False)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any, list_item: bool) -> Any:
    """Strip Optional[...] and, when indexing, list[...] around a model."""
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
        elif list_item and origin is list:
            return args[0]
        else:
            return annotation


def _fields_at(loc: SpecPath) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model else []


def _field_doc(loc: SpecPath) -> str | None:
    model = _model_at(loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model else None
    return f"{loc[-1]}: {field.description}" if field and field.description else None
