"""What every hxgen command shares: exit codes, reading the spec, reporting diagnostics, help."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..diagnostics import summary

if TYPE_CHECKING:  # the pipeline (pydantic, the spec models) loads only for commands that read a spec
    from ..pipeline import Outcome

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_STALE, EXIT_UNAVAILABLE, EXIT_DENIED = 0, 1, 2, 3, 4, 5

SPEC_HELP = "the spec file (default: ./hx.yaml)"
STRICT_HELP = "treat warnings as errors"


def usage(parser: argparse.ArgumentParser) -> int:
    """A command given without its subcommand: the help on stderr, and the usage exit code."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def load_spec(spec_path: Path) -> Outcome | None:
    """The checked spec, or None after saying why the file cannot be read."""
    from ..pipeline import check_file

    try:
        return check_file(spec_path)
    except OSError as exc:
        cannot_read(spec_path, exc)
        return None


def cannot_read(spec_path: Path, exc: OSError) -> None:
    print(f"{spec_path}: error[unreadable]: {exc.strerror or exc}", file=sys.stderr)
    if not spec_path.exists():
        print("  hint: pass the spec's path, or run hxgen where hx.yaml is", file=sys.stderr)


def report(outcome: Outcome, spec_path: Path, strict: bool) -> int:
    """Print the diagnostics and a verdict on stderr; return the exit code they mean."""
    for located in outcome.diagnostics:
        print(located.format(), file=sys.stderr)
    verdict = "ok" if outcome.passed(strict) else "failed"
    print(f"{spec_path}: {verdict}: {summary(outcome.diagnostics)}", file=sys.stderr)
    return EXIT_OK if outcome.passed(strict) else EXIT_INVALID
