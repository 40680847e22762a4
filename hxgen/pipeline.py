"""load -> validate -> check, stopping where the spec stops making sense."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checks import run_checks
from .diagnostics import Diagnostic, Located
from .loader import Source, SpecLoadError, load
from .spec import Spec
from .validation import validate


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
    try:
        source = load(text, name)
    except SpecLoadError as exc:
        return Outcome(None, [Located(name, *exc.position, exc.diagnostic)])
    spec, found = validate(source.data)
    if spec is not None:
        found += run_checks(spec)
    return Outcome(spec, _locate(source, found))


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


def _locate(source: Source, found: list[Diagnostic]) -> list[Located]:
    located = [Located(source.name, *source.locate(d.path, d.at), d) for d in found]
    # File order reads like the file; errors before warnings at the same place.
    return sorted(located, key=lambda x: (x.line, x.column, x.diagnostic.severity != "error", x.diagnostic.message))
