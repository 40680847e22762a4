"""hxgen render: write the inventory and rendered files, or check that they are current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_OK, EXIT_STALE, EXIT_USAGE, SPEC_HELP, STRICT_HELP, cannot_read, report


def add_render_command(sub: argparse._SubParsersAction) -> None:
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


def _render(args: argparse.Namespace) -> int:
    # Imported here: the other commands start without the renderers and their templates.
    from .. import writer
    from ..pipeline import render_file
    from ..render import OWNED

    try:
        rendered = render_file(args.spec)
    except OSError as exc:
        cannot_read(args.spec, exc)
        return EXIT_USAGE
    outcome = rendered.outcome
    status = (
        report(outcome, args.spec, args.strict) if outcome.diagnostics or not outcome.passed(args.strict) else EXIT_OK
    )
    if status != EXIT_OK:
        return status
    out_dir = args.out if args.out is not None else args.spec.parent
    artifacts = rendered.artifacts
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
