"""The verify command shared by `hxgen audit verify` and `hx-audit verify`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..contracts import audit as contract

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2

VERIFY_DESCRIPTION = f"""\
Verify the audit log: every record's canonical encoding, its hash, its seq and its link
(prev) to the record before it, then the signed head: its Ed25519 signature, and that the log
holds exactly the records the head counts (a truncated tail is found). The first broken record
is printed on stderr as FILE:LINE: seq N: what is wrong; nothing after it is trusted.

FILE_OR_DIR is the log directory (its segments, oldest first) or one segment. Default: the
log directory of the configuration file ({contract.CONFIG_PATH}) when it can be read. The head defaults to
head.json in the log directory, the public key to the configuration's public_key_file; give
--head a copy (e.g. <backups_dir>/audit/head.json) to check the log against the copy kept off it.

Exit codes: 0 the log verifies (a one-line summary on stdout); 1 a record or the head is
wrong; 2 bad arguments, or a file cannot be read.
"""


def add_verify_arguments(parser: argparse.ArgumentParser, config_option: bool = True) -> None:
    """config_option: False under hx-audit, whose --config comes before the command."""
    parser.add_argument("target", nargs="?", metavar="FILE_OR_DIR", help="the log directory or one segment")
    parser.add_argument("--public-key", type=Path, metavar="F", help="the Ed25519 public key (PEM) of the head")
    parser.add_argument("--head", type=Path, metavar="F", help="the signed head to check the log against")
    if config_option:
        parser.add_argument(
            "--config",
            type=Path,
            default=Path(contract.CONFIG_PATH),
            help=f"where defaults come from ({contract.CONFIG_PATH})",
        )


def run_verify(args: argparse.Namespace) -> int:
    # cryptography loads only when a log is verified, not for every hxgen command's parser
    from . import config as config_mod
    from . import log, signing
    from .verify import verify

    cfg = None
    if args.target is None or args.public_key is None:
        try:
            cfg = config_mod.load(args.config)
        except config_mod.ConfigError as exc:
            if args.target is None:
                print(f"audit verify: {exc}; give the log directory", file=sys.stderr)
                return EXIT_USAGE
    target = Path(args.target) if args.target else cfg.log_dir
    if not target.exists():
        print(f"{target}: error: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    head_path = args.head or (target / log.HEAD_FILE if target.is_dir() else None)
    head = None
    if head_path is not None:
        try:
            head = json.loads(head_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if args.head is not None or target.is_dir():
                print(f"{head_path}: error: no signed head: a truncated tail cannot be detected", file=sys.stderr)
                return EXIT_BROKEN if args.head is None else EXIT_USAGE
        except (OSError, ValueError) as exc:
            print(f"{head_path}: error: cannot read the head: {exc}", file=sys.stderr)
            return EXIT_BROKEN
        if head is not None and not isinstance(head, dict):
            print(f"{head_path}: error: the head is not a JSON object", file=sys.stderr)
            return EXIT_BROKEN
    public_path = args.public_key or (cfg.public_key_file if cfg else None)
    public = None
    if public_path is not None:
        try:
            public = signing.load_public_key(public_path)
        except (OSError, ValueError) as exc:
            print(f"{public_path}: error: cannot read the public key: {exc}", file=sys.stderr)
            return EXIT_USAGE
    elif head is not None:
        print("audit verify: warning: no public key given, the head's signature is not checked", file=sys.stderr)
    try:
        result = verify(target, head, public)
    except OSError as exc:
        print(f"{target}: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    if result.ok and args.head is None and cfg is not None and target == cfg.log_dir:
        # the log of this host: its head's copies beside the backups must agree too
        for copy in cfg.head_copies:
            try:
                copied = json.loads(copy.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                print(f"{copy}: error: cannot read the head's copy: {exc}", file=sys.stderr)
                return EXIT_BROKEN
            checked = verify(target, copied, public)
            if not checked.ok:
                result, head_path = checked, copy
                break
    if result.problem is not None:
        problem = result.problem
        if problem.file == "head" and head_path is not None:
            problem = type(problem)(str(head_path), problem.line, problem.seq, problem.message)
        print(f"{problem.format()}", file=sys.stderr)
        print(f"{target}: failed: the audit log does not verify", file=sys.stderr)
        return EXIT_BROKEN
    print(f"{target}: {result.summary()}")
    return EXIT_OK
