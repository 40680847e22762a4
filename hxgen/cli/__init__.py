"""hxgen: validate hx.yaml and render what Ansible needs.

Exit codes:
  0  success
  1  the spec has errors (or warnings, with --strict)
  2  the command could not run: bad arguments, or the spec file cannot be read
  3  --check found generated files that differ from what the spec renders
  4  a data source or host could not be read or reached (hxgen report: Prometheus or PostgreSQL;
     hxgen keys|rollout --host: the gateway, its TLS certificate, or hx-control behind it)
  5  the host refused the API key, or its role may not do that (hxgen keys|rollout --host)
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from .analyze import add_analyze_commands
from .audit import add_audit_commands
from .common import EXIT_INVALID, EXIT_OK, EXIT_STALE, EXIT_USAGE, usage
from .keys import add_keys_commands
from .render import add_render_command
from .report import add_report_command
from .rollout import add_rollout_commands
from .schema import add_schema_command
from .tls import add_tls_commands
from .validate import add_validate_command

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_STALE", "EXIT_USAGE", "main"]


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
    add_validate_command(sub)
    add_render_command(sub)
    add_schema_command(sub)
    add_keys_commands(sub)
    add_rollout_commands(sub)
    add_analyze_commands(sub)
    add_tls_commands(sub)
    add_audit_commands(sub)
    add_report_command(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
