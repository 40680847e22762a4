"""The rules of `hxgen doctor`: the Plan (what the spec wants) against the host's facts.

Each rule is a pure function returning findings; diagnose() runs them all. A hint names the
hx.yaml field or the command that fixes what was found, since that is where the user acts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..plan import ModelService, Plan
from .facts import GIB, HostFacts, MountFacts
from .findings import Finding, Severity

# A unit that starts this often within the journal window is crash-looping, not restarting.
RESTARTS_WARNING = 3
DISK_CRITICAL_RATIO = 0.05
DISK_WARNING_RATIO = 0.15
CONVERGE = "ansible-playbook -i inventory playbooks/site.yml"

Rule = Callable[[Plan, HostFacts], Iterator[Finding]]


def diagnose(plan: Plan, facts: HostFacts) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(plan, facts)]


def _unit(model: ModelService) -> str:
    return f"{model.service}.service"


def model_units(plan: Plan, facts: HostFacts) -> Iterator[Finding]:
    for index, model in enumerate(plan.models):
        unit = _unit(model)
        state = facts.units.get(unit)
        where = f"models[{index}] ({model.name})"
        if state is None:
            yield Finding(
                Severity.CRITICAL, "unit-missing", unit, f"{model.name}'s service is not installed",
                f"converge the host ({CONVERGE}); {where} declares it",
            )  # fmt: skip
            continue
        if state.oom_kills:
            yield _oom_killed(index, model, unit, state.oom_kills, state.restarts, facts.journal_window_min)
        elif state.restarts >= RESTARTS_WARNING:
            yield Finding(
                Severity.WARNING, "unit-restarts", unit,
                f"{model.name} restarted {state.restarts} times in {facts.journal_window_min} min",
                f"read why with `journalctl -u {unit}`; the engine's settings are {where}",
            )  # fmt: skip
        if state.active_state != "active":
            yield Finding(
                Severity.CRITICAL, "unit-down", unit,
                f"{model.name} is {state.active_state} ({state.sub_state or 'no sub-state'}): its route answers 503",
                f"`systemctl start {unit}` brings it back; `journalctl -u {unit}` says why it stopped",
                (f"ActiveState={state.active_state}", f"SubState={state.sub_state}"),
            )  # fmt: skip


def _oom_killed(index: int, model: ModelService, unit: str, kills: int, restarts: int, window: int) -> Finding:
    field = f"models[{index}].resources.memory_gb"
    return Finding(
        Severity.CRITICAL, "oom-killed", unit,
        f"{model.name} restarted {restarts} times in {window} min, OOM-killed {kills} times; "
        f"MemoryMax {model.memory_max_gb:g}G",
        f"raise {field} (now {model.memory_max_gb:g}), or lower models[{index}].max_model_len or "
        f"max_num_seqs; then hxgen render and converge",
        (f"{kills} OOM kill(s) of {unit} in the journal", f"MemoryMax={model.memory_max_gb:g}G from {field}"),
    )  # fmt: skip


def model_ports(plan: Plan, facts: HostFacts) -> Iterator[Finding]:
    for index, model in enumerate(plan.models):
        state = facts.units.get(_unit(model))
        # A unit that is down is reported as such; its port adds nothing. One still starting has not bound yet.
        if state is None or state.active_state != "active" or model.port in facts.listening_tcp_ports:
            continue
        yield Finding(
            Severity.CRITICAL, "port-not-listening", f"{model.name}:{model.port}",
            f"{model.name} runs but nothing listens on port {model.port}",
            f"models[{index}].port is {model.port}: is the engine still loading (`journalctl -u {model.service}`), "
            "or was the port changed on the host by hand? converge to restore it",
        )  # fmt: skip


def disk_headroom(plan: Plan, facts: HostFacts) -> Iterator[Finding]:
    # Every mounted filesystem counts: a full one stops whatever writes there.
    weights = ", ".join(sorted({m.weights_dir for m in plan.models})) or "no model"
    for mount in facts.mounts:
        if mount.available_ratio < DISK_CRITICAL_RATIO:
            yield _disk(Severity.CRITICAL, mount, weights)
        elif mount.available_ratio < DISK_WARNING_RATIO:
            yield _disk(Severity.WARNING, mount, weights)


def _disk(severity: Severity, mount: MountFacts, weights: str) -> Finding:
    return Finding(
        severity, "disk-low", mount.path,
        f"{mount.path} has {mount.available_bytes / GIB:.1f} GiB free of {mount.size_bytes / GIB:.1f} GiB "
        f"({mount.available_ratio:.0%})",
        "free or grow the filesystem; Prometheus keeps monitoring.retention_days (or retention_size_gb) "
        f"of data, and the models' weights are in {weights}",
        (f"available={mount.available_bytes} bytes", f"size={mount.size_bytes} bytes"),
    )  # fmt: skip


RULES: tuple[Rule, ...] = (model_units, model_ports, disk_headroom)
