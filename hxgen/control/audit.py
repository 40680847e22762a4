"""hx-control's side of the audit log: every mutation appends its record inside the mutation's
transaction, before the commit, so a change is never committed unaudited. When the append fails,
the transaction rolls back and the caller gets Unavailable: nothing changed. (The one gap left: a
commit that fails after the append, i.e. PostgreSQL lost at that instant, leaves a record of a
change that did not happen; the record names the key, so the listing shows it is not there.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..audit import config as audit_config
from ..audit import log as audit_log
from ..audit import records
from .model import AuditRecord, Caller, Unavailable

SYNC_ACTOR = "hx-control/sync"


def actor(caller: Caller) -> str:
    return f"{caller.tenant}/{caller.key_id}"


class Audit:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file

    def _log(self) -> audit_log.AuditLog:
        if self.config_file is None:
            raise Unavailable("the audit log is off on this host (audit_config is not set)")
        try:
            cfg = audit_config.load(Path(self.config_file))
        except audit_config.ConfigError as exc:
            raise Unavailable(f"the audit log's configuration: {exc}") from None
        return audit_log.AuditLog(cfg.log_dir, cfg.key_file, list(cfg.head_copies))

    @property
    def enabled(self) -> bool:
        return self.config_file is not None

    def append(self, who: str, action: str, detail: dict[str, Any]) -> None:
        """Raises Unavailable (and the mutation rolls back) when the record cannot be written."""
        if not self.enabled:
            return
        try:
            self._log().append(who, action, detail)
        except (audit_log.AuditError, OSError) as exc:
            raise Unavailable(f"nothing was changed: the audit log cannot be appended to: {exc}") from None

    def recent(self, limit: int, action: str | None) -> list[AuditRecord]:
        directory = self._log().directory
        try:
            found = audit_log.recent(directory, limit, action)
        except OSError as exc:
            raise Unavailable(f"cannot read the audit log in {directory}: {exc.strerror or exc}") from None
        return [_record(r) for r in found]


def _record(r: dict[str, Any]) -> AuditRecord:
    try:
        when = records.parse_time(r.get("time"))
    except ValueError:
        when = dt.datetime.fromtimestamp(0, dt.UTC)
    return AuditRecord(
        seq=int(r.get("seq", 0)),
        time=when,
        actor=str(r.get("actor", "")),
        action=str(r.get("action", "")),
        detail=r.get("detail") if isinstance(r.get("detail"), dict) else {},
    )
