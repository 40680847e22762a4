"""hx-usage: usage accounting on the host.

Exit codes:
  0  success
  1  the command failed: PostgreSQL unreachable, a changed applied migration, the state unreadable
  2  bad arguments, or the configuration cannot be read or is not valid
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .. import services
from ..contracts import usage as contract
from ..contracts.usage_config import ServiceConfig
from ..services import EXIT_FAILED, EXIT_OK
from . import config as config_mod


def main(argv: list[str] | None = None) -> int:
    return services.main(_parser(), argv, config_mod.load)


def _parser() -> argparse.ArgumentParser:
    parser = services.parser(
        "hx-usage",
        "Follow the gateway's access log into PostgreSQL and meter tokens per tenant.",
        __doc__,
        contract.CONFIG_PATH,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands = (
        ("serve", _serve, "run the service: meter the access log, write it to PostgreSQL, serve HTTP",
         "Meter every access-log line (Prometheus counters, today's tokens per tenant, the quota files), "
         "write the rows to PostgreSQL (catching up after an outage), and serve /metrics and the tenant "
         "endpoints on listen.address:listen.port."),
        ("migrate", _migrate, "apply the schema migrations that are pending",
         "Apply the bundled SQL migrations that the database has not recorded, each in its own "
         "transaction; refuse when an applied one has changed. Prints what was applied."),
        ("check", _check, "check the configuration file and exit",
         "Read the configuration (--config) and say whether it is a valid hx-usage/v1 configuration; the "
         "usage role validates the rendered file with it before installing it."),
        ("status", _status, "print the read positions, the backlog and today's counts as JSON",
         "What the service has saved: the metering and database positions in the access log, the bytes "
         "not yet in PostgreSQL, the rows lost to a removed log, and today's counts. Needs no database."),
    )  # fmt: skip
    for name, run, summary, description in commands:
        sub.add_parser(name, help=summary, description=description).set_defaults(run=run)
    return parser


def _check(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    quotas = sum(1 for q in cfg.tenants.values() if q.daily_tokens is not None)
    print(
        f"{args.config}: ok: {cfg.access_log} into {cfg.database.dbname} at {cfg.database.host}:{cfg.database.port}, "
        f"{len(cfg.tenants)} tenants ({quotas} with a quota), day in {cfg.time_zone}"
    )
    return EXIT_OK


def _migrate(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    from .database import DatabaseDown, connect, where
    from .migrations import MigrationError, migrate, register_retention

    try:
        with connect(cfg) as conn:
            applied = migrate(conn)
            registered = register_retention(conn)
    except (DatabaseDown, config_mod.ConfigError) as exc:
        print(f"hx-usage migrate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except MigrationError as exc:
        print(f"hx-usage migrate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a psycopg error in a migration: say which database, no traceback
        print(f"hx-usage migrate: {where(cfg)}: {str(exc).strip()}", file=sys.stderr)
        return EXIT_FAILED
    print("applied: " + ", ".join(applied) if applied else "nothing to apply: the schema is current")
    if not registered:
        print("hx-usage migrate: hx_retention is not installed in this database (the backup role installs it); "
              f"{contract.TABLE} is registered on the service's next connection", file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _service(cfg: ServiceConfig):
    from .service import Service

    try:
        return Service(cfg)
    except ValueError as exc:
        print(f"hx-usage: {exc}", file=sys.stderr)
        return None


def _status(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    from .service import describe
    from .state import load

    try:
        saved = load(Path(cfg.state_dir))
    except ValueError as exc:
        print(f"hx-usage status: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(describe(cfg, saved), indent=2, sort_keys=True))
    return EXIT_OK


def _serve(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    if not Path(cfg.access_log).parent.is_dir():
        print(f"hx-usage serve: {Path(cfg.access_log).parent}: no such directory (the gateway's logs)", file=sys.stderr)
        return EXIT_FAILED
    service = _service(cfg)
    if service is None:
        return EXIT_FAILED
    from . import http

    try:
        server, _ = http.start(service, cfg.listen.address, cfg.listen.port)
    except OSError as exc:
        print(f"hx-usage serve: cannot listen on {cfg.listen.address}:{cfg.listen.port}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"hx-usage: following {cfg.access_log}; serving on {cfg.listen.address}:{cfg.listen.port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: service.stop.set())
    signal.signal(signal.SIGINT, lambda *_: service.stop.set())
    writer = threading.Thread(target=service.run_database, name="hx-usage-database", daemon=True)
    writer.start()
    try:
        service.run_metering()
    finally:
        server.shutdown()
        writer.join(timeout=10)
        service.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
