"""The nginx configuration of the gateway: one complete nginx.conf, checked with `nginx -t`."""

from __future__ import annotations

import re

from .. import layout
from ..plan import Plan
from .common import RENDERED_DIR, Artifact, header, templates


def render(plan: Plan) -> list[Artifact]:
    g = plan.spec.gateway
    if not g.enabled:
        return []
    tls = None
    if g.tls.mode != "off":
        provided = g.tls.mode == "provided"
        tls = {
            "cert": g.tls.cert_file if provided else layout.GATEWAY_CERT,
            "key": g.tls.key_file if provided else layout.GATEWAY_KEY,
            "client_ca": g.tls.client_ca_file,
            "protocols": "TLSv1.3" if g.tls.min_version == "1.3" else "TLSv1.2 TLSv1.3",
            "hsts_max_age_s": g.tls.hsts_max_age_s,
        }
    models = [
        {"served_name": m.served_name, "port": m.port, "upstream": "hx_model_" + re.sub(r"\W", "_", m.name)}
        for m in plan.models
    ]
    text = (
        templates()
        .get_template("nginx.conf.j2")
        .render(
            header=header(plan.spec_file).rstrip("\n"),
            models=models,
            listen=g.listen,
            server_name=g.server_name or plan.host.name,
            tls=tls,
            timeouts=g.timeouts,
            body_limit_kb=round(g.body_limit_mb * 1024),
            logs_dir=plan.host.storage.logs_dir,
            bind=layout.ENGINE_BIND_ADDRESS,
            status_port=layout.NGINX_STATUS_PORT,
        )
    )
    return [Artifact(f"{RENDERED_DIR}/nginx/nginx.conf", text)]
