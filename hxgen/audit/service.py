"""hx-audit serve: follows the gateway's access log into admin-call records, keeps the chain
verified, prunes segments past the retention once a day, and exports it all to Prometheus."""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..contracts import audit as contract
from . import log, signing
from .chain_state import ChainState
from .config import Config
from .follower import ADMIN_CALL, AccessLogFollower

ACTOR = "hx-audit"
PRUNE_EVERY_S = 24 * 3600


class AuditCollector(Collector):
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self):
        s = self.service
        with s.lock:
            by_action = dict(s.chain.by_action)
            result = s.chain.result
            head = log.read_head(s.config.head_file) or {}
            counts = s.follower.counts if s.follower else None
            admin = dict(counts.admin_calls) if counts else {}
            failures = counts.auth_failures if counts else 0
        records = CounterMetricFamily(
            contract.RECORDS_TOTAL, "Records of the kept audit log that verified, by action", labels=["action"]
        )
        for action, n in sorted(by_action.items()):
            records.add_metric([action], n)
        yield records
        yield GaugeMetricFamily(contract.HEAD_SEQ, "seq of the audit chain's signed head", value=head.get("seq", 0))
        stamp = 0.0
        if head.get("time"):
            stamp = dt.datetime.fromisoformat(head["time"].replace("Z", "+00:00")).timestamp()
        yield GaugeMetricFamily(contract.HEAD_TIMESTAMP, "Time of the audit chain's last record", value=stamp)
        yield GaugeMetricFamily(
            contract.CHAIN_VALID,
            "1 when the audit chain and its signed head verify, 0 when a record or the head is wrong",
            value=1 if result is not None and result.ok else 0,
        )
        yield CounterMetricFamily(
            contract.AUTH_FAILURES_TOTAL, "Gateway requests answered 401 (seen in its access log)", value=failures
        )
        calls = CounterMetricFamily(contract.ADMIN_CALLS_TOTAL, "Gateway /admin requests, by tenant", labels=["tenant"])
        for tenant, n in sorted(admin.items()):
            calls.add_metric([tenant], n)
        yield calls


class Service:
    def __init__(self, config: Config, poll_s: float = 1.0) -> None:
        self.config = config
        self.poll_s = poll_s
        self.log = log.AuditLog(config.log_dir, config.key_file, list(config.head_copies))
        public = signing.load_public_key(config.public_key_file)
        self.chain = ChainState(self.log, public)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.follower: AccessLogFollower | None = None
        self._reported = None

    def _report(self, when: str) -> None:
        """Say when the chain breaks (once per distinct problem), and when it verifies again."""
        r = self.chain.result
        problem = r.problem if r is not None else None
        if problem == self._reported:
            return
        if problem is not None:
            print(f"hx-audit: chain broken ({when}): {problem.format()}", file=sys.stderr, flush=True)
        else:
            print(f"hx-audit: chain verifies ({when}): {r.summary()}", flush=True)
        self._reported = problem

    def start(self) -> None:
        with self.lock:
            self.chain.full()
        self._report("at start")
        if self.config.access_log is not None:
            self.follower = AccessLogFollower(
                self.config.access_log,
                self.config.state_dir / "access-log-position.json",
                self._record_admin_call,
                self.config.admin_path_prefix,
                last_recorded_request=self.chain.last_admin_request,
            )

    def _record_admin_call(self, detail: dict[str, Any]) -> None:
        self.log.append(ACTOR, ADMIN_CALL, detail)

    def run(self) -> None:
        last_full = last_prune = time.monotonic()
        last_prune -= PRUNE_EVERY_S  # prune at start, then daily
        while not self.stop.is_set():
            now = time.monotonic()
            with self.lock:
                try:
                    last_full, last_prune = self._cycle(now, last_full, last_prune)
                except (OSError, ValueError, log.AuditError) as exc:  # keep serving; say what failed
                    print(f"hx-audit: {exc}", file=sys.stderr, flush=True)
            self.stop.wait(self.poll_s)

    def _cycle(self, now: float, last_full: float, last_prune: float) -> tuple[float, float]:
        if self.follower is not None:
            try:
                self.follower.poll()
            except (OSError, log.AuditError) as exc:
                print(f"hx-audit: access log: {exc}", file=sys.stderr, flush=True)
        pruned = False
        if now - last_prune >= PRUNE_EVERY_S:
            removed = self.log.prune(self.config.retention_days)
            if removed:
                print(f"hx-audit: removed segments past retention: {', '.join(removed)}", flush=True)
            last_prune, pruned = now, True
        if pruned or now - last_full >= self.config.full_verify_every_s:
            self.chain.full()  # an edit of a record verified earlier shows here
            last_full = now
            self._report("full check")
        else:
            self.chain.refresh()  # what was appended since the last look
            self._report("incremental check")
        return last_full, last_prune


def serve(config: Config) -> int:
    service = Service(config)
    service.start()
    registry = CollectorRegistry()
    registry.register(AuditCollector(service))
    server, _thread = start_http_server(config.listen_port, config.listen_address, registry=registry)
    print(f"hx-audit: serving metrics on {config.listen_address}:{config.listen_port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: service.stop.set())
    signal.signal(signal.SIGINT, lambda *_: service.stop.set())
    try:
        service.run()
    finally:
        server.shutdown()
        if service.follower is not None:
            service.follower.close()
    return 0
