"""hx-control against a pg_harness cluster: a configuration builder (tenants of every role, two
models, a route owned by hx-control and one owned by the spec), a real audit log, an engine
stand-in that answers /health, and the real service (`hx-control serve`) as a subprocess on a free
loopback port, with a client that sends the headers the gateway would set."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import requests
from conftest import ROOT
from gateway_harness import reload_command, stop, wait_listening
from pg_harness import DATABASE, OWNER, PASSWORD, PgCluster, free_port, pg_cluster
from usage_schema import create_usage_tables

from hxgen.audit import signing
from hxgen.contracts import audit as audit_contract
from hxgen.contracts import control as contract
from hxgen.control.database import MIGRATIONS

# tenant -> role; a tenant's name says its role, so a failing matrix cell reads plainly.
TENANTS = {"root": "admin", "ops": "operator", "acme": "user", "bob": "user", "viewer": "readonly"}
ROLES = ("admin", "operator", "user", "readonly")
TENANT_OF_ROLE = {"admin": "root", "operator": "ops", "user": "acme", "readonly": "viewer"}


class Engine:
    """Answers GET /health with 200, like a healthy vLLM."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/health" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def audit_config(tmp: Path) -> Path:
    """A real audit log (its own signing key) and hx-audit's configuration for it."""
    key = tmp / "audit" / "signing.key"
    key.parent.mkdir(parents=True, exist_ok=True)
    assert signing.generate_key(key)
    path = tmp / "audit.json"
    path.write_text(
        json.dumps(
            {
                "version": audit_contract.VERSION,
                "log_dir": str(tmp / "audit" / "log"),
                "key_file": str(key),
                "public_key_file": str(signing.public_key_path(key)),
                "head_copies": [],
                "retention_days": 30,
                "state_dir": str(tmp / "audit" / "state"),
            }
        )
    )
    return path


def config(tmp: Path, cluster: PgCluster, engine_port: int, **overrides) -> dict:
    (tmp / "db.password").write_text(PASSWORD + "\n")
    dead = free_port()  # nothing listens there: the large model's engine is down
    data = {
        "version": contract.VERSION,
        "host_name": "control-test",
        "listen": {"address": "127.0.0.1", "port": free_port()},
        "database": {
            "host": "127.0.0.1",
            "port": cluster.bouncer_port,
            "dbname": DATABASE,
            "user": OWNER,
            "password_file": str(tmp / "db.password"),
        },
        "gateway_state_dir": str(tmp / "gateway"),
        "reload_command": [sys.executable, "-c", f"open({str(tmp / 'reloads')!r}, 'a').write('reload\\n')"],
        "tenants": {
            name: {"role": role, "tier": "standard", "models": ["*"], "daily_tokens": 1000 if name == "acme" else None}
            for name, role in TENANTS.items()
        },
        "tiers": {"standard": {"requests_per_second": 10, "burst": 20}},
        "models": {
            "small": {
                "served_name": "chat-small",
                "engine": "vllm",
                "task": "generate",
                "health_url": f"http://127.0.0.1:{engine_port}/health",
            },
            "large": {
                "served_name": "chat-large",
                "engine": "vllm",
                "task": "generate",
                "version": "2",
                "health_url": f"http://127.0.0.1:{dead}/health",
            },
        },  # fmt: skip
        "routes": {
            "chat": {
                "sticky": "tenant",
                "weights_owner": "control",
                "split": [{"model": "small", "weight": 80}, {"model": "large", "weight": 20}],
            },
            "canary": {
                "sticky": "request",
                "weights_owner": "spec",
                "split": [{"model": "small", "weight": 90}, {"model": "large", "weight": 10}],
            },
        },  # fmt: skip
        "alertmanager_url": f"http://127.0.0.1:{dead}",
        "audit_config": str(audit_config(tmp)),
        "usage": {"table": "hx_usage.requests", "time_zone": "UTC"},
        "rotate_overlap_hours": 24,
    }
    data.update(overrides)
    return data


