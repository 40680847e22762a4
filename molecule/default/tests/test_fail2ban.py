"""fail2ban in the sandbox (testinfra): both jails run, the installed filter matches the gateway's
own 401 lines, and a ban is recorded in the audit log.

The sandbox has the firewall off (it shares this machine's network), so its bans are recorded,
not enforced (contract 2): nothing here loads or lists packet-filter rules. Its clients all come
from loopback, which the jails never ban, so the ban is made with `fail2ban-client banip` for a
documentation address; the real bans, from bad keys, are tested in network namespaces
(tests/test_fail2ban_netns.py).
"""

from __future__ import annotations

import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

GATEWAY = "https://127.0.0.1:8443"
JAILS = ("sshd", "hx-gateway")
ACCESS_LOG = "/var/log/hx/gateway-access.log"
FILTER = "/etc/fail2ban/filter.d/hx-gateway-auth.conf"
BANNED = "192.0.2.1"  # TEST-NET-1: never a real client
DEADLINE_S = 30.0


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {DEADLINE_S:g} s: {what}")


@pytest.fixture(scope="module")
def tls(host, tmp_path_factory):
    ca = tmp_path_factory.mktemp("ca") / "ca.crt"
    ca.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    return ssl.create_default_context(cafile=str(ca))


def test_fail2ban_is_active_and_enabled(host):
    service = host.service("fail2ban")
    assert service.is_running and service.is_enabled


def test_both_jails_run(host):
    listed = host.check_output("fail2ban-client status")
    running = re.search(r"Jail list:\s+(.*)", listed).group(1).replace(",", " ").split()
    assert set(JAILS) <= set(running), listed
    for jail in JAILS:
        status = host.run(f"fail2ban-client status {jail}")
        assert status.rc == 0 and "Currently banned" in status.stdout, status.stdout + status.stderr


def test_loopback_is_never_banned(host):
    ignored = host.check_output("fail2ban-client get hx-gateway ignoreip")
    assert "127.0.0.0/8" in ignored or "127.0.0.1/8" in ignored, ignored
    assert "::1" in ignored, ignored


def test_the_installed_filter_matches_the_gateways_401_lines(host, tls):
    request = urllib.request.Request(GATEWAY + "/v1/models", headers={"Authorization": "Bearer sk-not-a-key"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=tls, timeout=30)
    assert refused.value.code == 401

    def matched() -> bool:
        """-v lists the address each matched line gave, below the regex."""
        result = host.run(f"fail2ban-regex -v {ACCESS_LOG} {FILTER}")
        section = result.stdout.split("Failregex:", 1)[-1].split("Ignoreregex:", 1)[0]
        return result.rc == 0 and "127.0.0.1" in section

    wait_for("fail2ban-regex matches the 401 the gateway logged", matched)


def _recorded_bans() -> float:
    """hx_audit_records_total{action="ban"} as the audit service exports it (the sandbox shares
    this machine's loopback)."""
    from hxgen import layout

    with urllib.request.urlopen(f"http://127.0.0.1:{layout.AUDIT_EXPORTER_PORT}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    values = re.findall(r'^hx_audit_records_total\{[^}]*action="ban"[^}]*\} (\S+)$', metrics, flags=re.M)
    return sum(float(v) for v in values)


def test_a_ban_is_recorded_in_the_audit_log_and_not_enforced(host):
    actions = host.check_output("fail2ban-client get hx-gateway actions")
    assert "hx-audit" in actions and "nftables" not in actions, actions  # record-only: the firewall is off
    before = _recorded_bans()
    try:
        assert host.run(f"fail2ban-client set hx-gateway banip {BANNED}").rc == 0
        assert BANNED in host.check_output("fail2ban-client get hx-gateway banned")
        wait_for("the ban is counted by the audit service", lambda: _recorded_bans() > before)
    finally:
        host.run(f"fail2ban-client set hx-gateway unbanip {BANNED}")
    assert BANNED not in host.check_output("fail2ban-client get hx-gateway banned")
