"""hx-gateway-cert-renew (the gateway role's renewal script) against a scratch TLS directory.

The script runs as the timer and the converge run it, with its configuration rendered from the
role's own template; nginx's check and reload are commands given in the environment, so the
test never touches this machine's nginx. Certificates are checked with the openssl CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import gateway_harness
import jinja2
import pytest
from conftest import DATA, ROOT
from ruamel.yaml import YAML

pytestmark = pytest.mark.tools

SCRIPT = ROOT / "roles/gateway/files/hx-gateway-cert-renew"
CONF_TEMPLATE = ROOT / "roles/gateway/templates/renew.conf.j2"
SANS = ["DNS:llm.internal", "DNS:localhost", "IP:127.0.0.1", "IP:::1"]


def write_conf(tls: Path, generation: int = 1, overlap_until: str | None = None, **extra: object) -> Path:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True)
    env.filters["quote"] = lambda v: shlex.quote(str(v))
    env.filters["bool"] = bool
    values = {
        "ansible_managed": "Written by the test",
        "_gateway_renew_command": str(SCRIPT),
        "gateway_tls_dir": str(tls),
        "gateway_tls_cert_file": str(tls / "gateway.crt"),
        "gateway_tls_key_file": str(tls / "gateway.key"),
        "gateway_server_name": "llm.internal",
        "gateway_tls_subject_alt_names": SANS,
        "inventory_hostname": "hx-test",
        "gateway_tls_ca_days": 3650,
        "gateway_tls_cert_days": 397,
        "gateway_tls_renew_days": 30,
        "gateway_tls_ca_generation": generation,
        "gateway_tls_ca_overlap_until": overlap_until,
        "hx_audit_command": str(tls.parent / "audit"),
        "hx_audit_enabled": True,
        **extra,
    }
    path = tls / "renew.conf"
    path.write_text(env.from_string(CONF_TEMPLATE.read_text()).render(**values))
    return path


@pytest.fixture
def tls(tmp_path) -> Path:
    """A TLS directory, and a stand-in audit CLI that appends its arguments to audit.log."""
    directory = tmp_path / "tls"
    directory.mkdir()
    audit = tmp_path / "audit"
    audit.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {tmp_path / "audit.log"}\n')
    audit.chmod(0o755)
    write_conf(directory)
    return directory


def renew(tls: Path, *args: str, nginx_test: str = "true") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HX_TLS_CONF": str(tls / "renew.conf"),
        "HX_NGINX_TEST": nginx_test,
        "HX_NGINX_RELOAD": f"echo reload >> {tls.parent / 'reloads'}",
    }
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, done.stderr
    return done


def x509(cert: Path, *fields: str) -> str:
    return subprocess.run(
        ["openssl", "x509", "-noout", *fields, "-in", str(cert)], capture_output=True, text=True, check=True
    ).stdout


def serial(cert: Path) -> str:
    return x509(cert, "-serial").strip()


def verifies(cert: Path, ca_file: Path) -> bool:
    done = subprocess.run(["openssl", "verify", "-CAfile", str(ca_file), str(cert)], capture_output=True, text=True)
    return done.returncode == 0


def bundle_subjects(bundle: Path) -> list[str]:
    text = bundle.read_text()
    certs = [c + "-----END CERTIFICATE-----\n" for c in text.split("-----END CERTIFICATE-----\n") if c.strip()]
    return [
        subprocess.run(
            ["openssl", "x509", "-noout", "-subject"], input=c, capture_output=True, text=True, check=True
        ).stdout.strip()
        for c in certs
    ]


def reloads(tls: Path) -> int:
    path = tls.parent / "reloads"
    return len(path.read_text().splitlines()) if path.exists() else 0


def audit_records(tls: Path) -> list[tuple[str, dict]]:
    path = tls.parent / "audit.log"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        words = line.split(" ", 6)  # append --actor A --action B --detail JSON
        assert words[:2] == ["append", "--actor"] and words[3] == "--action" and words[5] == "--detail", line
        found.append((words[4], json.loads(words[6])))
    return found


def days_until(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def issue_short_lived(tls: Path, generation: int, days: int) -> None:
    """Replace the server certificate with one for the same key and SANs that expires in `days`."""
    csr, ext = tls.parent / "short.csr", tls.parent / "short.ext"
    ext.write_text(f"subjectAltName={','.join(SANS)}\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        ["openssl", "req", "-new", "-key", str(tls / "gateway.key"), "-subj", "/CN=llm.internal", "-out", str(csr)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(tls / f"ca-{generation}.crt"),
         "-CAkey", str(tls / f"ca-{generation}.key"), "-CAcreateserial", "-CAserial", str(tls.parent / "serial"),
         "-days", str(days), "-extfile", str(ext), "-out", str(tls / "gateway.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


def test_a_fresh_host_gets_a_ca_a_bundle_and_a_certificate_and_a_second_run_changes_nothing(tls):
    first = ok(renew(tls))
    assert "changed:" in first.stdout
    cert = tls / "gateway.crt"
    assert verifies(cert, tls / "ca.crt")
    sans = x509(cert, "-ext", "subjectAltName")
    assert "DNS:llm.internal" in sans and "IP Address:127.0.0.1" in sans and "IP Address:0:0:0:0:0:0:0:1" in sans
    assert "TLS Web Server Authentication" in x509(cert, "-ext", "extendedKeyUsage")
    assert "CN = llm.internal" in x509(cert, "-subject")
    assert (tls / "gateway.key").stat().st_mode & 0o077 == 0
    assert (tls / "ca-1.key").stat().st_mode & 0o077 == 0
    assert reloads(tls) == 1
    assert [action for action, _ in audit_records(tls)] == ["certificate-renewed"]

    before = (cert.read_bytes(), (tls / "ca.crt").read_bytes())
    second = ok(renew(tls))
    assert "changed:" not in second.stdout  # the converge's changed_when: idempotent
    assert (cert.read_bytes(), (tls / "ca.crt").read_bytes()) == before
    assert reloads(tls) == 1


def test_a_certificate_expiring_within_the_window_is_reissued_with_the_same_names(tls):
    ok(renew(tls))
    issue_short_lived(tls, generation=1, days=10)  # the window is 30 days
    old_serial = serial(tls / "gateway.crt")
    done = ok(renew(tls))
    assert "expires within 30 days" in done.stdout
    cert = tls / "gateway.crt"
    assert serial(cert) != old_serial
    assert verifies(cert, tls / "ca.crt")
    assert ok(subprocess.run(["openssl", "x509", "-checkend", str(300 * 86400), "-noout", "-in", str(cert)]))
    assert x509(cert, "-ext", "subjectAltName").split(":", 1)[1] == (
        " \n    DNS:llm.internal, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n"
    )
    assert reloads(tls) == 2
    renewed = [detail for action, detail in audit_records(tls) if action == "certificate-renewed"]
    assert renewed[-1]["serial"] == serial(cert).split("=")[1]


def test_a_certificate_outside_the_window_is_left_alone(tls):
    ok(renew(tls))
    issue_short_lived(tls, generation=1, days=60)
    before = (tls / "gateway.crt").read_bytes()
    done = ok(renew(tls))
    assert "changed:" not in done.stdout
    assert (tls / "gateway.crt").read_bytes() == before
    assert reloads(tls) == 1


def test_new_sans_reissue_the_certificate(tls):
    ok(renew(tls))
    write_conf(tls, gateway_tls_subject_alt_names=[*SANS, "DNS:api.internal"])
    ok(renew(tls))
    assert "DNS:api.internal" in x509(tls / "gateway.crt", "-ext", "subjectAltName")


def test_nginx_rejecting_the_new_certificate_puts_the_old_one_back(tls):
    ok(renew(tls))
    issue_short_lived(tls, generation=1, days=10)
    before = ((tls / "gateway.crt").read_bytes(), (tls / "gateway.key").read_bytes())
    done = renew(tls, nginx_test="echo 'nginx: [emerg] cannot load certificate' >&2; false")
    assert done.returncode == 1
    assert "old one is back in place" in done.stderr and "cannot load certificate" in done.stderr
    assert ((tls / "gateway.crt").read_bytes(), (tls / "gateway.key").read_bytes()) == before
    assert reloads(tls) == 1  # never reloaded onto it


def test_no_reload_leaves_the_reload_to_the_converge(tls):
    ok(renew(tls, "--no-reload"))
    assert (tls / "gateway.crt").exists() and reloads(tls) == 0


def test_a_ca_from_the_old_role_becomes_generation_1_without_a_new_certificate_authority(tls):
    ok(renew(tls))
    (tls / "ca-1.key").rename(tls / "ca.key")  # what the role's community.crypto tasks left
    (tls / "ca-1.crt").unlink()
    ok(renew(tls))
    assert (tls / "ca-1.key").exists() and not (tls / "ca.key").exists()
    assert len(bundle_subjects(tls / "ca.crt")) == 1
    assert verifies(tls / "gateway.crt", tls / "ca.crt")


def test_rotation_keeps_both_cas_in_the_bundle_during_the_overlap_then_only_the_new(tls):
    ok(renew(tls))
    old_cert = tls.parent / "old-ca.crt"
    old_cert.write_bytes((tls / "ca-1.crt").read_bytes())
    served_before = serial(tls / "gateway.crt")

    write_conf(tls, generation=2, overlap_until=days_until(30))
    done = ok(renew(tls))
    assert "generated CA generation 2" in done.stdout
    assert bundle_subjects(tls / "ca.crt") == [
        "subject=CN = hx internal CA (hx-test) generation 2",
        "subject=CN = hx internal CA (hx-test) generation 1",
    ]
    # Clients that trust only the old CA keep working: the old CA still signs during the overlap.
    assert serial(tls / "gateway.crt") == served_before
    assert verifies(tls / "gateway.crt", old_cert)
    # A certificate from the new CA verifies against the bundle clients got.
    new_ca_issued = tls.parent / "from-new.crt"
    issue_short_lived(tls, generation=2, days=5)
    (tls / "gateway.crt").rename(new_ca_issued)
    assert verifies(new_ca_issued, tls / "ca.crt")
    assert not verifies(new_ca_issued, old_cert)
    rotated = [d for a, d in audit_records(tls) if a == "ca-rotated"]
    assert rotated == [{"generation": 2, "phase": "new-ca", "overlap_until": days_until(30)}]
    ok(renew(tls))  # the certificate moved away: re-issued, still by the old CA
    assert verifies(tls / "gateway.crt", old_cert)
    assert "changed:" not in ok(renew(tls)).stdout

    write_conf(tls, generation=2, overlap_until=days_until(0))  # the overlap ends today
    done = ok(renew(tls))
    assert "removed CA generation(s) 1" in done.stdout
    assert bundle_subjects(tls / "ca.crt") == ["subject=CN = hx internal CA (hx-test) generation 2"]
    assert not (tls / "ca-1.key").exists()
    assert verifies(tls / "gateway.crt", tls / "ca.crt")
    assert not verifies(tls / "gateway.crt", old_cert)
    assert [d["phase"] for a, d in audit_records(tls) if a == "ca-rotated"] == ["new-ca", "old-ca-removed"]
    assert "changed:" not in ok(renew(tls)).stdout


def test_a_rotation_without_overlap_switches_at_once(tls):
    ok(renew(tls))
    write_conf(tls, generation=2)
    ok(renew(tls))
    assert bundle_subjects(tls / "ca.crt") == ["subject=CN = hx internal CA (hx-test) generation 2"]
    assert "generation 2" in x509(tls / "gateway.crt", "-issuer")


def test_a_generation_going_backwards_is_refused(tls):
    write_conf(tls, generation=3)
    ok(renew(tls))
    write_conf(tls, generation=1)  # e.g. inventory/tls-ca.yml lost
    done = renew(tls)
    assert done.returncode == 1 and "tls-ca.yml" in done.stderr
    assert (tls / "ca-3.key").exists()


def test_bad_configuration_and_arguments_exit_2(tls):
    assert renew(tls, "--bogus").returncode == 2
    (tls / "renew.conf").write_text("TLS_DIR=/nonexistent\n")
    done = renew(tls)
    assert done.returncode == 2 and "does not set" in done.stderr


def test_the_timer_and_its_service_pass_systemd_analyze_verify(tmp_path):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True)
    values = {
        "ansible_managed": "Written by the test",
        "_gateway_renew_command": "/usr/local/sbin/hx-gateway-cert-renew",
        "gateway_tls_dir": "/etc/hx/tls",
    }
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    program = root / values["_gateway_renew_command"].lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    names = ["hx-gateway-cert-renew.service", "hx-gateway-cert-renew.timer"]
    for name in names:
        template = ROOT / "roles/gateway/templates" / f"{name}.j2"
        (units / name).write_text(env.from_string(template.read_text()).render(**values))
    systemd_analyze = shutil.which("systemd-analyze")
    assert systemd_analyze, "systemd-analyze is not installed (Debian package systemd)"
    result = subprocess.run(
        [systemd_analyze, "verify", "--man=no", f"--root={root}", *names], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    timer = (units / names[1]).read_text()
    assert "OnCalendar=daily" in timer and "Persistent=true" in timer and "RandomizedDelaySec=" in timer


def served_certificate(port: int) -> str:
    """The PEM the gateway serves on 127.0.0.1:port."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"],
        input="", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    assert begin in done.stdout, done.stdout + done.stderr
    return done.stdout[done.stdout.index(begin) : done.stdout.index(end) + len(end)] + "\n"


