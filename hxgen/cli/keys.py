"""hxgen keys: the gateway's API keys, created, listed and revoked from the command line.

A thin layer over hxgen.keys (the controller's keys file) and, with --host, over the generated
client of a live host's management API (hxgen.cli.keys_host); it shares the spec loading,
reporting and exit codes of hxgen.cli.common.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from ..contracts.control import ROTATE_OVERLAP_HOURS_MAX
from ..diagnostics import did_you_mean
from . import keys_host
from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, SPEC_HELP, load_spec, report, usage

if TYPE_CHECKING:
    from ..pipeline import Outcome

KEYS_DESCRIPTION = (
    """\
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
    + keys_host.HOST_HELP
)
KEYS_FILE_HELP = "the keys file (default: inventory/api-keys.yml beside the spec)"
KEYS_FILE = Path("inventory", layout.API_KEYS_FILE)  # beside hosts.yml, which `render` writes


def add_keys_commands(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser(
        "keys",
        help="create, list, rotate and revoke the gateway's API keys, in the keys file or on a live host",
        description=KEYS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = keys.add_subparsers(title="commands", metavar="COMMAND")
    keys.set_defaults(run=lambda _args: usage(keys))

    create = commands.add_parser(
        "create",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file (it would take a key for a path)
        help="make a key for a tenant, store its hash, print the key once",
        description="Make a key for a tenant of gateway.tenants and store its SHA-256 in the keys file. "
        "The key is printed on stdout, alone, and never again: KEY=$(hxgen keys create --tenant NAME). "
        "Without --expires or --days the key never expires. The gateway accepts the key once the "
        "playbook has run with --tags gateway. "
        "With --host URL the key is made on the live host instead (an admin's API key in --api-key-file "
        "or HX_API_KEY): the gateway accepts it within 5 s, and it stays out of the keys file; the spec "
        "is not read (the host knows its tenants).",
    )
    create.add_argument("--tenant", required=True, help="a tenant name from gateway.tenants in the spec")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires", type=_iso_date, metavar="YYYY-MM-DD", help="the day the key stops working (from 00:00 UTC)"
    )
    expiry.add_argument("--days", type=_positive_int, metavar="N", help="the key stops working N days from today")
    create.add_argument("--note", type=_one_line, help="free text kept with the key, e.g. who holds it")
    _json_argument(create, "with --host: print the host's answer (the key, its id and dates) as JSON")
    _keys_arguments(create)
    keys_host.add_host_arguments(create)
    create.set_defaults(run=_keys_create)

    listing = commands.add_parser(
        "list",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file (it would take a key for a path)
        help="show the keys with their tenant, dates and status (never the hashes in text)",
        description="Show every key in the keys file: id, tenant, created, expires and status. "
        "Status is ok, expired (its expiry date has come) or unknown-tenant (its tenant is no longer in "
        "the spec). A missing keys file lists nothing. With --host URL: the live host's keys (origin "
        "inventory: from the keys file, synced on converge; control: made on the host), with status ok, "
        "expired or revoked.",
    )
    listing.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json prints a list of entries, with their sha256 and status, on stdout",
    )
    listing.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    listing.add_argument("--tenant", help="only this tenant's keys")
    _keys_arguments(listing)
    keys_host.add_host_arguments(listing)
    listing.set_defaults(run=_keys_list)

    rotate = commands.add_parser(
        "rotate",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file (it would take a key for a path)
        help="on a live host: replace a key with a new one, the old one working for an overlap",
        description="On the host given with --host: make a new key for the key's tenant and print it once, "
        "like create; the old key keeps working for the overlap (--overlap-hours, default the host's), then "
        "expires. Hand the new key over within the overlap. Needs an operator's or admin's API key (a "
        "user's may rotate its own tenant's keys). A key from the keys file can be rotated too: the "
        "new key lives on the host only, and a converge cannot lengthen the old key's life again.",
    )
    rotate.add_argument("id", help="the key's id: the 8 hex digits after 'hx-' (see `hxgen keys list --host URL`)")
    rotate.add_argument(
        "--overlap-hours",
        type=_overlap_hours,
        metavar="N",
        help=f"hours the old key keeps working, 0 to {ROTATE_OVERLAP_HOURS_MAX} (default: the host's)",
    )
    rotate.add_argument("--note", type=_one_line, help="the new key's note (default: the old key's)")
    _json_argument(rotate, "print the host's answer (the new key, and the old one with its new expiry) as JSON")
    keys_host.add_host_arguments(rotate)
    rotate.set_defaults(run=_keys_rotate)

    revoke = commands.add_parser(
        "revoke",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file (it would take a key for a path)
        help="remove a key from the keys file, or revoke it on a live host",
        description="Remove the key with this id from the keys file. The gateway keeps accepting it until "
        "the playbook runs again: ansible-playbook -i inventory playbooks/site.yml --tags gateway. "
        "Revoking does not need a valid spec, only its location. "
        "With --host URL the key is revoked on the live host at once (the gateway refuses it within 5 s; "
        "permanently: a converge cannot bring it back), and then removed from the keys file too if it is "
        "there, so that no host converged from this inventory accepts it. If that file cannot be written "
        "the key is still revoked on the host; the message says how to finish.",
    )
    revoke.add_argument("id", help="the key's id: the 8 hex digits after 'hx-' (see `hxgen keys list`)")
    _json_argument(revoke, "with --host: print the revoked key as the host shows it, as JSON")
    _keys_arguments(revoke)
    keys_host.add_host_arguments(revoke)
    revoke.set_defaults(run=_keys_revoke)

    whoami = commands.add_parser(
        "whoami",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file (it would take a key for a path)
        help="on a live host: the tenant, role and permissions of the API key in use",
        description="Ask the host given with --host who the API key (--api-key-file or HX_API_KEY) belongs "
        "to and what its role may do: a quick check of a key and of the way to the host.",
    )
    _json_argument(whoami, "print the answer as JSON")
    keys_host.add_host_arguments(whoami)
    whoami.set_defaults(run=_keys_whoami)


