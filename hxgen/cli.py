"""hxgen: validate hx.yaml and render what Ansible needs.

Exit codes:
  0  success
  1  the spec has errors (or warnings, with --strict)
  2  the command could not run: bad arguments, or the spec file cannot be read
  3  --check found generated files that differ from what the spec renders
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from . import __version__, layout
from .diagnostics import did_you_mean, summary
from .pipeline import Outcome, check_file

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_STALE = 0, 1, 2, 3

SPEC_HELP = "the spec file (default: ./hx.yaml)"
STRICT_HELP = "treat warnings as errors"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
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

    _add_keys(sub)
    return parser


def _load(spec_path: Path) -> Outcome | None:
    try:
        return check_file(spec_path)
    except OSError as exc:
        print(f"{spec_path}: error[unreadable]: {exc.strerror or exc}", file=sys.stderr)
        if not spec_path.exists():
            print("  hint: pass the spec's path, or run hxgen where hx.yaml is", file=sys.stderr)
        return None


def _report(outcome: Outcome, spec_path: Path, strict: bool) -> int:
    for located in outcome.diagnostics:
        print(located.format(), file=sys.stderr)
    verdict = "ok" if outcome.passed(strict) else "failed"
    print(f"{spec_path}: {verdict}: {summary(outcome.diagnostics)}", file=sys.stderr)
    return EXIT_OK if outcome.passed(strict) else EXIT_INVALID


def _validate(args: argparse.Namespace) -> int:
    outcome = _load(args.spec)
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
    return _report(outcome, args.spec, args.strict)


def _render(args: argparse.Namespace) -> int:
    from . import writer
    from .plan import build_plan
    from .render import OWNED, render

    outcome = _load(args.spec)
    if outcome is None:
        return EXIT_USAGE
    status = (
        _report(outcome, args.spec, args.strict) if outcome.diagnostics or not outcome.passed(args.strict) else EXIT_OK
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


def _add_keys(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser(
        "keys",
        help="create, list and revoke the gateway's API keys (only their hashes are stored)",
        description=KEYS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = keys.add_subparsers(title="commands", metavar="COMMAND")
    keys.set_defaults(run=lambda _args: _usage(keys))

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


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


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
    outcome = _load(spec_path)
    if outcome is None:
        return None, EXIT_USAGE
    if not outcome.passed():
        return None, _report(outcome, spec_path, strict=False)
    return outcome, EXIT_OK


def _keys_file_failed(exc: Exception) -> int:
    print(f"hxgen: {exc}", file=sys.stderr)
    hint = getattr(exc, "hint", None)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    return EXIT_USAGE


def _keys_create(args: argparse.Namespace) -> int:
    from . import keys

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
    from . import keys

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
    from . import keys

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


if __name__ == "__main__":
    sys.exit(main())
