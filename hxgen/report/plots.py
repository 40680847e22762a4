"""The report's charts, drawn with matplotlib's Agg backend (no display) as SVG: sharp on
screen and in print, and embedded as data URIs so the HTML stays one self-contained file."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import lines, ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .model import Report  # noqa: E402

GOOD, BAD, NEUTRAL, TARGET = "#2e7d32", "#c62828", "#90a4ae", "#212121"
PALETTE = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#9e9d24")
WIDTH_IN = 7.2

plt.rcParams.update(
    {
        "font.size": 8.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "svg.hashsalt": "hx-report",  # the same report draws the same bytes
    }
)


def data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def daily_tokens(report: Report) -> str | None:
    if not report.daily_tokens:
        return None
    days = [d.strftime("%a %d") if report.period.kind != "month" else d.strftime("%d") for d in report.period.days]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.6))
    bottom = [0] * len(days)
    for i, (tenant, tokens) in enumerate(report.daily_tokens.items()):
        ax.bar(days, tokens, bottom=bottom, label=tenant, color=PALETTE[i % len(PALETTE)], width=0.7)
        bottom = [b + t for b, t in zip(bottom, tokens, strict=True)]
    ax.set_title("Tokens per day, by tenant")
    ax.yaxis.set_major_formatter(ticker.EngFormatter(sep=""))
    ax.legend(frameon=False, ncols=min(4, len(report.daily_tokens)), loc="upper left", bbox_to_anchor=(0, -0.12))
    if len(days) > 14:
        ax.tick_params(axis="x", labelsize=7, rotation=90)
    return data_uri(fig)


def cost_by_tenant(report: Report) -> str | None:
    if report.currency is None or not report.host_cost:
        return None
    names = [t.name for t in report.tenants] + ["not attributed"]
    costs = [t.cost for t in report.tenants] + [report.unattributed_cost]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(report.tenants))] + [NEUTRAL]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.45 * len(names) + 0.8))
    bars = ax.barh(names[::-1], costs[::-1], color=colors[::-1], height=0.6)
    ax.bar_label(bars, labels=[f"{c:,.2f} {report.currency}" for c in costs[::-1]], padding=3, fontsize=8)
    ax.set_title(f"Cost by tenant ({report.currency})")
    ax.set_xlim(0, max(costs) * 1.25 or 1)
    return data_uri(fig)


def latency_vs_target(report: Report) -> str | None:
    rows = [r for r in report.latencies if r.p50_s is not None or r.target_ms is not None]
    if not rows:
        return None
    kinds = [k for k in ("ttft", "e2e") if any(r.kind == k for r in rows)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(WIDTH_IN, 2.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        mine = [r for r in rows if r.kind == kind]
        xs = range(len(mine))
        for offset, (label, attr, alpha) in zip(
            (-0.26, 0, 0.26), (("p50", "p50_s", 0.35), ("p95", "p95_s", 0.65), ("p99", "p99_s", 1.0)), strict=True
        ):
            values = [(getattr(r, attr) or 0) * 1000 for r in mine]
            ax.bar([x + offset for x in xs], values, width=0.26, color=PALETTE[0], alpha=alpha, label=label)
        for x, r in zip(xs, mine, strict=True):
            if r.target_ms is not None:
                color = GOOD if r.met else BAD if r.met is False else TARGET
                ax.hlines(r.target_ms, x - 0.42, x + 0.42, colors=color, linewidth=2.2)
        ax.set_xticks(list(xs), [r.model for r in mine], rotation=20, ha="right")
        ax.set_title("Time to first token (ms)" if kind == "ttft" else "End-to-end latency (ms)")
        ax.margins(y=0.15)
    target = lines.Line2D([], [], color=TARGET, linewidth=2.2, label="target (green met, red missed)")
    handles, _ = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles=[*handles, target], frameon=False, ncols=4, loc="upper center", bbox_to_anchor=(0.5, 0.0))
    return data_uri(fig)


def slo_attainment(report: Report) -> str | None:
    rows = [r for r in report.slos if r.attainment is not None]
    if not rows:
        return None
    labels = [f"{r.model} · {r.slo}" for r in rows][::-1]
    values = [r.attainment * 100 for r in rows][::-1]
    targets = [r.objective * 100 for r in rows][::-1]
    colors = [GOOD if r.met else BAD for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.32 * len(rows) + 0.9))
    ax.barh(labels, values, color=colors, height=0.6)
    ax.scatter(targets, labels, marker="|", s=220, color=TARGET, zorder=3, label="objective")
    low = min(values + targets)
    ax.set_xlim(max(0.0, low - (100 - low) * 0.6 - 0.1), 100)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g} %"))
    ax.set_title("SLO attainment in the period (bar) against the objective (|)")
    return data_uri(fig)


def all_plots(report: Report) -> dict[str, str | None]:
    return {
        "daily_tokens": daily_tokens(report),
        "cost_by_tenant": cost_by_tenant(report),
        "latency": latency_vs_target(report),
        "slo": slo_attainment(report),
    }
