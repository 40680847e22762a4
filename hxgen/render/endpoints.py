"""Where the services listen and the URLs the roles' health checks call, as role variables.

Derived from the variables the inventory already emits (addresses and ports), so the roles no
longer join addresses and ports in Jinja: every `host:port` and URL comes from hxgen.addresses.
"""

from __future__ import annotations

from typing import Any

from .. import addresses

# Prometheus, Alertmanager and the exporters serve loopback only: Prometheus scrapes them there
# and the gateway is the host's only public entry.
MONITORING_LISTEN_ADDRESS = "127.0.0.1"

# role -> (variable prefix, port variable, health path); their listen address is hxgen's.
_MONITORING = {
    "prometheus": ("prometheus", "prometheus_port", "/-/ready"),
    "alertmanager": ("alertmanager", "alertmanager_port", "/-/ready"),
    "node_exporter": ("node_exporter", "node_exporter_port", "/metrics"),
    "nvidia": ("nvidia_dcgm_exporter", "nvidia_dcgm_exporter_port", "/metrics"),
}


def endpoint_vars(variables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Extra variables per role, for the roles present in variables (role -> its variables)."""
    out: dict[str, dict[str, Any]] = {}
    for role, (prefix, port_var, path) in _MONITORING.items():
        if role in variables:
            port = variables[role][port_var]
            out[role] = {
                f"{prefix}_listen_address": MONITORING_LISTEN_ADDRESS,
                f"{prefix}_listen_endpoint": addresses.host_port(MONITORING_LISTEN_ADDRESS, port),
                f"{prefix}_health_url": addresses.local_url("http", MONITORING_LISTEN_ADDRESS, port, path),
            }
    if "grafana" in variables:
        port = variables["grafana"]["grafana_port"]
        out["grafana"] = {
            "grafana_listen_address": MONITORING_LISTEN_ADDRESS,
            "grafana_health_url": addresses.local_url("http", MONITORING_LISTEN_ADDRESS, port, "/api/health"),
        }
    if "gateway" in variables:
        out["gateway"] = {"gateway_health_url": _gateway_health_url(variables["gateway"])}
    if "qdrant" in variables:
        q = variables["qdrant"]
        api = addresses.local_url("http", q["qdrant_listen_address"], q["qdrant_http_port"])
        out["qdrant"] = {"qdrant_api_url": api, "qdrant_health_url": f"{api}/readyz"}
    return out


def _gateway_health_url(g: dict[str, Any]) -> str:
    tls = g["gateway_tls_mode"] != "off"
    port = g["gateway_https_port"] if tls else g["gateway_http_port"]
    return addresses.local_url("https" if tls else "http", g["gateway_listen_address"], port, "/healthz")
