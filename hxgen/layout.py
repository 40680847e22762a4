"""Fixed places on the target host. Renderers and the inventory both read them from here,
so a unit file and the role that installs its program never disagree."""

from __future__ import annotations

HX_ROOT = "/opt/hx"
STATE_ROOT = "/var/lib/hx"
CONFIG_ROOT = "/etc/hx"
SYSTEMD_DIR = "/etc/systemd/system"

HX_GROUP = "hx"  # shared by hx service users; may read /etc/hx/secrets
VLLM_USER = "hx-vllm"
VLLM_VENV = f"{HX_ROOT}/vllm"
VLLM_STATE = f"{STATE_ROOT}/vllm"
TGI_STATE = f"{STATE_ROOT}/tgi"

MODEL_SERVICE_PREFIX = "hx-model-"
ENGINE_BIND_ADDRESS = "127.0.0.1"  # engines are only reachable through the gateway


def model_service(name: str) -> str:
    return f"{MODEL_SERVICE_PREFIX}{name}"


# TLS material the gateway role generates (internal-ca) or links (provided).
TLS_DIR = f"{CONFIG_ROOT}/tls"
GATEWAY_CERT = f"{TLS_DIR}/gateway.crt"
GATEWAY_KEY = f"{TLS_DIR}/gateway.key"
SECRETS_DIR = f"{CONFIG_ROOT}/secrets"

# Exporters that the roles install beside the services they watch (loopback only).
NGINX_STATUS_PORT = 8081  # stub_status, read by the nginx exporter
NGINX_EXPORTER_PORT = 9113
POSTGRES_EXPORTER_PORT = 9187
PGBOUNCER_EXPORTER_PORT = 9127
