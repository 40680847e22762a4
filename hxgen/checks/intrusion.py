"""fail2ban against what a ban can do: with the firewall off hx loads no packet filter, so a ban
is recorded (audit log, metrics) but the address can still connect."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, warning
from ..spec import Spec
from .sections import reads


@reads("host", "security")
def bans(spec: Spec) -> Iterator[Diagnostic]:
    """Record-only bans pass quietly on the cpu profile: a sandbox or a development box shares its
    network with the machine it runs on (as the secrets check treats plain files), and its rendered
    jail file says so. Bans that do nothing at all are warned about on every profile."""
    s = spec.security
    if not s.fail2ban.enabled or s.firewall.enabled:
        return
    if spec.host.profile == "cpu" and s.audit_log.enabled:
        return
    if s.audit_log.enabled:
        message = "the firewall is off, so fail2ban's bans are recorded in the audit log, not enforced"
    else:
        message = "the firewall and the audit log are off, so fail2ban's bans are neither enforced nor recorded"
    yield warning(
        "bans-not-enforced", message, ("security", "fail2ban"), hint="enable security.firewall to drop banned addresses"
    )


CHECKS = (bans,)
