"""load -> validate -> check, stopping where the spec stops making sense; render_file adds
plan -> render. This module is the library's one composition of the stages: the CLI, tests and
benchmarks call it rather than chaining the stages themselves (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import CheckRun, run_section_checks
from .diagnostics import Diagnostic, Located, note
from .loader import Source, SpecLoadError, load
from .spec import Spec
from .validation import Validation, validate_sections

if TYPE_CHECKING:
    from .plan import Plan
    from .render import Artifact


@dataclass(frozen=True)
class Outcome:
    spec: Spec | None
    diagnostics: list[Located]

    @property
    def errors(self) -> list[Located]:
        return [d for d in self.diagnostics if d.diagnostic.severity == "error"]

    @property
    def warnings(self) -> list[Located]:
        return [d for d in self.diagnostics if d.diagnostic.severity == "warning"]

    def passed(self, strict: bool = False) -> bool:
        return self.spec is not None and not self.errors and not (strict and self.warnings)


def check_text(text: str, name: str = "hx.yaml") -> Outcome:
    """Every problem in one pass: the cross-field checks run on every section that validated.

    What cannot be checked yet (a file that is not YAML, checks reading a section with errors)
    is said in a final note, so that a short list is never mistaken for a complete one.
    """
    try:
        source = load(text, name)
    except SpecLoadError as exc:
        return Outcome(None, [Located(name, *exc.position, exc.diagnostic), _nothing_else_checked(name)])
    validation = validate_sections(source.data)
    checked = run_section_checks(validation.sections)
    located = _locate(source, validation.diagnostics + checked.diagnostics)
    return Outcome(validation.spec, located + _not_checked(name, validation, checked))


def check_file(path: Path, display_name: str | None = None) -> Outcome:
    """Raises OSError when the file cannot be read; bad content becomes diagnostics."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Outcome(
            None,
            [
                Located(
                    name,
                    1,
                    1,
                    Diagnostic(
                        "error",
                        "encoding",
                        f"the file is not valid UTF-8 (byte {exc.start})",
                        hint="save the file as UTF-8",
                    ),
                )
            ],
        )
    return check_text(text, name)


def _nothing_else_checked(name: str) -> Located:
    return Located(name, 0, 0, note("not-checked", "nothing else was checked; fix the error above and validate again"))


def _not_checked(name: str, validation: Validation, checked: CheckRun) -> list[Located]:
    """The note that ends a report whose checks could not all run (none when they did)."""
    if not validation.fields_checked:
        return [_nothing_else_checked(name)]
    if not checked.skipped:
        return []
    sections = checked.waiting_on
    listed = ", ".join(sections[:-1]) + f" or {sections[-1]}" if len(sections) > 1 else sections[0]
    message = f"the cross-field checks that read {listed} were skipped; fix the errors above and validate again"
    return [Located(name, 0, 0, note("checks-skipped", message))]


def _locate(source: Source, found: list[Diagnostic]) -> list[Located]:
    located = [Located(source.name, *source.locate(d.path, d.at), d) for d in found]
    # File order reads like the file; errors before warnings at the same place.
    return sorted(located, key=lambda x: (x.line, x.column, x.diagnostic.severity != "error", x.diagnostic.message))


@dataclass(frozen=True)
class Rendered:
    """The whole pipeline's result: the checked spec, and when it has no errors, its Plan and
    the artifacts rendered from it (nothing written yet)."""

    outcome: Outcome
    plan: Plan | None
    artifacts: list[Artifact]


def render_text(text: str, name: str = "hx.yaml") -> Rendered:
    """load -> validate -> check -> plan -> render, for a spec held in memory."""
    return _rendered(check_text(text, name), Path(name).name)


def render_file(path: Path, display_name: str | None = None) -> Rendered:
    """load -> validate -> check -> plan -> render for a spec file: the one composition of the
    stages that the CLI, tests and benchmarks share. Raises OSError when the file cannot be
    read; generated files name it by its file name (no directory)."""
    return _rendered(check_file(path, display_name), Path(path).name)


def _rendered(outcome: Outcome, spec_file: str) -> Rendered:
    # Imported here: validating needs neither the planner nor the renderers and their templates.
    from .plan import build_plan
    from .render import render

    if outcome.spec is None or outcome.errors:
        return Rendered(outcome, None, [])
    plan = build_plan(outcome.spec, spec_file)
    return Rendered(outcome, plan, render(plan))
