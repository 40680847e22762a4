"""Small builders for the PromQL that hx's rules share, so every rule reads the same way."""

from __future__ import annotations

from .yaml_emitter import Literal


def selector(metric: str, *matchers: str) -> str:
    """`metric{a="b",...}`; matchers already in PromQL form, empty ones skipped."""
    inside = ",".join(m for m in matchers if m)
    return f"{metric}{{{inside}}}" if inside else metric


def rate(metric: str, window: str, agg: str = "sum", by: str = "model") -> str:
    return f"{agg} by ({by}) (rate({metric}[{window}]))"


def ratio(numerator: str, denominator: str, window: str) -> str:
    """numerator/denominator per model; an absent numerator (no such event yet) counts as 0 and
    a zero denominator gives no sample rather than NaN."""
    den = rate(denominator, window)
    return f"({rate(numerator, window)} or 0 * {den})\n  /\n  ({den} > 0)"


def quantile(q: float, bucket: str, window: str) -> str:
    return f"histogram_quantile({q:g}, {rate(bucket, window, by='model, le')})"


def gauge(metric: str, agg: str = "sum") -> str:
    return f"{agg} by (model) ({metric})"


def union(sources: tuple[str, ...]) -> str:
    """One expression per source, joined by `or`: a block scalar, one source per paragraph."""
    if len(sources) == 1 and "\n" not in sources[0]:
        return sources[0]
    return block("\nor\n".join(f"(\n  {s}\n)" for s in sources))


def block(text: str) -> str:
    """Multi-line PromQL as a YAML block scalar, readable in the rendered file."""
    if isinstance(text, Literal):  # already one (union's), so alert() may take either
        return text
    return Literal(text + "\n") if "\n" in text else text


def number(value: float) -> str:
    """A threshold as PromQL reads it: short and exact to ten digits (0.005, 14.4, 0.9333333333)."""
    return f"{value:.10g}"
