"""hx-control: the host's management API (REST, GraphQL) and operator page, behind the gateway.

Exit codes:
  0  success (sync: also when nothing changed; its JSON says "changed")
  1  the command failed: PostgreSQL unreachable, a changed applied migration, the audit log or the
     gateway's state files cannot be written, the inventory keys file is unreadable
  2  bad arguments, or the configuration cannot be read or is not valid
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import services
from ..contracts import control as contract
from ..contracts.control_config import ServiceConfig
from ..services import EXIT_FAILED, EXIT_OK
from . import config as config_mod


def main(argv: list[str] | None = None) -> int:
    return services.main(_parser(), argv, config_mod.load, needs_no_config=(_openapi,))


def _parser() -> argparse.ArgumentParser:
    parser = services.parser(
        "hx-control",
        "Serve the host's management API; migrate its schema; merge the inventory's keys on converge.",
        __doc__,
        contract.CONFIG_PATH,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands = (
        ("serve", _serve, "run the service (REST, GraphQL, the page) on listen.address:listen.port",
         "Serve the management API on the configured loopback address, single process, after writing "
         "the gateway's state files from the database once."),
        ("migrate", _migrate, "apply the schema migrations that are pending",
         f"Apply the bundled SQL migrations of {contract.SCHEMA} that the database has not recorded, each in "
         "its own transaction; refuse when an applied one has changed. Prints what was applied."),
        ("check", _check, "check the configuration file and exit",
         "Read the configuration (--config) and say whether it is valid; the role validates the rendered file "
         "with it before installing it."),
        ("openapi", _openapi, "print the REST API's OpenAPI document (JSON, sorted keys); needs no --config",
         "The document the service publishes at /admin/api/openapi.json; hxgen/control/openapi.json is this "
         "output (`hx-control openapi > hxgen/control/openapi.json`), and a test fails when they differ."),
        ("state", _state, "write the gateway's state files from the database",
         f"Rewrite {Path(contract.KEYS_MAP).name} and {Path(contract.ROUTE_WEIGHTS).name} in gateway_state_dir "
         "from the database (only those that differ), then run reload_command if one changed."),
    )  # fmt: skip
    for name, run, summary, description in commands:
        sub.add_parser(name, help=summary, description=description).set_defaults(run=run)
    sync = sub.add_parser(
        "sync",
        help="merge the inventory's keys and the spec's route weights into the host (on converge)",
        description="Merge monotonically: add inventory keys the host has not seen, revoke inventory keys that "
        "left the inventory, keep revoked keys revoked and keys created on the host untouched, take the earlier "
        'expiry; set the spec\'s weights on routes the spec owns. Prints a JSON summary whose "changed" says '
        "whether anything changed (for the role's changed_when); audited when it did.",
    )
    sync.add_argument(
        "--inventory-keys", type=Path, default=Path(contract.INVENTORY_KEYS), metavar="FILE",
        help=f'the inventory\'s keys, {{"keys": [...]}} ({contract.INVENTORY_KEYS})',
    )  # fmt: skip
    sync.add_argument("--check", action="store_true", help="say what would change; change nothing")
    sync.set_defaults(run=_sync)
    return parser


def _check(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    print(
        f"{args.config}: ok: {len(cfg.tenants)} tenants, {len(cfg.models)} models, {len(cfg.routes)} routes; "
        f"database {cfg.database.dbname} at {cfg.database.host}:{cfg.database.port}"
    )
    return EXIT_OK


def _fail(command: str, message: str) -> int:
    print(f"hx-control {command}: {message}", file=sys.stderr)
    return EXIT_FAILED


def _migrate(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    import psycopg

    from ..pg_migrations import MigrationError
    from .database import MIGRATIONS, connect, where
    from .model import Unavailable

    try:
        with connect(cfg) as conn:
            applied = MIGRATIONS.migrate(conn)
    except (Unavailable, MigrationError) as exc:
        return _fail("migrate", str(exc))
    except psycopg.Error as exc:  # an error in a migration: say which database, no traceback
        return _fail("migrate", f"{where(cfg)}: {str(exc).strip()}")
    print("applied: " + ", ".join(applied) if applied else "nothing to apply: the schema is current")
    return EXIT_OK


def _openapi(args: argparse.Namespace, cfg: ServiceConfig | None) -> int:
    print(openapi_text(), end="")
    return EXIT_OK


def openapi_text() -> str:
    from .app import openapi_document

    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def _state(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    from .model import Unavailable
    from .service import HostControl

    try:
        changed = HostControl(cfg).write_state()
    except Unavailable as exc:
        return _fail("state", exc.message)
    print("written: " + ", ".join(changed) if changed else "unchanged: the files match the database")
    return EXIT_OK


def _sync(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    from .model import Unavailable
    from .service import HostControl
    from .sync import InventoryError

    try:
        summary = HostControl(cfg).sync(args.inventory_keys, dry_run=args.check)
    except (Unavailable, InventoryError) as exc:
        return _fail("sync", getattr(exc, "message", str(exc)))
    print(json.dumps(summary.as_dict(), sort_keys=True))
    return EXIT_OK


def _serve(args: argparse.Namespace, cfg: ServiceConfig) -> int:
    import uvicorn

    from .app import create_app
    from .model import Unavailable

    app = create_app(cfg)
    try:
        app.state.control.write_state()
    except Unavailable as exc:  # serve anyway: reads answer, and the next change writes the files
        print(f"hx-control serve: warning: {exc.message}", file=sys.stderr)
    rollouts = _rollouts(app, cfg)
    print(f"hx-control: serving on {cfg.listen.address}:{cfg.listen.port}", flush=True)
    try:
        uvicorn.run(app, host=cfg.listen.address, port=cfg.listen.port, workers=1, log_level="warning",
                    access_log=False, proxy_headers=False, server_header=False)  # fmt: skip
    finally:
        if rollouts is not None:
            rollouts.stop()
    return EXIT_OK


def _rollouts(app, cfg: ServiceConfig):
    """The canary rollouts' thread (hxgen.control.rollout), when some route has a canary and
    prometheus_url says where its gate is; None otherwise."""
    from .rollout import Rollouts

    if not Rollouts.wanted(cfg):
        if any(r.canary for r in cfg.routes.values()):
            print("hx-control serve: warning: a route has a canary but prometheus_url is not set: no rollout runs",
                  file=sys.stderr)  # fmt: skip
        return None
    metrics = app.state.metrics
    rollouts = Rollouts(app.state.control, on_gate_error=lambda alias: metrics.gate_errors.labels(alias).inc())
    rollouts.start()
    return rollouts


if __name__ == "__main__":
    sys.exit(main())
