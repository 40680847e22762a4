"""Range queries against Prometheus's HTTP API (/api/v1/query_range), split into requests
of a day or so each: under Prometheus' limit of 11,000 points per series, and small enough
that the JSON of one request (a few hundred bytes a point while Python holds it) stays a
modest share of the service's memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import requests

MAX_POINTS_PER_REQUEST = 1_500
TIMEOUT_S = 30


class PrometheusUnavailable(Exception):
    """Prometheus cannot answer at all (refused, timed out, overloaded): the cycle waits."""


class QueryFailed(Exception):
    """Prometheus answered, but rejected this one query (bad PromQL, too many samples)."""


@dataclass(frozen=True)
class Result:
    labels: dict[str, str]
    timestamps: np.ndarray
    """Seconds since the epoch (float64), ascending."""
    values: np.ndarray


class Prometheus:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()

    def query_range(self, query: str, start: float, end: float, step_s: int) -> list[Result]:
        """Every series the query returns between start and end, one point per step, joined
        across as many requests as the span needs. NaN points (0/0) are left out."""
        parts: dict[tuple, list[np.ndarray]] = {}
        labels: dict[tuple, dict[str, str]] = {}
        chunk = MAX_POINTS_PER_REQUEST * step_s
        at = start
        while at <= end:
            until = min(end, at + chunk - step_s)
            for series in self._query_range(query, at, until, step_s):
                key = tuple(sorted(series["metric"].items()))
                labels[key] = series["metric"]
                parts.setdefault(key, []).append(_table(series["values"]))
            at = until + step_s
        return [_result(labels[key], np.concatenate(tables)) for key, tables in parts.items()]

    def _query_range(self, query: str, start: float, end: float, step_s: int) -> list[dict]:
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s}s"}
        try:
            response = self.session.post(f"{self.url}/api/v1/query_range", data=params, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise PrometheusUnavailable(f"{self.url}: {_reason(exc)}") from None
        if response.status_code in (400, 422):
            raise QueryFailed(_error_of(response))
        if response.status_code != 200:
            raise PrometheusUnavailable(f"{self.url}: HTTP {response.status_code}: {_error_of(response)}")
        try:
            return response.json()["data"]["result"]
        except (ValueError, KeyError, TypeError):
            raise PrometheusUnavailable(f"{self.url}: the answer is not Prometheus's API") from None


def _table(points: list[list]) -> np.ndarray:
    """[[1795716000.0, "0.42"], ...] as rows of (time, value); numpy parses "NaN" and "+Inf" too."""
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def _result(labels: dict[str, str], table: np.ndarray) -> Result:
    timestamps, values = table[:, 0], table[:, 1]
    keep = np.isfinite(values)
    order = np.argsort(timestamps[keep], kind="stable")
    return Result(labels, timestamps[keep][order], values[keep][order])


def _error_of(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", response.reason))
    except ValueError:
        return response.text.strip()[:200] or str(response.reason)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    return str(exc)
