"""Grafana's dashboard model, built as data: the grid layout, the panel types hx uses, and the
helpers that run a dashboard's queries outside Grafana (promtool, the sandbox's Prometheus).
The dashboards themselves, one builder each, are in dashboards.py."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..plan import Plan
from .common import header

DATASOURCE_UID = "hx-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39

WIDTH = 24
"""Columns of Grafana's grid."""
SECTION_IDS = 100
"""Ids per section: the n-th row owns ids n*100 to n*100+99, so adding a panel to one model's row
leaves the ids (and the viewPanel links) of every other row alone."""

# Values for Grafana's built-in variables, used where the queries run outside Grafana
# (promtool, the Molecule check against the sandbox's Prometheus). Grafana's own $__rate_interval
# is at least four scrape intervals; one minute holds two samples at any scrape interval up to
# 30 s (the sandbox scrapes every 10 s).
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


# --- Queries outside Grafana -------------------------------------------------------------------


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that queries, including those inside collapsed rows."""
    for panel in board["panels"]:
        if panel["type"] == "row":
            yield from panel["panels"]
        else:
            yield panel


def queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard, in panel order, as Grafana sends it."""
    return [t["expr"] for panel in panels(board) for t in panel["targets"]]


def concrete(expr: str) -> str:
    """The expression with Grafana's variables replaced by fixed durations, so that promtool and
    Prometheus's HTTP API accept it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in GRAFANA_VARIABLES:
            raise ValueError(f"no concrete value for ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(value, expr)


# --- Layout --------------------------------------------------------------------------------------


class Grid:
    """Places panels left to right on the 24-column grid, a line at a time; a row starts a new
    line. Panels of a collapsed row are stored inside it, positioned as they appear when it is
    expanded, and the next row follows right below its header (as Grafana saves them)."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self._section = 0
        self._next_id = 1
        self._x = self._y = self._line_height = 0
        self._row: dict[str, Any] | None = None

    def row(self, title: str, *, collapsed: bool = False) -> None:
        self._close_section()
        self._section += 1
        self._next_id = self._section * SECTION_IDS
        row = {
            "id": self._take_id(),
            "type": "row",
            "title": title,
            "collapsed": collapsed,
            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": self._y},
            "panels": [],
        }
        self.panels.append(row)
        self._y += 1
        self._row = row

    def add(self, panel: dict[str, Any], w: int = 8, h: int = 8) -> None:
        assert 0 < w <= WIDTH, w
        if self._x + w > WIDTH:
            self._new_line()
        placed = {"id": self._take_id(), "gridPos": {"h": h, "w": w, "x": self._x, "y": self._y}, **panel}
        self._x += w
        self._line_height = max(self._line_height, h)
        if self._row is not None and self._row["collapsed"]:
            self._row["panels"].append(placed)
        else:
            self.panels.append(placed)

    def done(self) -> list[dict[str, Any]]:
        self._close_section()
        return self.panels

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        limit = (self._section + 1) * SECTION_IDS
        assert taken < limit, f"more than {SECTION_IDS} panels in one section"
        return taken

    def _new_line(self) -> None:
        self._y += self._line_height
        self._x = self._line_height = 0

    def _close_section(self) -> None:
        self._new_line()
        if self._row is not None and self._row["collapsed"]:
            self._y = self._row["gridPos"]["y"] + 1


# --- Panels --------------------------------------------------------------------------------------

Query = tuple[str, str]
"""(expr, legend)"""


def _targets(queries_: Sequence[Query], *, instant: bool = False) -> list[dict[str, Any]]:
    targets = []
    for i, (expr, legend) in enumerate(queries_):
        target: dict[str, Any] = {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": expr}
        if instant:
            target |= {"instant": True, "range": False, "format": "table"}
        else:
            target |= {"instant": False, "range": True, "legendFormat": legend}
        targets.append(target)
    return targets


def above(value: float, color: str = "red") -> list[dict[str, Any]]:
    """Threshold steps: fine below value, `color` from value up."""
    return [{"color": "green", "value": None}, {"color": color, "value": value}]


def below(value: float, color: str = "red") -> list[dict[str, Any]]:
    """Threshold steps: `color` below value, fine from value up."""
    return [{"color": color, "value": None}, {"color": "green", "value": value}]


def timeseries(
    title: str,
    description: str,
    queries_: Sequence[Query],
    unit: str,
    *,
    minimum: float | None = 0,
    maximum: float | None = None,
    thresholds: list[dict[str, Any]] | None = None,
    stack: bool = False,
) -> dict[str, Any]:
    """A time series panel; thresholds are drawn as dashed lines (targets from hx.yaml)."""
    defaults: dict[str, Any] = {"unit": unit}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    defaults |= {
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if stack else 0,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "dashed" if thresholds else "off"},
        },
        "thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "green", "value": None}]},
    }
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, description, _targets(queries_), defaults, options)


