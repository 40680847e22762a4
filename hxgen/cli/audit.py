"""hxgen audit verify: check a copy of the audit log (and its signed head) anywhere hxgen runs.

A thin layer over hxgen.audit; the host's `hx-audit verify` is the same command.
"""

from __future__ import annotations

import argparse

from .common import usage


def add_audit_commands(sub: argparse._SubParsersAction) -> None:
    from ..audit.verify_command import VERIFY_DESCRIPTION, add_verify_arguments

    audit = sub.add_parser(
        "audit",
        help="verify the tamper-evident audit log (hash chain and signed head)",
        description="Commands on hx's audit log. The log is written on the host by hx-audit.",
    )
    commands = audit.add_subparsers(title="commands", metavar="COMMAND")
    audit.set_defaults(run=lambda _args: usage(audit))
    verify = commands.add_parser(
        "verify",
        help="report the first broken record, or a one-line summary",
        description=VERIFY_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verify_arguments(verify)
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    from ..audit.verify_command import run_verify

    return run_verify(args)
