"""What hx's services on the host (hx-usage, hx-control) share: reading the JSON configuration
hxgen renders with a message per mistake, the database password file, a connection to PostgreSQL
through PgBouncer, and the shape of their command line (exit codes, --config, one run per command).
Nothing here knows a service's own names: each passes them in."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Model = TypeVar("Model", bound=BaseModel)


class ConfigError(Exception):
    pass


class DatabaseDown(Exception):
    """PostgreSQL or PgBouncer did not answer; the message says where and what to check."""


# --- the configuration --------------------------------------------------------------------------
def load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc


def validate(model: type[Model], data: object, where: str, version: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{where}: not a valid {version} configuration: {problems}") from None


def read_password(password_file: str) -> str:
    path = Path(password_file)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the database password: {exc.strerror or exc}") from exc


# --- PostgreSQL ---------------------------------------------------------------------------------
class Database(Protocol):
    host: str
    port: int
    dbname: str
    user: str
    password_file: str


def where(d: Database) -> str:
    return f"{d.host}:{d.port} (database {d.dbname}, user {d.user})"


def connect(d: Database, application_name: str, timeout_s: int = 5):
    """Autocommit (every statement in an explicit transaction: none is left open) and no prepared
    statements (PgBouncer's transaction pooling). Raises DatabaseDown, and ConfigError for an
    unreadable password file."""
    import psycopg

    try:
        return psycopg.connect(
            host=d.host,
            port=d.port,
            dbname=d.dbname,
            user=d.user,
            password=read_password(d.password_file),
            connect_timeout=timeout_s,
            application_name=application_name,
            prepare_threshold=None,
            autocommit=True,
        )
    except psycopg.Error as exc:
        raise DatabaseDown(
            f"cannot reach PostgreSQL at {where(d)}: {str(exc).strip()}; check that pgbouncer and "
            f"postgresql run and that {d.password_file} holds the owner's password"
        ) from None


# --- the command line ---------------------------------------------------------------------------
def parser(prog: str, description: str, doc: str, config_path: str) -> argparse.ArgumentParser:
    """The top parser: its epilog is the rest of the module's docstring (the exit codes)."""
    top = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--config", type=Path, default=Path(config_path), help=f"configuration file ({config_path})")
    return top


def main(top: argparse.ArgumentParser, argv: list[str] | None, load: Callable[[Path], Any], needs_no_config=()) -> int:
    """Parse, load the configuration (exit 2 when it is bad), run the command's `run(args, cfg)`."""
    args = top.parse_args(argv)
    if not hasattr(args, "run"):
        top.print_help(sys.stderr)
        return EXIT_USAGE
    cfg = None
    if args.run not in needs_no_config:
        try:
            cfg = load(args.config)
        except ConfigError as exc:
            print(f"{top.prog}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return args.run(args, cfg)
    except BrokenPipeError:
        return EXIT_OK
