"""Fields accepted today whose promise is not (yet, or not fully) kept, and the CPU budget.

The not-yet-enforced warnings fire only for values written in hx.yaml: a default nobody wrote
promises nothing, and warning about it would make every spec (and `--strict`) noisy. The fields
and the issues that make them real are listed in hxgen/spec/field_roles.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import components
from ..diagnostics import Diagnostic, error, warning
from ..spec import Spec
from .sections import reads
from .service_levels import usage_missing

GATEWAY_OVERHEAD_FIELDS = ("gateway_overhead_ms", "gateway_overhead_at_rps")


@reads(*components.READS, "targets")
def gateway_overhead(spec: Spec) -> Iterator[Diagnostic]:
    """The gateway's own latency comes from usage accounting (HxGatewayOverhead); without it,
    a target written down would promise what nothing watches."""
    if "usage" in components.enabled_roles(spec):
        return
    for name in GATEWAY_OVERHEAD_FIELDS:
        if name in spec.targets.model_fields_set:
            yield warning(
                "not-measured",
                f"has no effect: usage accounting is off ({usage_missing(spec)}), and only it measures "
                "the latency the gateway adds",
                ("targets", name),
                hint="enable usage accounting, or remove the target (benchmarks/ measures the overhead)",
            )


@reads("host", "models")
def cpu_capacity(spec: Spec) -> Iterator[Diagnostic]:
    """The CPU quotas of the models (resources.cpu_cores, CPUQuota= of their units) fit the host."""
    claimed = [(i, m.name, m.resources.cpu_cores) for i, m in enumerate(spec.models) if m.resources.cpu_cores]
    total = sum(cores for _, _, cores in claimed)
    if total > spec.host.cpu_cores:
        parts = ", ".join(f"{name} {cores:g}" for _, name, cores in claimed)
        yield error(
            "cpu-capacity",
            f"models claim {total:g} CPU cores but the host has {spec.host.cpu_cores} ({parts})",
            ("models", claimed[-1][0], "resources", "cpu_cores"),
            hint="lower resources.cpu_cores, or leave it out to let a model share the host's cores",
        )


@reads("host", "security")
def plain_secret_files(spec: Spec) -> Iterator[Diagnostic]:
    if spec.security.secrets.source == "files" and spec.host.profile != "cpu":
        yield warning(
            "plain-secrets",
            "secrets are plain files placed on the host by hand; on a real host keep them in "
            "ansible-vault so that they are encrypted at rest beside the inventory",
            ("security", "secrets", "source"),
            hint="source: ansible-vault (hxgen keys and the playbooks read the vault file)",
        )


CHECKS = (gateway_overhead, cpu_capacity, plain_secret_files)
