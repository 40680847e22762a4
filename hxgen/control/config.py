"""The configuration hxgen renders (hxgen.contracts.control_config.ServiceConfig, JSON), read and
checked with a message per mistake instead of a traceback. Beyond the model's own checks: names
that must refer to each other do (a route's variants are models of the file, a tenant's tier is a
tier), so the service never meets a dangling name at request time."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

from ..contracts.control import VERSION
from ..contracts.control_config import ServiceConfig
from ..services import ConfigError, load_json, validate
from ..services import read_password as _read_password

__all__ = ["ConfigError", "load", "parse", "problems_of", "read_password"]


def load(path: Path) -> ServiceConfig:
    return parse(load_json(path), str(path))


def parse(data: object, where: str = "config") -> ServiceConfig:
    config = validate(ServiceConfig, data, where, VERSION)
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
    return _read_password(config.database.password_file)


def _qualified_table(name: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", name) is not None
