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
# The vllm role's wrapper of vLLM's gRPC server (roles/vllm/files/grpc_engine.py): it keeps the
# model's HTTP port for /health and /metrics.
VLLM_GRPC_ENGINE = f"{VLLM_VENV}/hx-grpc-engine.py"
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
# Beside hosts.yml too: the internal CA generation and overlap `hxgen tls rotate-ca` keeps.
TLS_CA_FILE = "tls-ca.yml"

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

# PostgreSQL backups and row retention (role backup): its scripts, the age keys, the host's
# settings file (host facts: textfile directory, audit command) that the rendered units read.
PG_BACKUP_SERVICE = "hx-pg-backup"
PG_RETENTION_SERVICE = "hx-pg-retention"
PG_BACKUP_COMMAND = "/usr/local/sbin/hx-pg-backup"
PG_RESTORE_COMMAND = "/usr/local/sbin/hx-pg-restore"
PG_RETENTION_COMMAND = "/usr/local/sbin/hx-pg-retention"
BACKUP_LIB_DIR = "/usr/local/lib/hx"  # hx-pg-common.sh, hx-pg-retention.sql
BACKUP_CONFIG_DIR = f"{CONFIG_ROOT}/backup"
BACKUP_RECIPIENTS_FILE = f"{BACKUP_CONFIG_DIR}/age-recipients.txt"  # public: encrypts only
BACKUP_IDENTITY_FILE = f"{SECRETS_DIR}/backup/age-identity.txt"  # root 0600; absent with a vault recipient
BACKUP_ENVIRONMENT_FILE = "/etc/default/hx-backup"


def pg_backup_dir(backups_dir: str) -> str:
    return f"{backups_dir}/postgres"


# The audit log (hxgen/audit/): the hx-audit command and service, from the hxgen wheel in a venv
# of its own, run by its own user; root and that user both append (group hx-audit).
AUDIT_SERVICE = "hx-audit"
AUDIT_USER = "hx-audit"
AUDIT_GROUP = "hx-audit"
AUDIT_VENV = f"{HX_ROOT}/audit"
AUDIT_STATE = f"{STATE_ROOT}/audit"
AUDIT_COMMAND = "/usr/local/bin/hx-audit"
AUDIT_EXPORTER_PORT = 9745
AUDIT_KEY_DIR = f"{SECRETS_DIR}/audit"
AUDIT_KEY_FILE = f"{AUDIT_KEY_DIR}/head.key"
AUDIT_PUBLIC_KEY_FILE = f"{AUDIT_KEY_DIR}/head.pub"
# The configuration file every hx-audit command reads: hxgen.contracts.audit.CONFIG_PATH.


def audit_log_dir(logs_dir: str) -> str:
    return f"{logs_dir}/audit"


def audit_head_copy(backups_dir: str) -> str:
    """The signed head kept beside the backups, off the log's file system when the backups are."""
    return f"{backups_dir}/audit/head.json"


# Usage accounting (hxgen/usage/): the hx-usage service, from the hxgen wheel in a venv of its own,
# run by its own user; it reads the gateway's access log (group adm) and writes the quota state
# the gateway reads (hxgen.contracts.usage.QUOTA_DIR).
USAGE_SERVICE = "hx-usage"
USAGE_USER = "hx-usage"
USAGE_VENV = f"{HX_ROOT}/usage"
USAGE_STATE = "/var/lib/hx-usage"  # position.json; quota/ (contracts.usage.QUOTA_DIR) below it
USAGE_PORT = 9746  # loopback: /metrics, and /v1/usage, /v1/feedback, /admin/usage behind the gateway
USAGE_REPORT_SERVICE = "hx-usage-report"
# The spec the host was converged from (copied by the usage role): the reports read it.
HOST_SPEC_FILE = f"{CONFIG_ROOT}/hx.yaml"
USAGE_DB_PASSWORD_FILE = f"{SECRETS_DIR}/usage/db.password"  # root:hx-usage 0640, a copy of the owner's


def usage_reports_dir(data_dir: str) -> str:
    return f"{data_dir}/reports"


# The control plane (hxgen/control/): the hx-control service, from the hxgen wheel in a venv of its
# own, run by its own user, on loopback behind the gateway (/admin/api, /admin/graphql, /admin/ui).
# What it writes for the gateway and where: hxgen.contracts.control.
CONTROL_SERVICE = "hx-control"
CONTROL_USER = "hx-control"
CONTROL_VENV = f"{HX_ROOT}/control"
CONTROL_STATE = "/var/lib/hx-control"
CONTROL_PORT = 9747
CONTROL_DB_PASSWORD_FILE = f"{SECRETS_DIR}/control/db.password"  # root:hx-control 0640, a copy of the owner's
