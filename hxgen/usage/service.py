"""hx-usage serve: two cursors over the gateway's access log. The metering cursor counts every
line at once (Prometheus, today's counts, the quota files) and never waits for PostgreSQL; the
database cursor follows it and moves only past rows PostgreSQL committed. While PostgreSQL or
PgBouncer is down the database cursor stays, the backlog grows, and metering goes on; when it is
back, the database cursor catches up, across a rotation too (its file is found by inode).

Two threads run the two steps (meter_step, database_step); tests call them directly with an
injected clock. `lock` guards the metering state and the saved positions; `db_lock` the one
connection, so that /v1/usage never waits for a slow database.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..contracts.usage_config import ServiceConfig
from ..logtail import LogCursor, Position
from . import lines, migrations, state
from .database import DatabaseDown, Writer, connect
from .metering import Meter, Series

BATCH_ROWS = 2000
"""Rows per INSERT (one transaction): large enough for catch-up, small enough to commit often."""
RETRY_MAX_S = 30.0


def _say(message: str) -> None:
    print(f"hx-usage: {message}", file=sys.stderr, flush=True)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Service:
    def __init__(self, config: ServiceConfig, now: Callable[[], dt.datetime] = _utc_now) -> None:
        self.config = config
        self.now = now
        self.series = Series()
        self.meter = Meter(config, self.series, now)
        self.lock = threading.RLock()
        self.db_lock = threading.Lock()
        self.stop = threading.Event()
        self.state_dir = Path(config.state_dir)
        self.state = state.load(self.state_dir)
        self.meter.restore(self.state.today)
        log = Path(config.access_log)
        self.metering = LogCursor(log, self.state.metering, self._metering_lost)
        self.database = LogCursor(log, self.state.database, self._database_lost)
        self.writer: Writer | None = None
        self.db_error: str | None = None
        self._newest_row = 0.0
        self._reported_lost: set[int] = set()
        with self.lock:
            self.meter.write_quota_files()
            self._save()

    # -- state -------------------------------------------------------------------------------------
    def _save(self) -> None:
        self.state.metering = self.metering.position
        self.state.database = self.database.position
        self.state.today = self.meter.today
        state.save(self.state_dir, self.state)

    def _metering_lost(self, position: Position) -> None:
        _say(
            f"the access log with inode {position.inode} disappeared before it was read to its end (from "
            f"offset {position.offset}): its rest is neither metered nor in PostgreSQL"
        )

    def _database_lost(self, position: Position) -> None:
        if position.inode in self._reported_lost:
            return  # told once; a failed commit reads the same place again
        self._reported_lost.add(position.inode)
        lost = self.state.pending_rows.pop(position.inode, 0)
        self.state.lost_rows += lost
        self.series.log_lines.labels("lost").inc(lost)
        _say(
            f"LOST {lost} rows: the access log with inode {position.inode} was removed or compressed before "
            f"they reached PostgreSQL (read up to offset {position.offset}); they are metered, not stored"
        )

    # -- metering ----------------------------------------------------------------------------------
    def meter_step(self) -> int:
        """Count every complete line written since the last step; returns how many were read."""
        read = 0
        with self.lock:
            if self.metering.position.inode is None and self.database.position.inode is None:
                self.database.position = self.metering.pin()  # both begin at the same file
            before = self.metering.position
            for raw, position in self.metering.lines():
                read += 1
                try:
                    r = lines.parse(raw)
                except lines.Unreadable:
                    self.series.log_lines.labels("unreadable").inc()
                    continue
                self.series.log_lines.labels("counted").inc()
                if r.counted:
                    self.meter.count(r)
                if r.has_row:
                    self.state.pending_rows[position.inode] = self.state.pending_rows.get(position.inode, 0) + 1
            day = self.meter.today.day
            self.meter.roll()
            self.meter.write_quota_files()
            if read or self.metering.position != before or self.meter.today.day != day:
                self._save()
            self._update_backlog()
        return read

    def _update_backlog(self) -> None:
        behind = self.database.remaining_bytes() - self.metering.remaining_bytes()
        self.series.backlog.set(max(behind, 0))

    # -- the database ------------------------------------------------------------------------------
    def database_step(self) -> int:
        """Write the rows between the database cursor and the metering cursor; rows written.
        Raises DatabaseDown (the cursor stays where it was)."""
        with self.db_lock:
            try:
                return self._catch_up()
            except DatabaseDown as exc:
                self._down(str(exc))
                raise
            except Exception as exc:  # psycopg.Error, a broken connection: the same for the cursor
                self._down(f"PostgreSQL: {str(exc).strip() or type(exc).__name__}")
                raise DatabaseDown(self.db_error) from None

    def _writer(self) -> Writer:
        if self.writer is None or self.writer.conn.closed or self.writer.conn.broken:
            conn = connect(self.config)
            try:
                applied = migrations.migrate(conn)
            except migrations.MigrationError as exc:
                conn.close()
                raise DatabaseDown(f"schema: {exc}") from None
            if applied:
                _say(f"applied migrations {', '.join(applied)}")
            self.writer = Writer(conn, lambda statement, s: self.series.db_seconds.labels(statement).observe(s))
            today = self.now().astimezone(dt.UTC).date()
            self.writer.ensure_partitions([today, today + dt.timedelta(days=1)])
        return self.writer

    def _down(self, message: str) -> None:
        self.series.db_up.set(0)
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if message != self.db_error:
            _say(f"{message}; metering goes on, rows wait in the access log")
        self.db_error = message

    def _catch_up(self) -> int:
        writer = self._writer()
        written = 0
        while True:
            with self.lock:
                stop_at = self.metering.position
            batch, inodes, end = self._read_batch(stop_at)
            if end is None:
                break
            if batch:
                written += self._commit(writer, batch)
            with self.lock:
                self.database.position = end
                for inode, n in inodes.items():
                    left = self.state.pending_rows.get(inode, 0) - n
                    if left > 0:
                        self.state.pending_rows[inode] = left
                    else:
                        self.state.pending_rows.pop(inode, None)
                self._save()
                self._update_backlog()
        self.series.db_up.set(1)
        if self.db_error is not None:
            _say("PostgreSQL answers again; the backlog is written")
            self.db_error = None
        return written

    def _read_batch(self, stop_at: Position) -> tuple[list[tuple], dict[int, int], Position | None]:
        """Up to BATCH_ROWS rows after the database cursor, without moving it (a failed commit must
        leave it); the position after the last line read, or None when there was nothing to read."""
        probe = LogCursor(self.database.path, self.database.position, self.database.on_lost)
        rows: list[tuple] = []
        inodes: dict[int, int] = {}
        end = None
        for raw, position in probe.lines(stop_at=stop_at):
            end = position
            try:
                r = lines.parse(raw)
            except lines.Unreadable:
                continue
            if r.has_row:
                rows.append(lines.row(r, self.meter.labels))
                inodes[position.inode] = inodes.get(position.inode, 0) + 1
                if len(rows) >= BATCH_ROWS:
                    break
        if end is None and probe.position != self.database.position:
            end = probe.position  # moved to a new file (after a rotation, or a lost one) without a line
        return rows, inodes, end

    def _commit(self, writer: Writer, batch: list[tuple]) -> int:
        written = writer.insert(batch)
        self.series.rows_written.inc(written)
        self._newest_row = max(self._newest_row, max(r[0] for r in batch).timestamp())
        self.series.last_row.set(self._newest_row)
        return written

    # -- what the HTTP side asks -------------------------------------------------------------------
    def usage(self, tenant: str) -> dict:
        with self.lock:
            return {"tenant": tenant, **self.meter.usage(tenant)}

    def admin_usage(self) -> dict:
        with self.lock:
            per = {t: self.meter.usage(t) for t in sorted(self.config.tenants)}
        first = next(iter(per.values()), None)
        day = first["day"] if first else self.meter.current_day().isoformat()
        return {"day": day, "time_zone": self.config.time_zone, "tenants": per}

    def feedback(self, tenant: str, request_id: str, rating: int, comment: str | None) -> bool:
        """Store the rating on the tenant's own row; False when the tenant has no such request.
        Catches up first, so that the request that just finished is found. Raises DatabaseDown."""
        self.meter_step()
        self.database_step()
        with self.db_lock:
            try:
                model = self._writer().feedback(tenant, request_id, rating, comment)
            except DatabaseDown as exc:
                self._down(str(exc))
                raise
            except Exception as exc:
                self._down(f"PostgreSQL: {str(exc).strip() or type(exc).__name__}")
                raise DatabaseDown(self.db_error) from None
        if model is None:
            return False
        label = tenant if tenant in self.config.tenants else lines.UNKNOWN
        self.series.feedback.labels(label, model or lines.UNKNOWN, str(rating)).inc()
        return True

    def status(self) -> dict:
        with self.lock:
            self.state.metering, self.state.database = self.metering.position, self.database.position
            return describe(self.config, self.state)

    # -- the loops ---------------------------------------------------------------------------------
    def run_metering(self) -> None:
        while not self.stop.is_set():
            try:
                self.meter_step()
            except OSError as exc:
                _say(f"access log or state: {exc}")
            self.stop.wait(self.config.poll_s)

    def run_database(self) -> None:
        wait = self.config.poll_s
        while not self.stop.is_set():
            try:
                self.database_step()
                wait = self.config.poll_s
            except DatabaseDown:
                wait = min(wait * 2, RETRY_MAX_S)
            except OSError as exc:
                _say(f"access log or state: {exc}")
            self.stop.wait(wait)

    def close(self) -> None:
        with self.db_lock:
            if self.writer is not None:
                self.writer.close()
                self.writer = None


def describe(config: ServiceConfig, saved: state.State) -> dict:
    """What `hx-usage status` prints: the saved positions, how far behind each is, today's counts."""
    log = Path(config.access_log)
    unread = LogCursor(log, saved.metering).remaining_bytes()
    return {
        "access_log": config.access_log,
        "access_log_exists": log.exists(),
        "metering": saved.metering.to_json(),
        "database": saved.database.to_json(),
        "unread_bytes": unread,
        "backlog_bytes": max(LogCursor(log, saved.database).remaining_bytes() - unread, 0),
        "pending_rows": sum(saved.pending_rows.values()),
        "lost_rows": saved.lost_rows,
        "today": saved.today.to_json() if saved.today else None,
    }
