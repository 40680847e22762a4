"""The configuration hxgen renders (hxgen.contracts.usage_config.ServiceConfig, JSON), read and checked
with a message per mistake instead of a traceback."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

from ..contracts.usage_config import ServiceConfig
from ..services import ConfigError, load_json, validate
from ..services import read_password as _read_password

__all__ = ["ConfigError", "load", "parse", "read_password"]


def load(path: Path) -> ServiceConfig:
    return parse(load_json(path), str(path))


def parse(data: object, where: str = "config") -> ServiceConfig:
    config = validate(ServiceConfig, data, where, "hx-usage/v1")
    try:
        zoneinfo.ZoneInfo(config.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: time_zone: unknown time zone {config.time_zone!r}") from None
    for tenant in config.tenants:
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise ConfigError(f"{where}: tenants: {tenant!r} cannot name a quota file")
    return config


def read_password(config: ServiceConfig) -> str:
    return _read_password(config.database.password_file)
