"""Access-log lines in the gateway's exact format (nginx `log_format hx_json`), a configuration for
hx-usage against a pg_harness cluster, and a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pg_harness import DATABASE, OWNER, PASSWORD, PgCluster

from hxgen.contracts.usage_config import ServiceConfig
from hxgen.usage.config import parse

MODELS = {"chat-small": "small", "chat-large": "large"}
TENANTS = {"acme": {"daily_tokens": 1000}, "bob": {}, "hx-probe": {}}


def line(
    request_id: str,
    *,
    time: str = "2026-12-02T10:00:00+00:00",
    tenant: str = "acme",
    model: str = "chat-small",
    variant: str | None = None,
    status: int = 200,
    prompt: int | None = 10,
    completion: int | None = 5,
    request_s: str = "0.120",
    upstream_s: str = "0.100",
    cache: str = "MISS",
    path: str = "/v1/chat/completions",
    quota: str | None = "",
) -> str:
    """One line as nginx writes it: numbers unquoted, an unset token count as null."""
    variant = model if variant is None else variant
    text = (
        f'{{"time":"{time}","request_id":"{request_id}","client":"127.0.0.1",'
        f'"tenant":"{tenant}","role":"user","method":"POST","path":"{path}","status":{status},'
        f'"model":"{model}","variant":"{variant}","route":"","cache":"{cache}",'
        f'"upstream":"127.0.0.1:8001","request_s":{request_s},"upstream_s":{upstream_s},"bytes_in":200,'
        f'"bytes_out":500,"prompt_tokens":{json.dumps(prompt)},"completion_tokens":{json.dumps(completion)}'
    )
    if quota is not None:
        text += f',"quota":"{quota}"'
    return text + "}\n"


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(lines))


class Clock:
    def __init__(self, start: str = "2026-12-02T10:00:30+00:00") -> None:
        self.moment = dt.datetime.fromisoformat(start)

    def __call__(self) -> dt.datetime:
        return self.moment

    def set(self, when: str) -> None:
        self.moment = dt.datetime.fromisoformat(when)


def config(tmp: Path, cluster: PgCluster | None = None, port: int = 6432, **overrides) -> ServiceConfig:
    (tmp / "db.password").write_text(PASSWORD + "\n")
    data = {
        "version": "hx-usage/v1",
        "access_log": str(tmp / "gateway-access.log"),
        "state_dir": str(tmp / "state"),
        "quota_dir": str(tmp / "quota"),
        "listen": {"address": "127.0.0.1", "port": 9746},
        "database": {
            "host": "127.0.0.1",
            "port": cluster.bouncer_port if cluster else port,
            "dbname": DATABASE,
            "user": OWNER,
            "password_file": str(tmp / "db.password"),
        },
        "time_zone": "UTC",
        "tenants": TENANTS,
        "models": MODELS,
        "poll_s": 0.5,
    } | overrides
    return parse(data)


def behind_gateway(tmp: Path, rendered_usage: str, staged, cluster: PgCluster) -> Path:
    """hxgen's rendered usage.json for a staged gateway (gateway_harness.stage): its access log,
    quota directory and hx-usage port, the cluster through PgBouncer, a fast poll; written to tmp."""
    data = json.loads(rendered_usage)
    (tmp / "db.password").write_text(PASSWORD + "\n")
    data |= {
        "access_log": str(staged.access_log),
        "state_dir": str(tmp / "usage-state"),
        "quota_dir": str(staged.quota_dir),
        "listen": {"address": "127.0.0.1", "port": staged.usage_port},
        "poll_s": 0.2,
        "reports": None,
    }
    data["database"] |= {"port": cluster.bouncer_port, "password_file": str(tmp / "db.password")}
    path = tmp / "usage.json"
    path.write_text(json.dumps(ServiceConfig.model_validate(data).model_dump()))
    return path