def wait_served(port: int, cert: Path) -> None:
    """nginx's new workers take over after a reload: bounded, a miss fails."""
    wanted = cert.read_text()
    for _ in range(100):
        if served_certificate(port) == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"the gateway does not serve {cert} after the reload")


def test_real_nginx_serves_the_renewed_and_the_rotated_certificate(tmp_path):
    spec = YAML().load((DATA / "gateway-stream/hx.yaml").read_text())
    https = gateway_harness.free_port()
    spec["gateway"]["listen"] = {"address": "127.0.0.1", "http_port": gateway_harness.free_port(), "https_port": https}
    spec["gateway"]["tls"] = {"mode": "internal-ca"}
    with (tmp_path / "hx.yaml").open("w") as handle:
        YAML().dump(spec, handle)
    staged = gateway_harness.stage(tmp_path / "hx.yaml", tmp_path / "gateway", api_keys=[])
    tls = staged.root / "tls"  # the harness's ca.key/ca.crt: what an older role left, generation 1
    audit = tls.parent / "audit"  # write_conf's audit command
    audit.write_text("#!/bin/sh\n")
    audit.chmod(0o755)
    write_conf(tls, gateway_server_name="localhost", gateway_tls_subject_alt_names=["DNS:localhost", "IP:127.0.0.1"])
    proc = gateway_harness.start(staged)
    try:
        nginx = f"{gateway_harness.nginx()} -q -t -c {staged.conf}"
        env = {**os.environ, "HX_TLS_CONF": str(tls / "renew.conf"), "HX_NGINX_TEST": nginx,
               "HX_NGINX_RELOAD": f"kill -HUP {proc.pid}"}  # fmt: skip
        before = served_certificate(https)

        def run() -> subprocess.CompletedProcess:
            return ok(subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60))

        assert "kept the existing CA as generation 1" in run().stdout  # and re-issued: no record
        wait_served(https, tls / "gateway.crt")
        assert served_certificate(https) != before
        assert "changed:" not in run().stdout

        write_conf(tls, generation=2, gateway_server_name="localhost",
                   gateway_tls_subject_alt_names=["DNS:localhost", "IP:127.0.0.1"])  # fmt: skip
        run()
        wait_served(https, tls / "gateway.crt")
        served = tmp_path / "served.crt"
        served.write_text(served_certificate(https))
        assert "generation 2" in x509(served, "-issuer")
        assert verifies(served, tls / "ca.crt")
        assert proc.poll() is None
    finally:
        gateway_harness.stop(proc)
