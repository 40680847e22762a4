"""The Ansible inventory: the host, and one group_vars file per role with its prefixed variables."""

from __future__ import annotations

from typing import Any

from .. import layout
from ..plan import ControlPlan, ModelService, Plan, UsagePlan
from .common import GROUP, INVENTORY_DIR, RENDERED_DIR, Artifact, sorted_keys, yaml_text
from .endpoints import endpoint_vars

CONNECTIONS = {"docker": "community.docker.docker", "local": "local"}


def render(plan: Plan) -> list[Artifact]:
    files = {"hx": _hx(plan), **_component_vars(plan)}
    artifacts = [Artifact(f"{INVENTORY_DIR}/hosts.yml", yaml_text(_hosts(plan), plan.spec_file))]
    for role, variables in sorted(files.items()):
        artifacts.append(
            Artifact(
                f"{INVENTORY_DIR}/group_vars/{GROUP}/{role}.yml",
                yaml_text(sorted_keys(variables), plan.spec_file),
            )
        )
    return artifacts


def components(plan: Plan) -> list[str]:
    """Roles the host needs, in the order site.yml applies them (decided by the plan)."""
    return list(dict.fromkeys(c.role for c in plan.components))


def _hosts(plan: Plan) -> dict[str, Any]:
    hosts = {}
    for host in plan.hosts:
        entry: dict[str, Any] = {}
        if host.connection == "ssh":
            if host.address is not None:
                entry["ansible_host"] = host.address
            if host.ssh_user:
                entry["ansible_user"] = host.ssh_user
        else:
            entry["ansible_connection"] = CONNECTIONS[host.connection]
        entry["ansible_python_interpreter"] = "/usr/bin/python3"
        hosts[host.name] = entry
    return {"all": {"children": {GROUP: {"hosts": hosts}}}}


def _hx(plan: Plan) -> dict[str, Any]:
    host = plan.single_host  # group variables: with several hosts, these become host variables
    return {
        "hx_components": components(plan),
        "hx_profile": host.profile,
        "hx_os": host.os,
        # inventory_dir is where Ansible found hosts.yml; the rendered tree sits beside it.
        "hx_rendered_dir": "{{ inventory_dir }}/../" + RENDERED_DIR,
        "hx_storage": host.storage.as_dict(),
        "hx_config_dir": layout.CONFIG_ROOT,
        "hx_state_dir": layout.STATE_ROOT,
        "hx_install_dir": layout.HX_ROOT,
        "hx_secrets_dir": layout.SECRETS_DIR,
        "hx_group": layout.HX_GROUP,
        # Relative to the inventory directory; ansible-vault encrypted, never committed in plain text.
        "hx_vault_file": plan.security.vault_file,
        # ansible-vault: the vault file must be encrypted and the roles write secrets from it;
        # files: operators place the secret files on the host and the roles check they exist.
        "hx_secrets_source": plan.security.secrets_source,
        # Relative to the inventory directory: the API key hashes kept by `hxgen keys`.
        "hx_api_keys_file": layout.API_KEYS_FILE,
        # Relative to the inventory directory: the internal CA generation kept by `hxgen tls rotate-ca`.
        "hx_tls_ca_file": layout.TLS_CA_FILE,
        # Other roles append to the audit log (`hx-audit append`) only when it is on.
        "hx_audit_enabled": plan.audit is not None,
        "hx_audit_command": layout.AUDIT_COMMAND,
    }


def _subject_alt_names(plan: Plan) -> list[str]:
    """Names a client may use for the gateway: its server name, the host's name and address."""
    g = plan.gateway
    host = plan.host_named(g.host)
    names = [f"DNS:{g.server_name}", f"DNS:{host.name}", "DNS:localhost", "IP:127.0.0.1"]
    if host.address:
        names.append(f"IP:{host.address}")
    if g.listen.address not in ("0.0.0.0", "::", "127.0.0.1"):
        names.append(f"IP:{g.listen.address}")
    return list(dict.fromkeys(names))


