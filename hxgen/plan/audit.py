"""What the hx-audit service and command are told: where the log, its key, the head's copy and
the service's state live, how long segments are kept, and what it follows (the gateway's access log)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import layout
from ..contracts import audit as contract
from ..spec import Spec


@dataclass(frozen=True)
class AuditPlan:
    host: str
    service: str
    user: str
    group: str
    port: int
    config_file: str
    venv_dir: str
    command: str
    """The symlink to the venv's hx-audit that root's writers call (layout.AUDIT_COMMAND)."""
    log_dir: str
    state_dir: str
    key_dir: str
    key_file: str
    public_key_file: str
    head_copy: str
    retention_days: int
    access_log: str | None
    """The gateway's JSON access log the service follows; None without a gateway."""
    api_keys_map: str | None
    """The gateway's installed key map, whose key ids converge records compare."""


def build_audit_plan(spec: Spec, gateway: bool) -> AuditPlan:
    """For a spec whose audit log is on (hxgen.components decides)."""
    storage = spec.host.storage
    return AuditPlan(
        host=spec.host.name,
        service=layout.AUDIT_SERVICE,
        user=layout.AUDIT_USER,
        group=layout.AUDIT_GROUP,
        port=layout.AUDIT_EXPORTER_PORT,
        config_file=contract.CONFIG_PATH,
        venv_dir=layout.AUDIT_VENV,
        command=layout.AUDIT_COMMAND,
        log_dir=layout.audit_log_dir(storage.logs_dir),
        state_dir=layout.AUDIT_STATE,
        key_dir=layout.AUDIT_KEY_DIR,
        key_file=layout.AUDIT_KEY_FILE,
        public_key_file=layout.AUDIT_PUBLIC_KEY_FILE,
        head_copy=layout.audit_head_copy(storage.backups_dir),
        retention_days=spec.security.audit_log.retention_days,
        access_log=layout.gateway_access_log(storage.logs_dir) if gateway else None,
        api_keys_map=f"{layout.GATEWAY_CONF_DIR}/api-keys.map" if gateway else None,
    )