def _json_argument(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--json", action="store_true", help=text)


def _overlap_hours(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > ROTATE_OVERLAP_HOURS_MAX:
        top = ROTATE_OVERLAP_HOURS_MAX
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of hours from 0 to {top}")
    return int(text)


def _needs_host(args: argparse.Namespace, command: str) -> int | None:
    """EXIT_USAGE, after saying why, when a --host-only option is given without --host."""
    given = [
        option
        for option, value in (("--api-key-file", args.api_key_file), ("--ca-file", args.ca_file),
                              ("--json", getattr(args, "json", False)))
        if value
    ]  # fmt: skip
    if args.host is None and (given or command in ("rotate", "whoami")):
        what = f"{' and '.join(given)} {'need' if len(given) > 1 else 'needs'}" if given else f"{command} needs"
        print(f"hxgen: {what} --host URL (the gateway of a live host)", file=sys.stderr)
        return EXIT_USAGE
    return None


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

    refused = _needs_host(args, "create")
    if refused is not None:
        return refused
    if args.host is not None:
        expires, status = _expiry(args)
        if status != EXIT_OK:
            return status
        return keys_host.run(args, lambda host, a: keys_host.create(host, a, expires))
    outcome, status = _valid_spec(args.spec)
    if outcome is None:
        return status
    tenants = [t.name for t in outcome.spec.gateway.tenants]
    if args.tenant not in tenants:
        return _unknown_tenant(args.tenant, tenants, args.spec)
    expires, status = _expiry(args)
    if status != EXIT_OK:
        return status
    today = _utc_today()
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


def _expiry(args: argparse.Namespace) -> tuple[dt.date | None, int]:
    """The day the new key stops working (None: never), or EXIT_USAGE after saying why not."""
    today = _utc_today()
    try:
        expires = today + dt.timedelta(days=args.days) if args.days else args.expires
    except OverflowError:
        print(f"hxgen: --days {args.days} is past the end of the calendar", file=sys.stderr)
        return None, EXIT_USAGE
    if expires is not None and expires <= today:
        print(f"hxgen: --expires {expires} is not in the future (today is {today})", file=sys.stderr)
        return None, EXIT_USAGE
    return expires, EXIT_OK


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

    refused = _needs_host(args, "list")
    if refused is not None:
        return refused
    if args.host is not None:
        return keys_host.run(args, keys_host.listing)
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
    rows = [(entry, entry.status(tenants, today)) for entry in entries if args.tenant in (None, entry.tenant)]
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


def _keys_rotate(args: argparse.Namespace) -> int:
    refused = _needs_host(args, "rotate")
    return refused if refused is not None else keys_host.run(args, keys_host.rotate)


def _keys_whoami(args: argparse.Namespace) -> int:
    refused = _needs_host(args, "whoami")
    return refused if refused is not None else keys_host.run(args, keys_host.whoami)


def _keys_revoke(args: argparse.Namespace) -> int:
    from .. import keys

    refused = _needs_host(args, "revoke")
    if refused is not None:
        return refused
    if args.host is not None:
        return keys_host.run(args, _revoke_on_host)
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


def _revoke_on_host(host: keys_host.Host, args: argparse.Namespace) -> int:
    """Revoke on the host first (a leaked key must stop working now), then drop the id from the
    keys file: a revoked key stays revoked on this host whatever the file says, but a host
    converged from this inventory without this host's database (a rebuild) would accept it again."""
    from .. import keys

    keys_host.revoke(host, args)
    path = _keys_file(args)
    try:
        entries = keys.load_entries(path)
        entry = keys.find(entries, args.id)
        if entry is not None:
            keys.save_entries(path, [e for e in entries if e is not entry])
    except keys.KeysFileError as exc:
        print(f"hxgen: key {args.id} is revoked on the host, but {path} still lists it: {exc}", file=sys.stderr)
        print(f"  hint: {exc.hint + '; then ' if exc.hint else ''}run `hxgen keys revoke {args.id} {args.spec}` "
              "(without --host) to remove it from the keys file", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if entry is not None:
        print(f"hxgen: key {entry.id} removed from {path} too", file=sys.stderr)
    return EXIT_OK


def _unknown_key(key_id: str, known: list[str], path: Path) -> int:
    print(f"hxgen: no key '{key_id}' in {path}; known ids: {', '.join(known) or 'none'}", file=sys.stderr)
    suggestion = did_you_mean(key_id, known)
    if suggestion:
        print(f"  hint: {suggestion}", file=sys.stderr)
    return EXIT_INVALID
