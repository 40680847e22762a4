"""hxgen: validate hx.yaml and render what Ansible needs.

Exit codes:
  0  success
  1  the spec has errors (or warnings, with --strict)
  2  the command could not run: bad arguments, or the spec file cannot be read
  3  --check found generated files that differ from what the spec renders
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .diagnostics import summary
from .pipeline import Outcome, check_file

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_STALE = 0, 1, 2, 3

SPEC_HELP = "the spec file (default: ./hx.yaml)"
STRICT_HELP = "treat warnings as errors"


def usage(parser: argparse.ArgumentParser) -> int:
    """A command given without its subcommand: the help on stderr, and the usage exit code."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        return usage(parser)
    try:
        return args.run(args)
    except BrokenPipeError:  # `hxgen ... | head` is fine
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hxgen",
        description="Validate hx.yaml and render the Ansible inventory and configuration it implies.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hxgen {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

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

    render = sub.add_parser(
        "render",
        help="write the inventory and rendered files (or check that they are current)",
        description="Validate, then write OUT/inventory/hosts.yml, OUT/inventory/group_vars/hx/ and OUT/rendered/. "
        "hxgen owns these paths: files in them that the spec no longer produces are removed. "
        "Keep hand-written inventory beside them (e.g. inventory/host_vars/).",
    )
    render.add_argument("spec", nargs="?", default="hx.yaml", type=Path, help=SPEC_HELP)
    render.add_argument("--out", type=Path, help="output directory (default: the spec file's directory)")
    render.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print a diff and exit 3 if the files on disk are stale",
    )
    render.add_argument("--strict", action="store_true", help=STRICT_HELP)
    render.set_defaults(run=_render)

    schema = sub.add_parser(
        "schema",
        help="write the JSON Schema of hx.yaml (for editors)",
        description="Write the JSON Schema that editors use to complete and check hx.yaml.",
    )
    schema.add_argument(
        "--out",
        type=Path,
        default=Path("schemas/hx.schema.json"),
        help="where to write it (default: schemas/hx.schema.json); '-' for stdout",
    )
    schema.add_argument("--check", action="store_true", help="write nothing; exit 3 if the file is stale")
    schema.set_defaults(run=_schema)

    from .keys_cli import add_keys_commands  # here: it imports this module

    add_keys_commands(sub)
    from .analytics_cli import add_analyze_commands

    add_analyze_commands(sub)
    return parser


def load_spec(spec_path: Path) -> Outcome | None:
    """The checked spec, or None after saying why the file cannot be read."""
    try:
        return check_file(spec_path)
    except OSError as exc:
        print(f"{spec_path}: error[unreadable]: {exc.strerror or exc}", file=sys.stderr)
        if not spec_path.exists():
            print("  hint: pass the spec's path, or run hxgen where hx.yaml is", file=sys.stderr)
        return None


def report(outcome: Outcome, spec_path: Path, strict: bool) -> int:
    """Print the diagnostics and a verdict on stderr; return the exit code they mean."""
    for located in outcome.diagnostics:
        print(located.format(), file=sys.stderr)
    verdict = "ok" if outcome.passed(strict) else "failed"
    print(f"{spec_path}: {verdict}: {summary(outcome.diagnostics)}", file=sys.stderr)
    return EXIT_OK if outcome.passed(strict) else EXIT_INVALID


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


def _render(args: argparse.Namespace) -> int:
    from . import writer
    from .plan import build_plan
    from .render import OWNED, render

    outcome = load_spec(args.spec)
    if outcome is None:
        return EXIT_USAGE
    status = (
        report(outcome, args.spec, args.strict) if outcome.diagnostics or not outcome.passed(args.strict) else EXIT_OK
    )
    if status != EXIT_OK:
        return status
    out_dir = args.out if args.out is not None else args.spec.parent
    artifacts = render(build_plan(outcome.spec, args.spec.name))
    changes = writer.compare(out_dir, artifacts, OWNED)
    if args.check:
        if changes.stale:
            sys.stdout.write(writer.diff(out_dir, artifacts, changes))
            print(
                f"hxgen: {len(changes.written) + len(changes.removed)} generated file(s) are stale; "
                f"run: hxgen render {args.spec}",
                file=sys.stderr,
            )
            return EXIT_STALE
        print(f"hxgen: {len(changes.unchanged)} generated files are current", file=sys.stderr)
        return EXIT_OK
    writer.write(out_dir, artifacts, changes)
    for path in changes.written:
        print(f"wrote {out_dir / path}")
    for path in changes.removed:
        print(f"removed {out_dir / path}")
    print(
        f"hxgen: {len(changes.written)} written, {len(changes.removed)} removed, {len(changes.unchanged)} unchanged",
        file=sys.stderr,
    )
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from .schema import schema_text

    text = schema_text()
    if str(args.out) == "-":
        sys.stdout.write(text)
        return EXIT_OK
    current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
    if args.check:
        if current != text:
            print(f"hxgen: {args.out} is stale; run: hxgen schema", file=sys.stderr)
            return EXIT_STALE
        return EXIT_OK
    if current != text:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return EXIT_OK


# --- hxgen keys ----------------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main())
