"""hxgen validate: every problem of the spec, with file:line:col."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, SPEC_HELP, STRICT_HELP, load_spec, report


def add_validate_command(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser(
        "validate",
        help="check the spec and report every problem with file:line:col",
        description="Check the spec: types, ranges, unknown keys, references, GPU and memory budgets, SLOs. "
        "All problems are reported at once, on stderr, as FILE:LINE:COL: SEVERITY[CODE]: MESSAGE.",
    )
    validate.add_argument("spec", nargs="?", default="hx.yaml", type=Path, help=SPEC_HELP)
    validate.add_argument("--strict", action="store_true", help=STRICT_HELP)
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json prints the diagnostics as a JSON document on stdout",
    )
    validate.set_defaults(run=_validate)


def _validate(args: argparse.Namespace) -> int:
    outcome = load_spec(args.spec)
    if outcome is None:
        return EXIT_USAGE
    if args.format == "json":
        document = {
            "file": str(args.spec),
            "ok": outcome.passed(args.strict),
            "errors": len(outcome.errors),
            "warnings": len(outcome.warnings),
            "diagnostics": [d.as_dict() for d in outcome.diagnostics],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK if outcome.passed(args.strict) else EXIT_INVALID
    return report(outcome, args.spec, args.strict)