def _model_entry(m: ModelService) -> dict[str, Any]:
    return {
        "name": m.name,
        "service": m.service,
        "served_name": m.served_name,
        "port": m.port,
        "protocol": m.protocol,
        "unit_file": m.unit_file,
        "weights_dir": m.weights_dir,
        "source": m.source,
        "health_url": m.health_url,
        "task": m.task,
        "weights": m.weights,
    }


def _probes_a_model(plan: Plan) -> bool:
    return plan.probe is not None and plan.probe.call_path is not None


def _component_vars(plan: Plan) -> dict[str, dict[str, Any]]:
    enabled = set(components(plan))
    db, mon = plan.databases, plan.monitoring
    out: dict[str, dict[str, Any]] = {}
    if "nvidia" in enabled:
        out["nvidia"] = {
            "nvidia_gpus": [g.as_dict() for _, g in plan.gpus],
            "nvidia_dcgm_exporter_port": layout.DCGM_EXPORTER_PORT,
        }
    if "vllm" in enabled:
        v = plan.engines.vllm
        out["vllm"] = {
            "vllm_package": v.package,
            "vllm_version": v.version,
            "vllm_index_url": v.index_url,
            "vllm_user": layout.VLLM_USER,
            "vllm_venv_dir": layout.VLLM_VENV,
            "vllm_state_dir": layout.VLLM_STATE,
            "vllm_models": [_model_entry(m) for m in plan.models_on("vllm")],
            "vllm_generates_tiny_models": any("generate" in m.source for m in plan.models_on("vllm")),
            "vllm_grpc_packages": list(v.grpc_packages),
        }
    if "tgi" in enabled:
        out["tgi"] = {
            "tgi_image": plan.engines.tgi.image,
            "tgi_runtime": plan.engines.tgi.runtime,
            "tgi_state_dir": layout.TGI_STATE,
            "tgi_models": [_model_entry(m) for m in plan.models_on("tgi")],
        }
    if "gateway" in enabled:
        g = plan.gateway
        out["gateway"] = {
            "gateway_server_name": g.server_name,
            "gateway_listen_address": g.listen.address,
            "gateway_http_port": g.listen.http_port,
            "gateway_https_port": g.listen.https_port,
            "gateway_tls_mode": g.tls.mode,
            "gateway_tls_cert_file": g.tls.cert_file,
            "gateway_tls_key_file": g.tls.key_file,
            "gateway_tls_dir": layout.TLS_DIR,
            "gateway_tls_subject_alt_names": _subject_alt_names(plan),
            "gateway_conf_dir": layout.GATEWAY_CONF_DIR,
            "gateway_access_log": g.access_log,
            "gateway_access_log_days": plan.security.access_log_days,
            "gateway_cache_dir": layout.GATEWAY_CACHE_DIR if g.cache is not None else None,
            "gateway_status_port": layout.NGINX_STATUS_PORT,
            "gateway_exporter_port": layout.NGINX_EXPORTER_PORT,
            "gateway_probe_key_file": layout.GATEWAY_PROBE_KEY if _probes_a_model(plan) else None,
            "gateway_probe_tenant": layout.PROBE_TENANT,
            # hx-control runs: the role seeds its state files (keys, route weights) once, and its own
            # api-keys.map holds only the probe's key (hx-control's file holds the inventory's).
            "gateway_control_enabled": g.control is not None,
            "gateway_control_state_dir": g.control.state_dir if g.control else None,
            "gateway_control_keys_map": g.control.keys_map if g.control else None,
            "gateway_control_route_weights_file": g.control.route_weights if g.control else None,
            "gateway_upstreams": [
                {
                    "name": m.name,
                    "served_name": m.served_name,
                    "port": m.port,
                    "max_concurrent_requests": m.max_concurrent_requests,
                }
                for m in plan.models
            ],
        }
    if "postgresql" in enabled:
        pg = db.postgres
        out["postgresql"] = {
            "postgresql_version": pg.version,
            "postgresql_port": pg.port,
            "postgresql_listen_addresses": list(pg.listen_addresses),
            "postgresql_memory_gb": pg.memory_gb,
            "postgresql_sizing": pg.sizing.as_dict(),
            "postgresql_parallelism": pg.parallelism.as_dict(),
            "postgresql_databases": [{"name": d.name, "owner": d.owner} for d in pg.databases],
            "postgresql_retention_days": pg.retention_days,
        }
    if "pgbouncer" in enabled:
        pb = db.pgbouncer
        out["pgbouncer"] = {
            "pgbouncer_port": pb.port,
            "pgbouncer_pool_mode": pb.pool_mode,
            "pgbouncer_pool_size": pb.pool_size,
            "pgbouncer_max_client_conn": pb.max_client_connections,
        }
    if "qdrant" in enabled:
        qd = db.qdrant
        out["qdrant"] = {
            "qdrant_version": qd.version,
            "qdrant_http_port": qd.http_port,
            "qdrant_grpc_port": qd.grpc_port,
            "qdrant_listen_address": qd.listen_address,
            "qdrant_collections": list(qd.collections),
            "qdrant_snapshots": qd.snapshots,
            "qdrant_memory_gb": qd.memory_gb,
        }
    out["node_exporter"] = {"node_exporter_port": mon.node_exporter_port}
    out["prometheus"] = {
        "prometheus_port": mon.prometheus_port,
        "prometheus_scrape_interval_s": mon.scrape_interval_s,
        "prometheus_evaluation_interval_s": mon.evaluation_interval_s,
        "prometheus_retention_days": mon.retention_days,
        "prometheus_retention_size_gb": mon.retention_size_gb,
        "prometheus_blackbox_enabled": plan.probe is not None,
        "prometheus_blackbox_port": layout.BLACKBOX_EXPORTER_PORT,
        "prometheus_probe_key_source": layout.GATEWAY_PROBE_KEY if _probes_a_model(plan) else None,
        "prometheus_probe_key_file": layout.BLACKBOX_PROBE_KEY,
    }
    out["alertmanager"] = {
        "alertmanager_port": mon.alertmanager_port,
        "alertmanager_secrets_source": plan.security.secrets_source,
    }
    if "grafana" in enabled:
        out["grafana"] = {"grafana_port": mon.grafana.port}
    if plan.analytics is not None:
        out["analytics"] = {
            "analytics_service": plan.analytics.service,
            "analytics_user": plan.analytics.user,
            "analytics_port": plan.analytics.port,
            "analytics_venv_dir": layout.ANALYTICS_VENV,
            "analytics_state_dir": layout.ANALYTICS_STATE,
            "analytics_config_file": plan.analytics.config_file,
        }
    if plan.backup is not None:
        out["backup"] = _backup_vars(plan)
    if plan.firewall is not None:
        fw = plan.firewall
        out["firewall"] = {
            "firewall_ruleset_file": fw.host_ruleset_file,
            "firewall_service": fw.service,
            "firewall_apply_command": fw.apply_command,
            "firewall_ssh_port": fw.ssh_port,
            # Empty: SSH is open to every address (and the preflight has nothing to compare).
            "firewall_ssh_sources": [*fw.ssh_sources.ipv4, *fw.ssh_sources.ipv6],
        }
    if plan.audit is not None:
        a = plan.audit
        out["audit"] = {
            "audit_service": a.service,
            "audit_user": a.user,
            "audit_group": a.group,
            "audit_port": a.port,
            "audit_venv_dir": a.venv_dir,
            "audit_command": a.command,
            "audit_config_file": a.config_file,
            "audit_log_dir": a.log_dir,
            "audit_state_dir": a.state_dir,
            "audit_key_dir": a.key_dir,
            "audit_key_file": a.key_file,
            "audit_public_key_file": a.public_key_file,
            "audit_head_copy_dir": a.head_copy.rsplit("/", 1)[0],
            "audit_retention_days": a.retention_days,
            "audit_health_url": f"http://{layout.ENGINE_BIND_ADDRESS}:{a.port}/metrics",
        }
    if plan.usage is not None:
        out["usage"] = _usage_vars(plan.usage, plan.spec_file)
    if plan.control is not None:
        out["control"] = _control_vars(plan.control, plan.spec_file)
    if plan.intrusion is not None:
        f2b = plan.intrusion
        out["fail2ban"] = {
            "fail2ban_jails": [j.name for j in f2b.jails],
            "fail2ban_log_files": [j.log_path for j in f2b.jails if j.log_path],
            "fail2ban_nftables": f2b.enforced,
        }
    for role, derived in endpoint_vars(out).items():
        out[role] |= derived
    return out


