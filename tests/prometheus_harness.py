"""A real Prometheus on loopback holding history written at test time: series are written in
the OpenMetrics text format and turned into TSDB blocks by `promtool tsdb create-blocks-from`,
the way an operator backfills."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from test_real_tools import tool


@dataclass(frozen=True)
class Written:
    metric: str
    labels: dict[str, str]
    timestamps: np.ndarray
    """Seconds since the epoch."""
    values: np.ndarray


def backfill(data_dir: Path, series: list[Written]) -> None:
    lines = []
    for metric in dict.fromkeys(s.metric for s in series):
        lines.append(f"# TYPE {metric} gauge")
        for s in (s for s in series if s.metric == metric):
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            lines += [f"{metric}{{{labels}}} {v:.6g} {int(t)}" for t, v in zip(s.timestamps, s.values, strict=True)]
    lines.append("# EOF")
    source = data_dir.parent / "backfill.om"
    source.write_text("\n".join(lines) + "\n")
    command = [tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


class PrometheusServer:
    """prometheus serving data_dir on 127.0.0.1:port; stop() and start() again keep the data."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.config = data_dir.parent / "prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 15s\n")
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30) -> None:
        command = [
            tool("prometheus"),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        log = (self.data_dir.parent / "prometheus.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "prometheus exited; see prometheus.log"
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus was not ready within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
