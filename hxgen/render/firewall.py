"""The host firewall: hx's nftables table (`inet hx`), from security.firewall."""

from __future__ import annotations

from ..plan import Plan
from .common import RENDERED_DIR, Artifact, header, templates


def render(plan: Plan) -> list[Artifact]:
    fw = plan.firewall
    if fw is None:
        return []  # security.firewall.enabled is false: hx loads no packet filter at all
    text = templates().get_template("hx.nft.j2").render(header=header(plan.spec_file).rstrip("\n"), fw=fw)
    return [Artifact(f"{RENDERED_DIR}/{fw.ruleset_file}", text)]