def _usage_vars(u: UsagePlan, spec_file: str) -> dict[str, Any]:
    return {
        "usage_service": u.service,
        "usage_user": u.user,
        "usage_port": u.port,
        "usage_venv_dir": u.venv_dir,
        "usage_config_file": u.config_file,
        "usage_state_dir": u.state_dir,
        "usage_quota_dir": u.quota_dir,
        "usage_access_log": u.access_log,
        "usage_db_user": u.db_user,
        "usage_db_password_file": u.db_password_file,
        "usage_reports_enabled": u.reports_enabled,
        "usage_reports_dir": u.reports_dir,
        "usage_report_service": u.report_service,
        # `hxgen render SPEC` writes rendered/ beside SPEC.
        "usage_spec_source": "{{ hx_rendered_dir }}/../" + spec_file,
        "usage_spec_file": u.spec_file,
        "usage_health_url": f"http://{layout.ENGINE_BIND_ADDRESS}:{u.port}/metrics",
    }


def _control_vars(c: ControlPlan, spec_file: str) -> dict[str, Any]:
    return {
        "control_service": c.service,
        "control_user": c.user,
        "control_port": c.port,
        "control_venv_dir": c.venv_dir,
        "control_config_file": c.config_file,
        "control_state_dir": c.state_dir,
        "control_gateway_state_dir": c.gateway_state_dir,
        "control_keys_map": c.keys_map,
        "control_route_weights_file": c.route_weights_file,
        "control_inventory_keys_file": c.inventory_keys_file,
        "control_db_user": c.db_user,
        "control_db_password_file": c.db_password_file,
        "control_health_url": c.health_url,
        "control_reload_path_unit": c.reload_path_unit,
        "control_reload_service": c.reload_service,
        # The cost model reads the spec the host was converged from; `hxgen render SPEC` writes
        # rendered/ beside SPEC.
        "control_spec_source": "{{ hx_rendered_dir }}/../" + spec_file,
        "control_spec_file": c.spec_file,
    }


def _backup_vars(plan: Plan) -> dict[str, Any]:
    from .backup import unit_files  # the units the role copies, as the backup renderer names them

    b = plan.backup
    return {
        "backup_enabled": b.backups_enabled,
        "backup_databases": list(b.databases),
        "backup_postgres_dir": b.backup_dir,
        "backup_postgres_port": b.port,
        "backup_units": unit_files(b),
        "backup_commands": {
            "backup": layout.PG_BACKUP_COMMAND,
            "restore": layout.PG_RESTORE_COMMAND,
            "retention": layout.PG_RETENTION_COMMAND,
        },
        "backup_lib_dir": layout.BACKUP_LIB_DIR,
        "backup_config_dir": layout.BACKUP_CONFIG_DIR,
        "backup_recipients_file": layout.BACKUP_RECIPIENTS_FILE,
        "backup_identity_file": layout.BACKUP_IDENTITY_FILE,
        "backup_environment_file": layout.BACKUP_ENVIRONMENT_FILE,
    }
