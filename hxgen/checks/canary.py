"""A route's canary: what its rollout needs to run at all, and a plan it can carry out.

The rollout is hx-control's (it moves the weights, so the route's weights must be hers), its gate
reads hx-usage's per-variant counts from Prometheus (so usage accounting must run), and its rates
need at least two scrapes in a window."""

from __future__ import annotations

from collections.abc import Iterator

from .. import components
from ..diagnostics import Diagnostic, error
from ..spec import Spec
from ..spec.gateway import Route
from .sections import reads

SAMPLES_PER_WINDOW = 2
"""rate() needs two samples inside its window."""


@reads(*components.READS)
def canaries(spec: Spec) -> Iterator[Diagnostic]:
    roles = components.enabled_roles(spec)
    for i, route in enumerate(spec.gateway.routes):
        if route.canary is not None:
            yield from _canary(spec, route, ("gateway", "routes", i, "canary"), roles)


def _canary(spec: Spec, route: Route, base: tuple, roles: tuple[str, ...]) -> Iterator[Diagnostic]:
    canary = route.canary
    yield from _in_split(spec, route, base)
    if route.weights_owner != "control":
        yield error(
            "canary-weights-owner",
            f"route {route.alias} has a canary, whose rollout sets the route's weights, but its weights "
            "belong to the spec, and every converge would set them back",
            (*base[:-1], "weights_owner"),
            hint="set weights_owner: control",
        )
    if "control" not in roles:
        yield error(
            "canary-without-control",
            "a canary is rolled out by hx-control, which does not run",
            base,
            hint="enable control (control.enabled, with the gateway and databases.postgres on)",
        )
    if "usage" not in roles:
        yield error(
            "canary-without-usage",
            "the canary's gate counts the requests each variant answered, which only usage accounting does",
            base,
            hint="enable usage accounting (usage.enabled, with databases.postgres on)",
        )
    steps = canary.steps_percent
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or steps[-1] != 100:
        yield error(
            "canary-steps",
            f"steps {steps} must increase and end at 100",
            (*base, "steps_percent"),
            hint="for example [1, 5, 25, 50, 100]",
        )
    least = SAMPLES_PER_WINDOW * spec.monitoring.scrape_interval_s
    if canary.window_s < least:
        yield error(
            "canary-window",
            f"a window of {canary.window_s} s holds fewer than {SAMPLES_PER_WINDOW} scrapes "
            f"(monitoring.scrape_interval_s is {spec.monitoring.scrape_interval_s})",
            (*base, "window_s"),
            hint=f"window_s: {least} or more",
        )


def _in_split(spec: Spec, route: Route, base: tuple) -> Iterator[Diagnostic]:
    named = {m.name: m.name for m in spec.models} | {m.public_name: m.name for m in spec.models}
    canary = named.get(route.canary.model, route.canary.model)
    targets = {named.get(t.model, t.model): t for t in route.split}
    if canary not in targets:
        yield error(
            "unknown-reference",
            f"no variant named '{route.canary.model}' in route {route.alias}'s split",
            (*base, "model"),
            hint=f"the split's variants: {', '.join(t.model for t in route.split)}",
        )
        return
    if targets[canary].weight != 0:
        yield error(
            "canary-weight",
            f"the canary {route.canary.model} has weight {targets[canary].weight} in the split; its rollout sets it",
            (*base, "model"),
            hint="give the canary weight 0 in split and the stable variants 100 between them",
        )
    if len(targets) < 2:
        yield error(
            "canary-no-stable",
            f"route {route.alias} has no stable variant beside its canary to compare it with and fall back to",
            (*base, "model"),
            hint="add the current model to the split with weight 100",
        )


CHECKS = (canaries,)