def stat(
    title: str,
    description: str,
    queries_: Sequence[Query],
    unit: str,
    *,
    thresholds: list[dict[str, Any]] | None = None,
    up_down: bool = False,
) -> dict[str, Any]:
    """The last value of each series; `up_down` shows 1/0 as UP/DOWN on green/red."""
    defaults: dict[str, Any] = {
        "unit": unit,
        "color": {"mode": "thresholds"},
        "thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "green", "value": None}]},
    }
    if up_down:
        defaults["mappings"] = [
            {
                "type": "value",
                "options": {
                    "0": {"text": "DOWN", "color": "red", "index": 0},
                    "1": {"text": "UP", "color": "green", "index": 1},
                },
            }
        ]
        defaults["thresholds"] = {"mode": "absolute", "steps": below(1)}
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background" if up_down else "value",
        "graphMode": "none" if up_down else "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value_and_name",
    }
    return _panel("stat", title, description, _targets(queries_), defaults, options)


def up_stat(title: str, description: str, expr: str, legend: str) -> dict[str, Any]:
    """A stat panel of an `up`-like series: UP on green, DOWN on red."""
    return stat(title, description, [(expr, legend)], "none", up_down=True)


def _panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    defaults: dict[str, Any],
    options: dict[str, Any],
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options,
    }


def table(
    title: str,
    description: str,
    columns: Sequence[tuple[str, str, str, list[dict[str, Any]] | None]],
    keys: Sequence[str] = ("model",),
    sort_by: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    """One row per value of the key labels (a model by default) from instant queries, one column
    per query: (expr aggregated `by` the keys, column title, unit, cell thresholds or None).
    Rows are sorted by the first key, or by sort_by (a column title, descending or not)."""
    overrides, order = [], {key: i for i, key in enumerate(keys)}
    for i, (_, name, unit, thresholds) in enumerate(columns):
        field = f"Value #{chr(ord('A') + i)}"
        properties: list[dict[str, Any]] = [{"id": "displayName", "value": name}, {"id": "unit", "value": unit}]
        if thresholds:
            properties += [
                {"id": "thresholds", "value": {"mode": "absolute", "steps": thresholds}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ]
        overrides.append({"matcher": {"id": "byName", "options": field}, "properties": properties})
        order[field] = len(keys) + i
    targets = _targets([(expr, "") for expr, *_ in columns], instant=True)
    column, desc = sort_by or (keys[0], False)
    options = {"showHeader": True, "cellHeight": "sm", "sortBy": [{"displayName": column, "desc": desc}]}
    panel = _panel("table", title, description, targets, {"decimals": 3}, options, overrides)
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "indexByName": order}},
    ]
    return panel


def bar_gauge(
    title: str,
    description: str,
    expr: str,
    legend: str,
    unit: str,
    *,
    maximum: float | None = None,
    thresholds: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One horizontal bar per series of an instant query (a ranking: topk, or a share of a limit)."""
    defaults: dict[str, Any] = {
        "unit": unit,
        "min": 0,
        "color": {"mode": "thresholds"},
        "thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "green", "value": None}]},
    }
    if maximum is not None:
        defaults["max"] = maximum
    target = _targets([(expr, legend)])[0] | {"instant": True, "range": False}
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": True,
        "valueMode": "color",
    }
    return _panel("bargauge", title, description, [target], defaults, options)


def dashboard(plan: Plan, uid: str, title: str, what: str, grid: Grid) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": f"{what} {header(plan.spec_file, '').strip()}",
        "tags": ["hx"],
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "links": [
            {
                "type": "dashboards",
                "title": "hx dashboards",
                "tags": ["hx"],
                "asDropdown": True,
                "keepTime": True,
                "includeVars": False,
            }
        ],
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": grid.done(),
    }
