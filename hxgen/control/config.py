"""The configuration hxgen renders (hxgen.contracts.control_config.ServiceConfig, JSON), read and
checked with a message per mistake instead of a traceback. Beyond the model's own checks: names
that must refer to each other do (a route's variants are models of the file, a tenant's tier is a
tier), so the service never meets a dangling name at request time."""

from __future__ import annotations

import json
import re
import zoneinfo
from pathlib import Path

from pydantic import ValidationError

from ..contracts.control import VERSION
from ..contracts.control_config import ServiceConfig


class ConfigError(Exception):
    pass


def load(path: Path) -> ServiceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc
    return parse(data, str(path))


def parse(data: object, where: str = "config") -> ServiceConfig:
    try:
        config = ServiceConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{where}: not a valid {VERSION} configuration: {problems}") from None
    for problem in problems_of(config):
        raise ConfigError(f"{where}: {problem}")
    return config


def problems_of(config: ServiceConfig) -> list[str]:
    found = []
    for name, tenant in sorted(config.tenants.items()):
        if not name or " " in name or "/" in name:
            found.append(f"tenants: {name!r} is not a tenant name (no spaces or slashes)")
        if tenant.tier not in config.tiers:
            found.append(f"tenants.{name}.tier: no tier {tenant.tier!r}")
    for alias, route in sorted(config.routes.items()):
        names = [t.model for t in route.split]
        for model in names:
            if model not in config.models:
                found.append(f"routes.{alias}.split: {model!r} is not a model of this configuration")
        if len(set(names)) != len(names):
            found.append(f"routes.{alias}.split: a variant is named twice")
        if route.split and sum(t.weight for t in route.split) != 100:
            found.append(f"routes.{alias}.split: the weights add up to {sum(t.weight for t in route.split)}, not 100")
        if not route.split:
            found.append(f"routes.{alias}.split: no variant")
    if config.usage is not None:
        try:
            zoneinfo.ZoneInfo(config.usage.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            found.append(f"usage.time_zone: unknown time zone {config.usage.time_zone!r}")
        if not _qualified_table(config.usage.table):
            found.append(f"usage.table: {config.usage.table!r} is not a schema-qualified table name")
    if config.reload_command is not None and not config.reload_command:
        found.append("reload_command: an empty command; leave it out (null) where the path unit reloads nginx")
    return found


def read_password(config: ServiceConfig) -> str:
    path = Path(config.database.password_file)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the database password: {exc.strerror or exc}") from exc


def _qualified_table(name: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", name) is not None
