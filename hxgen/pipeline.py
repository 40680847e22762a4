"""load -> validate -> check, stopping where the spec stops making sense."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checks import CheckRun, run_section_checks
from .diagnostics import Diagnostic, Located, note
from .loader import Source, SpecLoadError, load
from .spec import Spec
from .validation import Validation, validate_sections


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
