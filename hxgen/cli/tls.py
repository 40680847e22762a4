"""hxgen tls: rotate the gateway's internal CA, with an overlap, and show where a rotation stands.

A thin layer over hxgen.tls_ca; it shares the spec loading, reporting and exit codes of hxgen.cli.common.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, SPEC_HELP, load_spec, report, usage

TLS_DESCRIPTION = """\
Rotate the internal CA that signs the gateway's certificate (gateway.tls.mode: internal-ca).

The state is inventory/tls-ca.yml beside the spec (hx.yaml -> inventory/tls-ca.yml), or the
path given with --ca-file: the CA generation the host should have and the day the overlap
ends. The CA key is generated on the host by the next converge and never leaves it.

A rotation, step by step:
  1. hxgen tls rotate-ca --overlap-days 30
  2. ansible-playbook -i inventory playbooks/site.yml --tags gateway
     The host generates the new CA and publishes /etc/hx/tls/ca.crt with BOTH CAs; the
     gateway keeps serving a certificate from the old CA, so nothing breaks.
  3. During the overlap, give clients the new ca.crt (it trusts both CAs).
  4. On the overlap's last day + 1 (UTC) the host's daily timer (or any converge) re-issues the
     certificate from the new CA and removes the old CA from the bundle and the host.
--overlap-days 0 switches at the next converge (a compromised CA key): clients that trust
only the old CA fail until they get the new bundle.

Exit codes: 1 the spec has errors, its TLS mode is not internal-ca, or a rotation is still
in its overlap (pass --force to start another); 2 bad arguments, or the file cannot be read
or written.
"""
CA_FILE = Path("inventory", layout.TLS_CA_FILE)  # beside hosts.yml, which `render` writes
DEFAULT_OVERLAP_DAYS = 30

if TYPE_CHECKING:
    from ..tls_ca import CaState


def add_tls_commands(sub: argparse._SubParsersAction) -> None:
    tls = sub.add_parser(
        "tls",
        help="rotate the gateway's internal CA with an overlap, and show the rotation's state",
        description=TLS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = tls.add_subparsers(title="commands", metavar="COMMAND")
    tls.set_defaults(run=lambda _args: usage(tls))

    rotate = commands.add_parser(
        "rotate-ca",
        help="ask the next converge for a new CA generation; the old one signs until the overlap ends",
        description="Raise the CA generation in the state file and set the day the overlap ends "
        f"(today + --overlap-days, default {DEFAULT_OVERLAP_DAYS}, UTC). Until then the host's bundle "
        "ca.crt holds both CAs and the old CA still signs the certificate; from that day the new CA "
        "signs and the old one is removed. Run the gateway playbook afterwards.",
    )
    rotate.add_argument(
        "--overlap-days",
        type=_days,
        default=DEFAULT_OVERLAP_DAYS,
        metavar="N",
        help=f"days both CAs are trusted before the switch (default {DEFAULT_OVERLAP_DAYS}; 0: switch at once)",
    )
    rotate.add_argument("--force", action="store_true", help="rotate even while the previous rotation overlaps")
    _tls_arguments(rotate)
    rotate.set_defaults(run=_rotate_ca)

    status = commands.add_parser(
        "status",
        help="print the CA generation and the overlap as JSON",
        description="Print {generation, overlap_until, in_overlap} from the state file on stdout. "
        "A missing file means generation 1, no overlap.",
    )
    _tls_arguments(status)
    status.set_defaults(run=_status)


def _tls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", default="hx.yaml", type=Path, help=SPEC_HELP)
    parser.add_argument(
        "--ca-file", type=Path, metavar="PATH", help="the state file (default: inventory/tls-ca.yml beside the spec)"
    )


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 3650:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days from 0 to 3650")
    return int(text)


def _utc_today() -> dt.date:
    # The host's script compares the overlap's end with the UTC date.
    return dt.datetime.now(dt.UTC).date()


def _ca_file(args: argparse.Namespace) -> Path:
    return args.ca_file if args.ca_file is not None else args.spec.parent / CA_FILE


def _failed(exc: Exception) -> int:
    print(f"hxgen: {exc}", file=sys.stderr)
    hint = getattr(exc, "hint", None)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    return EXIT_USAGE


def _rotate_ca(args: argparse.Namespace) -> int:
    from .. import tls_ca

    outcome = load_spec(args.spec)
    if outcome is None:
        return EXIT_USAGE
    if not outcome.passed():
        return report(outcome, args.spec, strict=False)
    mode = outcome.spec.gateway.tls.mode
    if mode != "internal-ca" or not outcome.spec.gateway.enabled:
        print(
            f"hxgen: {args.spec} has no internal CA to rotate (gateway.tls.mode is '{mode}'"
            f"{'' if outcome.spec.gateway.enabled else ', the gateway is disabled'})",
            file=sys.stderr,
        )
        return EXIT_INVALID
    path, today = _ca_file(args), _utc_today()
    try:
        state = tls_ca.load(path)
        if state.in_overlap(today) and not args.force:
            print(
                f"hxgen: CA generation {state.generation} still overlaps with the previous one until "
                f"{state.overlap_until}; rotate after that, or pass --force",
                file=sys.stderr,
            )
            return EXIT_INVALID
        new = state.rotated(today, args.overlap_days)
        tls_ca.save(path, new)
    except tls_ca.CaStateError as exc:
        return _failed(exc)
    when = f"from {new.overlap_until} (UTC)" if new.overlap_until else "at the next converge"
    print(
        f"hxgen: CA generation {new.generation} in {path}; it signs the gateway's certificate {when}, "
        f"and generation {state.generation} leaves the bundle then",
        file=sys.stderr,
    )
    inventory = args.spec.parent / "inventory"
    print(f"  next: ansible-playbook -i {inventory} playbooks/site.yml --tags gateway", file=sys.stderr)
    print(json.dumps(_as_dict(new, today)))
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from .. import tls_ca

    try:
        state = tls_ca.load(_ca_file(args))
    except tls_ca.CaStateError as exc:
        return _failed(exc)
    print(json.dumps(_as_dict(state, _utc_today())))
    return EXIT_OK


def _as_dict(state: CaState, today: dt.date) -> dict:
    return {
        "generation": state.generation,
        "overlap_until": state.overlap_until.isoformat() if state.overlap_until else None,
        "in_overlap": state.in_overlap(today),
    }
