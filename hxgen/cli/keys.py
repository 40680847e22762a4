"""hxgen keys: the gateway's API keys, created, listed and revoked from the command line.

A thin layer over hxgen.keys; it shares the spec loading, reporting and exit codes of hxgen.cli.common.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from ..diagnostics import did_you_mean
from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, SPEC_HELP, load_spec, report, usage

if TYPE_CHECKING:
    from ..pipeline import Outcome

KEYS_DESCRIPTION = """\
Manage the API keys that clients send to the gateway as 'Authorization: Bearer <key>'.

The keys file is inventory/api-keys.yml beside the spec (hx.yaml -> inventory/api-keys.yml,
sandbox/hx.yaml -> sandbox/inventory/api-keys.yml), or the path given with --keys-file.
It holds only the SHA-256 of each key with its id, tenant and dates, never a key: 'create'
prints the new key once and it cannot be shown again. Keep the file out of git; if it is
encrypted with ansible-vault, hxgen decrypts it with ansible-vault (password as usual, e.g.
ANSIBLE_VAULT_PASSWORD_FILE) and writes it back encrypted.

New and revoked keys reach the gateway when the playbook runs:
  ansible-playbook -i inventory playbooks/site.yml --tags gateway

Exit codes: 1 the spec has errors, or the tenant or key id is unknown; 2 bad arguments,
or the spec or the keys file cannot be read, decrypted or written.
"""
KEYS_FILE_HELP = "the keys file (default: inventory/api-keys.yml beside the spec)"
KEYS_FILE = Path("inventory", layout.API_KEYS_FILE)  # beside hosts.yml, which `render` writes


def add_keys_commands(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser(
        "keys",
        help="create, list and revoke the gateway's API keys (only their hashes are stored)",
        description=KEYS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = keys.add_subparsers(title="commands", metavar="COMMAND")
    keys.set_defaults(run=lambda _args: usage(keys))

    create = commands.add_parser(
        "create",
        help="make a key for a tenant, store its hash, print the key once",
        description="Make a key for a tenant of gateway.tenants and store its SHA-256 in the keys file. "
        "The key is printed on stdout, alone, and never again: KEY=$(hxgen keys create --tenant NAME). "
        "Without --expires or --days the key never expires. The gateway accepts the key once the "
        "playbook has run with --tags gateway.",
    )
    create.add_argument("--tenant", required=True, help="a tenant name from gateway.tenants in the spec")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires", type=_iso_date, metavar="YYYY-MM-DD", help="the day the key stops working (from 00:00 UTC)"
    )
    expiry.add_argument("--days", type=_positive_int, metavar="N", help="the key stops working N days from today")
    create.add_argument("--note", type=_one_line, help="free text kept with the key, e.g. who holds it")
    _keys_arguments(create)
    create.set_defaults(run=_keys_create)

    listing = commands.add_parser(
        "list",
        help="show the keys with their tenant, dates and status (never the hashes in text)",
        description="Show every key in the keys file: id, tenant, created, expires and status. "
        "Status is ok, expired (its expiry date has come) or unknown-tenant (its tenant is no longer in "
        "the spec). A missing keys file lists nothing.",
    )
    listing.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json prints a list of entries, with their sha256 and status, on stdout",
    )
    _keys_arguments(listing)
    listing.set_defaults(run=_keys_list)

    revoke = commands.add_parser(
        "revoke",
        help="remove a key from the keys file",
        description="Remove the key with this id from the keys file. The gateway keeps accepting it until "
        "the playbook runs again: ansible-playbook -i inventory playbooks/site.yml --tags gateway. "
        "Revoking does not need a valid spec, only its location.",
    )
    revoke.add_argument("id", help="the key's id: the 8 hex digits after 'hx-' (see `hxgen keys list`)")
    _keys_arguments(revoke)
    revoke.set_defaults(run=_keys_revoke)


def _keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", default="hx.yaml", type=Path, help=SPEC_HELP)
    parser.add_argument("--keys-file", type=Path, metavar="PATH", help=KEYS_FILE_HELP)


def _iso_date(text: str) -> dt.date:
    try:
        if not (len(text) == 10 and text[4] == text[7] == "-"):  # fromisoformat also takes 20270224, 2027-W08
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days of at least 1")
    return int(text)


def _one_line(text: str) -> str:
    if not text.isprintable():
        raise argparse.ArgumentTypeError("a note is one line of printable text")
    return text


def _utc_today() -> dt.date:
    # The gateway compares expiry dates with the UTC clock: a key stops working at 00:00 UTC.
    return dt.datetime.now(dt.UTC).date()


def _keys_file(args: argparse.Namespace) -> Path:
    return args.keys_file if args.keys_file is not None else args.spec.parent / KEYS_FILE


def _gateway_playbook(spec_path: Path) -> str:
    return f"ansible-playbook -i {spec_path.parent / 'inventory'} playbooks/site.yml --tags gateway"


def _valid_spec(spec_path: Path) -> tuple[Outcome | None, int]:
    """The outcome of a spec without errors, or None and the exit code after reporting why."""
    outcome = load_spec(spec_path)
    if outcome is None:
        return None, EXIT_USAGE
    if not outcome.passed():
        return None, report(outcome, spec_path, strict=False)
    return outcome, EXIT_OK


def _keys_file_failed(exc: Exception) -> int:
    print(f"hxgen: {exc}", file=sys.stderr)
    hint = getattr(exc, "hint", None)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    return EXIT_USAGE


def _keys_create(args: argparse.Namespace) -> int:
    from .. import keys

    outcome, status = _valid_spec(args.spec)
    if outcome is None:
        return status
    tenants = [t.name for t in outcome.spec.gateway.tenants]
    if args.tenant not in tenants:
        return _unknown_tenant(args.tenant, tenants, args.spec)
    today = _utc_today()
    try:
        expires = today + dt.timedelta(days=args.days) if args.days else args.expires
    except OverflowError:
        print(f"hxgen: --days {args.days} is past the end of the calendar", file=sys.stderr)
        return EXIT_USAGE
    if expires is not None and expires <= today:
        print(f"hxgen: --expires {expires} is not in the future (today is {today})", file=sys.stderr)
        return EXIT_USAGE
    path = _keys_file(args)
    try:
        entries = keys.load_entries(path)
        key_id, key = keys.new_key({e.id for e in entries})
        entry = keys.KeyEntry(key_id, args.tenant, keys.hash_key(key), today, expires, args.note)
        keys.save_entries(path, [*entries, entry])
    except keys.KeysFileError as exc:
        return _keys_file_failed(exc)
    print(key)
    print(
        f"hxgen: key {key_id} for tenant {args.tenant} stored as a hash in {path} "
        f"({f'expires {expires}' if expires else 'never expires'}); it is not shown again",
        file=sys.stderr,
    )
    print(f"  next: {_gateway_playbook(args.spec)} so the gateway accepts it", file=sys.stderr)
    return EXIT_OK


def _unknown_tenant(name: str, tenants: list[str], spec_path: Path) -> int:
    if not tenants:
        print(f"hxgen: {spec_path} has no gateway.tenants; add tenant '{name}' there first", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"hxgen: no tenant '{name}' in gateway.tenants of {spec_path}; known tenants: {', '.join(tenants)}",
        file=sys.stderr,
    )
    suggestion = did_you_mean(name, tenants)
    if suggestion:
        print(f"  hint: {suggestion}", file=sys.stderr)
    return EXIT_INVALID


def _keys_list(args: argparse.Namespace) -> int:
    from .. import keys

    outcome, status = _valid_spec(args.spec)
    if outcome is None:
        return status
    path = _keys_file(args)
    try:
        entries = keys.load_entries(path)
    except keys.KeysFileError as exc:
        return _keys_file_failed(exc)
    tenants = {t.name for t in outcome.spec.gateway.tenants}
    today = _utc_today()
    rows = [(entry, entry.status(tenants, today)) for entry in entries]
    if args.format == "json":
        print(json.dumps([{**entry.as_dict(), "status": state} for entry, state in rows], indent=2))
        return EXIT_OK
    if not rows:
        print(f"hxgen: no API keys in {path}", file=sys.stderr)
        return EXIT_OK
    table = [("ID", "TENANT", "CREATED", "EXPIRES", "STATUS", "NOTE")] + [
        (e.id, e.tenant, str(e.created), str(e.expires or "never"), state, e.note or "") for e, state in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    from .. import keys

    # Only the spec's location matters: revoking a leaked key must not wait for a spec fix.
    path = _keys_file(args)
    try:
        entries = keys.load_entries(path)
        entry = keys.find(entries, args.id)
        if entry is None:
            return _unknown_key(args.id, [e.id for e in entries], path)
        keys.save_entries(path, [e for e in entries if e is not entry])
    except keys.KeysFileError as exc:
        return _keys_file_failed(exc)
    print(f"hxgen: key {entry.id} of tenant {entry.tenant} revoked: removed from {path}", file=sys.stderr)
    print(f"  next: {_gateway_playbook(args.spec)} so the gateway stops accepting it", file=sys.stderr)
    return EXIT_OK


def _unknown_key(key_id: str, known: list[str], path: Path) -> int:
    print(f"hxgen: no key '{key_id}' in {path}; known ids: {', '.join(known) or 'none'}", file=sys.stderr)
    suggestion = did_you_mean(key_id, known)
    if suggestion:
        print(f"  hint: {suggestion}", file=sys.stderr)
    return EXIT_INVALID
