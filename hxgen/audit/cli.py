"""hx-audit: the audit log on the host.

Exit codes:
  0  success
  1  the log does not verify, or the record could not be appended (lock timeout, no key,
     a log whose last line is not a record)
  2  bad arguments or input (--detail not a JSON object), or the configuration cannot be read
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..contracts import audit as contract
from . import config as config_mod
from .verify_command import VERIFY_DESCRIPTION, add_verify_arguments, run_verify

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except BrokenPipeError:
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hx-audit",
        description="Append to, verify and serve hx's tamper-evident audit log.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, default=Path(contract.CONFIG_PATH), help=f"configuration file ({contract.CONFIG_PATH})"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    append = sub.add_parser(
        "append",
        help="append one record and sign the new head",
        description="Append one record (seq, time, actor, action, detail, prev, hash) under the log's lock, "
        "fsync it, sign the new head and copy it beside the backups. Safe to run concurrently. Never put a "
        "secret in --detail (keys, Authorization headers, key hashes). Prints the record's seq on stdout.",
    )
    append.add_argument("--actor", required=True, help="who did it (a user, or the component)")
    append.add_argument("--action", required=True, help=f"what was done (e.g. {', '.join(contract.ACTIONS)})")
    append.add_argument("--detail", default="{}", help="a JSON object with the particulars (default {})")
    append.set_defaults(run=_append)

    verify = sub.add_parser(
        "verify",
        help="verify the chain and its signed head",
        description=VERIFY_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verify_arguments(verify, config_option=False)
    verify.set_defaults(run=_verify)

    keygen = sub.add_parser(
        "keygen",
        help="create the head's Ed25519 signing key if absent",
        description="Write the private key (PEM, mode 0600) to the configuration's key_file and the public "
        "key to public_key_file, unless the private key exists (then nothing changes). Prints 'created' or "
        "'exists' on stdout.",
    )
    keygen.set_defaults(run=_keygen)

    serve = sub.add_parser(
        "serve",
        help="run the service: follow the access log, verify, prune, export metrics",
        description="Follow the gateway's JSON access log (admin calls become admin-call records, 401s "
        "are counted), re-verify the chain, prune segments past retention_days once a day, and serve "
        "Prometheus metrics on listen.address:listen.port.",
    )
    serve.set_defaults(run=_serve)

    converge = sub.add_parser(
        "converge-record",
        help="record a converge (reads a JSON document on stdin)",
        description="Append a converge record from the JSON object on stdin: {user, revision, dirty, "
        "rendered: {path: sha256}}; the record lists the rendered files added, removed and changed since the "
        "previous converge on this host, and the API key ids added and revoked (from the gateway's key "
        "map), each also as a key-created / key-revoked record. Prints {changed, seq, records} on stdout.",
    )
    converge.set_defaults(run=_converge)

    check = sub.add_parser(
        "check",
        help="check the configuration file and exit",
        description="Read the configuration (--config) and say whether it is an hx-audit/v1 configuration; "
        "the audit role validates the rendered file with it before installing it.",
    )
    check.set_defaults(run=_check)

    prune = sub.add_parser(
        "prune",
        help="remove segments past the retention now",
        description="What the service does once a day: remove the oldest segments whose every record is "
        "older than retention_days, and record it. Prints the removed segments.",
    )
    prune.set_defaults(run=_prune)
    return parser


def _config(args: argparse.Namespace) -> config_mod.Config | None:
    try:
        return config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"hx-audit: {exc}", file=sys.stderr)
        return None


def _open_log(cfg: config_mod.Config):
    from .log import AuditLog

    return AuditLog(cfg.log_dir, cfg.key_file, list(cfg.head_copies))


def _append(args: argparse.Namespace) -> int:
    try:
        detail = json.loads(args.detail)
    except ValueError as exc:
        print(f"hx-audit append: --detail is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(detail, dict):
        print("hx-audit append: --detail must be a JSON object", file=sys.stderr)
        return EXIT_USAGE
    from .records import secret_in

    secret = secret_in(detail)
    if secret:
        print(f"hx-audit append: {secret} looks like a secret; the audit log never records one", file=sys.stderr)
        return EXIT_USAGE
    if not args.actor.strip() or not args.action.strip():
        print("hx-audit append: --actor and --action must not be empty", file=sys.stderr)
        return EXIT_USAGE
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    from .log import AuditError

    try:
        record = _open_log(cfg).append(args.actor, args.action, detail)
    except (AuditError, OSError) as exc:
        print(f"hx-audit append: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(record["seq"])
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    return run_verify(args)


def _keygen(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    from . import signing

    try:
        created = signing.generate_key(cfg.key_file, cfg.public_key_file)
    except (OSError, ValueError) as exc:
        print(f"hx-audit keygen: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print("created" if created else "exists")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    from .service import serve

    try:
        return serve(cfg)
    except (OSError, ValueError) as exc:
        print(f"hx-audit serve: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _converge(args: argparse.Namespace) -> int:
    from .converge import ConvergeInputError, parse_input, record_converge
    from .log import AuditError

    try:
        given = parse_input(json.loads(sys.stdin.read() or "{}"))
    except (ValueError, ConvergeInputError) as exc:
        print(f"hx-audit converge-record: bad input on stdin: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    try:
        outcome = record_converge(_open_log(cfg), cfg.state_dir, given, cfg.api_keys_map)
    except (AuditError, OSError) as exc:
        print(f"hx-audit converge-record: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(outcome, sort_keys=True))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    print(f"{args.config}: ok: log {cfg.log_dir}, retention {cfg.retention_days} days")
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg is None:
        return EXIT_USAGE
    from .log import AuditError

    try:
        removed = _open_log(cfg).prune(cfg.retention_days)
    except (AuditError, OSError) as exc:
        print(f"hx-audit prune: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for name in removed:
        print(name)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