def write_config(tmp: Path, data: dict) -> Path:
    path = tmp / "control.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def cli(config_file: Path, *args: str) -> subprocess.CompletedProcess:
    """`hx-control --config FILE ARGS...` as the role runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hxgen.control.cli", "--config", str(config_file), *args],
        capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT,
    )  # fmt: skip


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT)}


def migrate(config_file: Path) -> None:
    done = cli(config_file, "migrate")
    assert done.returncode == 0, done.stderr


def dsn(cluster: PgCluster) -> str:
    return cluster.dsn()


def sql(cluster: PgCluster, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(cluster.dsn(), autocommit=True, prepare_threshold=None) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def reset(cluster: PgCluster) -> None:
    """An empty schema between tests that share a cluster."""
    sql(cluster, f"TRUNCATE {contract.KEYS_TABLE}, {contract.ROUTE_WEIGHTS_TABLE}, {contract.ROLLOUTS_TABLE}")


@dataclass
class Running:
    url: str
    config: dict
    config_file: Path
    tmp: Path

    def call(self, method: str, path: str, role: str | None = "admin", tenant: str | None = None,
             key_id: str = "k0000000", **kwargs) -> requests.Response:  # fmt: skip
        """path under /admin/api/v1; the gateway's headers for a caller of `role` (none: no headers)."""
        headers = kwargs.pop("headers", {})
        if role is not None:
            headers |= {
                contract.TENANT_HEADER: tenant or TENANT_OF_ROLE[role],
                contract.ROLE_HEADER: role,
                contract.KEY_ID_HEADER: key_id,
            }
        return requests.request(
            method, f"{self.url}{contract.API_PREFIX}/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def gateway_headers(self, role: str | None, tenant: str | None = None, key_id: str = "k0000000") -> dict:
        if role is None:
            return {}
        return {
            contract.TENANT_HEADER: tenant or TENANT_OF_ROLE[role],
            contract.ROLE_HEADER: role,
            contract.KEY_ID_HEADER: key_id,
        }

    def graphql(self, query: str, variables: dict | None = None, role: str | None = "admin", tenant: str | None = None,
                key_id: str = "k0000000") -> requests.Response:  # fmt: skip
        """POST GRAPHQL_PATH as a caller of `role` (none: no headers)."""
        return requests.post(
            f"{self.url}{contract.GRAPHQL_PATH}", json={"query": query, "variables": variables or {}},
            headers=self.gateway_headers(role, tenant, key_id), timeout=30,
        )  # fmt: skip

    def page(self, method: str, path: str = "", role: str | None = "admin", tenant: str | None = None,
             key_id: str = "k0000000", **kwargs) -> requests.Response:  # fmt: skip
        """path under UI_PREFIX, as a browser through the gateway (Host, X-Forwarded-*) of `role`."""
        headers = {"Host": "hx.test", "X-Forwarded-Proto": "https"} | self.gateway_headers(role, tenant, key_id)
        headers |= kwargs.pop("headers", {})
        return requests.request(
            method, f"{self.url}{contract.UI_PREFIX}{path}", headers=headers, timeout=30, allow_redirects=False,
            **kwargs,
        )  # fmt: skip

    @property
    def keys_map(self) -> str:
        return (self.tmp / "gateway" / Path(contract.KEYS_MAP).name).read_text()

    @property
    def route_weights(self) -> dict:
        return json.loads((self.tmp / "gateway" / Path(contract.ROUTE_WEIGHTS).name).read_text())

    def audit_records(self) -> list[dict]:
        log_dir = self.tmp / "audit" / "log"
        return [json.loads(line) for p in sorted(log_dir.glob("audit-*.jsonl")) for line in p.read_text().splitlines()]


@contextlib.contextmanager
def serving(tmp: Path, data: dict) -> Iterator[Running]:
    """The real service: migrated, then `hx-control serve` until the block ends."""
    config_file = write_config(tmp, data)
    migrate(config_file)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hxgen.control.cli", "--config", str(config_file), "serve"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), cwd=ROOT,
    )  # fmt: skip
    port = data["listen"]["port"]
    try:
        wait_listening(port, proc, timeout_s=60, what="hx-control")
        yield Running(f"http://127.0.0.1:{port}", data, config_file, tmp)
    finally:
        stop(proc)


@contextlib.contextmanager
def serving_with_usage(tmp: Path, first_day: dt.date, last_day: dt.date) -> Iterator[tuple[PgCluster, Running]]:
    """A cluster whose usage tables have partitions from first_day to last_day, an engine
    stand-in, and the real service against both: (cluster, service) until the block ends."""
    with pg_cluster() as cluster:
        create_usage_tables(cluster.dsn(), first_day, last_day)
        engine = Engine()
        try:
            with serving(tmp, config(tmp, cluster, engine.port)) as running:
                yield cluster, running
        finally:
            engine.close()


def rendered_config(spec: Path) -> dict:
    """hx-control's configuration as hxgen renders it for spec (rendered/control/control.json)."""
    from hxgen.pipeline import render_file
    from hxgen.render.control import CONFIG_FILE

    return json.loads(next(a.text for a in render_file(spec).artifacts if a.path == f"rendered/{CONFIG_FILE}"))


@contextlib.contextmanager
def serving_behind(gateway, tmp: Path, cluster: PgCluster, data: dict, inventory: list[dict]) -> Iterator[Running]:
    """The real service behind a staged gateway (gateway_harness.stage): data, a rendered
    configuration, moved to loopback scratch paths (the gateway's hx-control port and state files,
    the cluster through PgBouncer, a reload of the test nginx), migrated and synced from the
    inventory's keys as the control role does on converge, then served until the block ends."""
    (tmp / "db.password").write_text(PASSWORD + "\n")
    data = data | {
        "listen": {"address": "127.0.0.1", "port": gateway.control_port},
        "database": {"host": "127.0.0.1", "port": cluster.bouncer_port, "dbname": DATABASE, "user": OWNER,
                     "password_file": str(tmp / "db.password")},
        "gateway_state_dir": str(gateway.state_dir),
        "reload_command": reload_command(gateway),
        "spec_file": None,
    }  # fmt: skip
    config_file = write_config(tmp, data)
    migrate(config_file)
    handed = tmp / "inventory-keys.json"
    handed.write_text(json.dumps({"keys": inventory}))
    synced = cli(config_file, "sync", "--inventory-keys", str(handed))
    assert synced.returncode == 0, synced.stderr
    with serving(tmp, data) as running:
        yield running


__all__ = [
    "MIGRATIONS",
    "ROLES",
    "TENANTS",
    "Engine",
    "Running",
    "config",
    "rendered_config",
    "serving",
    "serving_behind",
    "serving_with_usage",
]
