"""The host firewall: hx's nftables table (`inet hx`), from security.firewall."""

from __future__ import annotations

from ..plan import Plan
from .common import RENDERED_DIR, Artifact, header, templates


def render(plan: Plan) -> list[Artifact]:
    fw = plan.firewall
    if fw is None:
        return []  # security.firewall.enabled is false: hx loads no packet filter at all
    head = header(plan.spec_file).rstrip("\n")
    return [
        Artifact(f"{RENDERED_DIR}/{fw.ruleset_file}", templates().get_template("hx.nft.j2").render(header=head, fw=fw)),
        Artifact(
            f"{RENDERED_DIR}/{fw.unit_file}",
            templates().get_template("hx-firewall.service.j2").render(header=head, fw=fw),
        ),
    ]
