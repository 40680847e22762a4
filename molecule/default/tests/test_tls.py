"""The gateway's TLS on the sandbox (gateway.tls.mode internal-ca, HTTPS on 127.0.0.1:8443):
the renewal timer, the CA bundle clients trust, and the protocols served (testinfra)."""

from __future__ import annotations

import pytest

TLS_DIR = "/etc/hx/tls"
HTTPS = "127.0.0.1:8443"
SERVER_NAME = "hx-sandbox"


def s_client(host, *args: str):
    # One %s per argument: testinfra quotes each, so a joined string would be one argument.
    command = "openssl s_client -connect %s -servername %s" + " %s" * len(args) + " </dev/null 2>&1"
    return host.run(command, HTTPS, SERVER_NAME, *args)


def handshake_ok(out) -> bool:
    return out.rc == 0 and "Cipher is (NONE)" not in out.stdout and ", Cipher is " in out.stdout


def test_the_renewal_timer_is_enabled_and_waiting(host):
    timer = host.service("hx-gateway-cert-renew.timer")
    assert timer.is_enabled and timer.is_running
    assert host.file("/usr/local/sbin/hx-gateway-cert-renew").mode == 0o755


def test_a_timer_run_with_a_valid_certificate_changes_nothing(host):
    before = host.file(f"{TLS_DIR}/gateway.crt").sha256sum
    run = host.run("systemctl start hx-gateway-cert-renew.service")
    assert run.rc == 0, run.stderr
    result = host.run("systemctl show -p Result --value hx-gateway-cert-renew.service")
    assert result.stdout.strip() == "success"
    assert host.file(f"{TLS_DIR}/gateway.crt").sha256sum == before


def test_the_ca_bundle_exists_and_the_served_certificate_verifies_against_it(host):
    bundle = host.file(f"{TLS_DIR}/ca.crt")
    assert bundle.exists and bundle.mode == 0o644
    assert "BEGIN CERTIFICATE" in bundle.content_string
    assert host.file(f"{TLS_DIR}/ca-1.key").mode == 0o600
    out = s_client(host, "-CAfile", f"{TLS_DIR}/ca.crt", "-verify_hostname", SERVER_NAME, "-verify_return_error")
    assert handshake_ok(out), out.stdout
    assert "Verify return code: 0 (ok)" in out.stdout


def test_tls_1_2_and_1_3_are_accepted(host):
    for flag in ("-tls1_2", "-tls1_3"):
        out = s_client(host, flag)
        assert handshake_ok(out), out.stdout


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(host, flag):
    # Security level 0 so that the client offers them: the refusal must come from nginx.
    out = s_client(host, flag, "-cipher", "'DEFAULT:@SECLEVEL=0'")
    assert not handshake_ok(out), out.stdout
