"""hxgen schema: the JSON Schema of hx.yaml, for editors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_OK, EXIT_STALE


def add_schema_command(sub: argparse._SubParsersAction) -> None:
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


def _schema(args: argparse.Namespace) -> int:
    from ..schema import schema_text

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
