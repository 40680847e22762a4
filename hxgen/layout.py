"""Fixed places on the target host. Renderers and the inventory both read them from here,
so a unit file and the role that installs its program never disagree."""

from __future__ import annotations

HX_ROOT = "/opt/hx"
STATE_ROOT = "/var/lib/hx"
CONFIG_ROOT = "/etc/hx"

HX_GROUP = "hx"  # shared by hx service users; may read /etc/hx/secrets
VLLM_USER = "hx-vllm"
VLLM_VENV = f"{HX_ROOT}/vllm"
VLLM_STATE = f"{STATE_ROOT}/vllm"
TGI_STATE = f"{STATE_ROOT}/tgi"

MODEL_SERVICE_PREFIX = "hx-model-"

# The analytics daemon: the hxgen wheel in a venv of its own, run by its own user.
ANALYTICS_SERVICE = "hx-analytics"
ANALYTICS_USER = "hx-analytics"
ANALYTICS_VENV = f"{HX_ROOT}/analytics"
ANALYTICS_STATE = f"{STATE_ROOT}/analytics"
# The service's configuration file: hxgen.contracts.analytics.CONFIG_PATH (both sides read it there).
ENGINE_BIND_ADDRESS = "127.0.0.1"  # engines are only reachable through the gateway


def model_service(name: str) -> str:
    return f"{MODEL_SERVICE_PREFIX}{name}"


# TLS material the gateway role generates (internal-ca) or links (provided).
TLS_DIR = f"{CONFIG_ROOT}/tls"
GATEWAY_CERT = f"{TLS_DIR}/gateway.crt"
GATEWAY_KEY = f"{TLS_DIR}/gateway.key"
SECRETS_DIR = f"{CONFIG_ROOT}/secrets"

# The gateway: nginx.conf in its usual place; hx's njs code, its data and the key map beside.
GATEWAY_CONF_DIR = "/etc/nginx/hx"
GATEWAY_CACHE_DIR = "/var/cache/nginx/hx"
NGINX_PID_FILE = "/run/nginx.pid"


def gateway_access_log(logs_dir: str) -> str:
    """The JSON access log: usage accounting reads it, logrotate keeps it to the retention."""
    return f"{logs_dir}/gateway-access.log"


# Beside hosts.yml on the controller: the key hashes `hxgen keys` keeps and playbooks/secrets.yml loads.
API_KEYS_FILE = "api-keys.yml"

# Exporters that the roles install beside the services they watch (loopback only).
NGINX_STATUS_PORT = 8081  # stub_status, read by the nginx exporter
NGINX_EXPORTER_PORT = 9113
POSTGRES_EXPORTER_PORT = 9187
PGBOUNCER_EXPORTER_PORT = 9127
BLACKBOX_EXPORTER_PORT = 9115
DCGM_EXPORTER_PORT = 9400  # GPU hosts: utilisation, memory, power and temperature per GPU

# The synthetic client of the blackbox probes: a tenant of its own, whose key the gateway role
# generates on the host and the prometheus role hands to the blackbox exporter.
PROBE_TENANT = "hx-probe"
GATEWAY_PROBE_KEY = f"{SECRETS_DIR}/gateway/probe.key"
BLACKBOX_PROBE_KEY = "/etc/prometheus/hx-probe.key"

# The audit log's command-line client (the audit role installs it from the hxgen wheel).
AUDIT_COMMAND = "/usr/local/bin/hx-audit"
