"""The configuration hxgen renders (hxgen.contracts.usage_config.ServiceConfig, JSON), read and checked
with a message per mistake instead of a traceback."""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path

from pydantic import ValidationError

from ..contracts.usage_config import ServiceConfig


class ConfigError(Exception):
    pass


def load(path: Path) -> ServiceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from exc
    try:
        return parse(json.loads(text), str(path))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ConfigError(f"{path}: not JSON: {exc}") from exc


def parse(data: object, where: str = "config") -> ServiceConfig:
    try:
        config = ServiceConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{where}: not a valid hx-usage/v1 configuration: {problems}") from None
    try:
        zoneinfo.ZoneInfo(config.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: time_zone: unknown time zone {config.time_zone!r}") from None
    for tenant in config.tenants:
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise ConfigError(f"{where}: tenants: {tenant!r} cannot name a quota file")
    return config


def read_password(config: ServiceConfig) -> str:
    path = Path(config.database.password_file)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the database password: {exc.strerror or exc}") from exc
