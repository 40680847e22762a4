"""What every `hx-audit` command reads: the configuration file hxgen renders
(hxgen.contracts.audit.CONFIG_PATH), a small JSON document checked here by hand so that an
append (called by fail2ban on every ban) loads nothing heavy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..contracts import audit as contract


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    log_dir: Path
    key_file: Path
    public_key_file: Path
    head_copies: tuple[Path, ...]
    retention_days: int
    state_dir: Path
    listen_address: str = "127.0.0.1"
    listen_port: int = 9745
    access_log: Path | None = None
    """The gateway's JSON access log the service follows; None without a gateway."""
    admin_path_prefix: str = "/admin"
    api_keys_map: Path | None = None
    """The gateway's installed key map (ids of the keys it accepts), for converge records."""
    full_verify_every_s: int = 300
    """The service verifies what was appended every second, and the whole chain this often."""

    @property
    def head_file(self) -> Path:
        return self.log_dir / "head.json"


def load(path: Path) -> Config:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc
    return parse(data, str(path))


def parse(data: object, where: str = "config") -> Config:
    if not isinstance(data, dict) or data.get("version") != contract.VERSION:
        raise ConfigError(f"{where}: not an {contract.VERSION} configuration")

    def need(key: str, kind: type):
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise ConfigError(f"{where}: {key} must be a {kind.__name__}")
        return value

    def optional_path(key: str) -> Path | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a path or null")
        return Path(value)

    listen = data.get("listen") or {}
    if not isinstance(listen, dict):
        raise ConfigError(f"{where}: listen must be an object")
    copies = data.get("head_copies", [])
    if not isinstance(copies, list) or not all(isinstance(c, str) for c in copies):
        raise ConfigError(f"{where}: head_copies must be a list of paths")
    retention = need("retention_days", int)
    if retention < 1:
        raise ConfigError(f"{where}: retention_days must be at least 1")
    return Config(
        log_dir=Path(need("log_dir", str)),
        key_file=Path(need("key_file", str)),
        public_key_file=Path(need("public_key_file", str)),
        head_copies=tuple(Path(c) for c in copies),
        retention_days=retention,
        state_dir=Path(need("state_dir", str)),
        listen_address=str(listen.get("address", "127.0.0.1")),
        listen_port=int(listen.get("port", 9745)),
        access_log=optional_path("access_log"),
        admin_path_prefix=str(data.get("admin_path_prefix", "/admin")),
        api_keys_map=optional_path("api_keys_map"),
        full_verify_every_s=int(data.get("full_verify_every_s", 300)),
    )
