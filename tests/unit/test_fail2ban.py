"""security.fail2ban in the render: every setting reaches the jail file, and what a ban does
follows the firewall and the audit log (contract 2: no packet filter without the firewall)."""

from __future__ import annotations

import configparser

from conftest import dump_yaml

from hxgen.checks import run_checks
from hxgen.pipeline import render_text
from hxgen.render.fail2ban import ACTION_FILE, FILTER_FILE, JAIL_FILE, RULES_FILE
from hxgen.validation import validate


def _artifacts(spec_data) -> dict[str, str]:
    rendered = render_text(dump_yaml(spec_data))
    assert rendered.plan is not None, [d.format() for d in rendered.outcome.errors]
    return {a.path: a.text for a in rendered.artifacts}


def _jails(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_spec_settings_reach_both_jails(spec_data):
    spec_data["security"] = spec_data["security"] | {
        "fail2ban": {"max_retry": 7, "ban_minutes": 45, "find_minutes": 3},
        "firewall": spec_data["security"]["firewall"] | {"ssh_port": 2222},
    }
    jails = _jails(_artifacts(spec_data)[JAIL_FILE])
    assert jails.sections() == ["sshd", "hx-gateway"]
    for name in jails.sections():
        jail = jails[name]
        assert (jail["maxretry"], jail["bantime"], jail["findtime"]) == ("7", str(45 * 60), str(3 * 60))
        assert jail["ignoreip"].split() == ["127.0.0.1/8", "::1"]
    assert jails["sshd"]["backend"] == "systemd"
    assert jails["sshd"]["port"] == "2222"
    assert jails["hx-gateway"]["logpath"] == "/var/log/hx/gateway-access.log"
    assert jails["hx-gateway"]["port"] == "80,443"
    assert jails["hx-gateway"]["filter"] == "hx-gateway-auth"


def test_the_gateway_jail_follows_the_access_log_and_the_listening_ports(spec_data):
    spec_data["host"]["storage"] = {"logs_dir": "/srv/logs"}
    spec_data["gateway"].update(listen={"address": "0.0.0.0", "http_port": 8080}, tls={"mode": "off"})
    spec_data["security"]["firewall"]["allow"][0]["ports"] = [8080]
    jails = _jails(_artifacts(spec_data)[JAIL_FILE])
    assert jails["hx-gateway"]["logpath"] == "/srv/logs/gateway-access.log"
    assert jails["hx-gateway"]["port"] == "8080"  # no TLS: nothing listens on 443
    assert 'port="8080"' in jails["hx-gateway"]["action"]


def test_with_the_firewall_a_ban_drops_in_fails2bans_table_and_is_recorded(spec_data):
    artifacts = _artifacts(spec_data)
    actions = _jails(artifacts[JAIL_FILE])["hx-gateway"]["action"].split("\n")
    assert actions == ['nftables[type=multiport, port="80,443", protocol=tcp, blocktype=drop]', "hx-audit"]
    audit = artifacts[ACTION_FILE]
    assert (
        "actionban = <hx_audit> append --actor fail2ban --action ban "
        """--detail '{"jail":"<name>","address":"<ip>","seconds":<bantime>}'"""
    ) in audit
    assert "--action unban" in audit
    assert "hx_audit = /usr/local/bin/hx-audit" in audit


def test_without_the_firewall_bans_are_only_recorded_and_validate_warns(spec_data):
    spec_data["security"] = spec_data["security"] | {"firewall": {"enabled": False}}
    artifacts = _artifacts(spec_data)
    jails = _jails(artifacts[JAIL_FILE])
    assert [jails[j]["action"] for j in jails.sections()] == ["hx-audit", "hx-audit"]
    assert "nftables" not in artifacts[JAIL_FILE].replace("# ", "").split("[sshd]")[1]
    spec, _ = validate(spec_data)
    found = [(d.severity, d.code, d.message) for d in run_checks(spec)]
    assert found == [
        (
            "warning",
            "bans-not-enforced",
            "the firewall is off, so fail2ban's bans are recorded in the audit log, not enforced",
        )
    ]


def test_without_firewall_and_audit_log_nothing_acts_and_validate_says_so(spec_data):
    spec_data["security"] = spec_data["security"] | {"firewall": {"enabled": False}, "audit_log": {"enabled": False}}
    artifacts = _artifacts(spec_data)
    assert ACTION_FILE not in artifacts and RULES_FILE not in artifacts
    assert _jails(artifacts[JAIL_FILE])["sshd"]["action"] == ""
    spec, _ = validate(spec_data)
    assert [d.code for d in run_checks(spec)] == ["bans-not-enforced"]


def test_a_cpu_sandbox_that_records_bans_is_not_warned_one_that_does_nothing_is(spec_data):
    spec_data["security"] = spec_data["security"] | {"firewall": {"enabled": False}}
    spec_data["host"]["profile"] = "cpu"
    spec_data["host"]["gpus"] = []
    spec_data["models"][0]["gpus"] = []
    spec_data["models"][0].update(source={"generate": "tiny-llama", "seed": 1}, parameters_b=0.001, dtype="float32")
    spec, found = validate(spec_data)
    assert spec is not None, found
    assert "bans-not-enforced" not in [d.code for d in run_checks(spec)]
    spec_data["security"]["audit_log"] = {"enabled": False}
    spec, found = validate(spec_data)
    assert "bans-not-enforced" in [d.code for d in run_checks(spec)]


def test_fail2ban_off_renders_nothing_and_drops_the_role(spec_data):
    spec_data["security"] = spec_data["security"] | {"fail2ban": {"enabled": False}}
    rendered = render_text(dump_yaml(spec_data))
    assert not [a for a in rendered.artifacts if "fail2ban" in a.path or a.path == RULES_FILE]
    assert "fail2ban" not in [c.role for c in rendered.plan.components]
    assert rendered.plan.intrusion is None


def test_without_a_gateway_only_sshd_is_jailed(spec_data):
    spec_data["gateway"] = {"enabled": False}
    artifacts = _artifacts(spec_data)
    assert _jails(artifacts[JAIL_FILE]).sections() == ["sshd"]
    assert FILTER_FILE not in artifacts
    assert "HxAuthFailureBurst" not in artifacts[RULES_FILE]


def test_the_burst_alert_threshold_follows_max_retry_and_the_window(spec_data):
    spec_data["security"] = spec_data["security"] | {"fail2ban": {"max_retry": 3, "find_minutes": 2}}
    rules = _artifacts(spec_data)[RULES_FILE]
    assert "sum(rate(hx_gateway_auth_failures_total[5m])) * 120 > 3" in rules


def test_the_fail2ban_role_comes_right_after_the_gateway(spec_data):
    roles = [c.role for c in render_text(dump_yaml(spec_data)).plan.components]
    assert roles[roles.index("gateway") + 1] == "fail2ban"
