"""The hx-analytics service's configuration, read and checked before the service starts.

Its format is the contract in hxgen.contracts.analytics, which hxgen renders into
analytics.yml; this module only reads the file, with ruamel so that errors name file:line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..contracts.analytics import (
    STALE_CYCLES,
    VERSION,
    Anomaly,
    Listen,
    SeriesConfig,
    ServiceConfig,
    horizon_label,
)

__all__ = [
    "STALE_CYCLES",
    "VERSION",
    "Anomaly",
    "ConfigError",
    "Listen",
    "SeriesConfig",
    "ServiceConfig",
    "horizon_label",
    "load_config",
]


class ConfigError(Exception):
    """The file is missing, is not YAML, or does not match ServiceConfig; the message says
    where (file:line) and what."""


def load_config(path: Path) -> ServiceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError(f"{path}:{line}:{column}: {(exc.problem or exc.context or 'not YAML').strip()}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}:1:1: cannot read the document: {exc}") from None
    try:
        return ServiceConfig.model_validate(document)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            line, column = _position(document, tuple(e["loc"]))
            where = ".".join(str(p) for p in e["loc"]) or "the document"
            problems.append(f"{path}:{line}:{column}: {where}: {e['msg']}")
        hint = "regenerate it with `hxgen render` rather than editing it"
        raise ConfigError("\n".join(problems) + f"\n({hint})") from None


def _position(node: Any, loc: tuple) -> tuple[int, int]:
    """1-based line and column of the value at `loc`, or of its nearest ancestor that has one."""
    position = (1, 1)
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                line, column = lc.value(part) if not isinstance(node[part], (dict, list)) else lc.key(part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line, column = lc.item(part)
            else:
                break
        except (AttributeError, KeyError, IndexError, TypeError):
            break
        position = (line + 1, column + 1)
        node = node[part]
    return position
