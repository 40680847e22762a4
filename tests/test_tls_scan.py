"""A TLS scan of every TLS listener of the rendered gateway, with the `openssl s_client` CLI.

The real nginx runs the rendered nginx.conf (tests/gateway_harness.py) with a throwaway CA and
an ECDSA or an RSA server certificate (RSA key exchange can only be accepted with RSA). The
listeners are found by parsing that nginx.conf for `listen ... ssl`, so a TLS listener added to
the template later is scanned too. On each: TLS 1.2 (unless tls.min_version is "1.3") and 1.3
handshakes succeed with a certificate that verifies against the CA; TLS 1.0 and 1.1 and weak
suites (NULL, anonymous, MD5, RSA key exchange without forward secrecy, CBC with SHA-1) are
refused.

A refusal only counts if it comes from the server: this machine's OpenSSL may not offer old
protocols or suites at all. So every legacy probe is first run against a control server
(`openssl s_server` accepting everything at security level 0); a probe that the control does not
accept makes the test fail instead of passing for the wrong reason. Suites that this OpenSSL
cannot negotiate at all (RC4, 3DES, EXPORT: compiled out) cannot be probed on the wire; nginx
uses the same library, so for those the test checks that the library cannot build them and that
the server's configured suite list expands to none of them.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gateway_harness
import pytest
from conftest import DATA
from ruamel.yaml import YAML

pytestmark = pytest.mark.tools

BASE_SPEC = DATA / "gateway-stream/hx.yaml"
LEGACY = "DEFAULT:@SECLEVEL=0"
# Weak TLS 1.2 suite classes this OpenSSL can offer, in its cipher-string syntax.
WEAK_SUITES = {
    "NULL encryption": "eNULL",
    "anonymous (no authentication)": "aNULL",
    "MD5": "MD5",
    "RSA key exchange (no forward secrecy)": "kRSA",
    "CBC with SHA-1": "SHA1",
}
# Classes this OpenSSL (and so nginx, which links it) cannot negotiate at all.
UNBUILDABLE_SUITES = {"RC4": "RC4", "3DES": "3DES", "EXPORT": "EXPORT"}
PROTOCOL_FLAGS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}


def openssl() -> str:
    found = shutil.which("openssl")
    assert found, "the openssl CLI is not installed (Debian package openssl)"
    return found


@dataclass(frozen=True)
class Handshake:
    ok: bool
    protocol: str
    cipher: str
    verified: bool
    output: str


def handshake(port: int, *args: str, ca: Path | None = None) -> Handshake:
    command = [openssl(), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args]
    if ca is not None:
        command += ["-CAfile", str(ca), "-verify_hostname", "localhost"]
    done = subprocess.run(command, input="", capture_output=True, text=True, timeout=30)
    output = done.stdout + done.stderr
    found = re.search(r"New, (\S+), Cipher is (\S+)", output)
    protocol, cipher = (found.group(1), found.group(2)) if found else ("(NONE)", "(NONE)")
    ok = done.returncode == 0 and cipher != "(NONE)"
    return Handshake(ok, protocol, cipher, "Verify return code: 0 (ok)" in output, output)


def tls_listeners(nginx_conf: str) -> list[tuple[str, int]]:
    """(address, port) of every `listen` with the ssl parameter."""
    found = []
    for match in re.finditer(r"^\s*listen\s+([^;]+);", nginx_conf, re.MULTILINE):
        where, *params = match.group(1).split()
        if "ssl" in params:
            address, _, port = where.rpartition(":")
            found.append((address.strip("[]") or "0.0.0.0", int(port)))
    return found


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited: {proc.communicate()[1]}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def running(command: list[str], port: int) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        yield proc
    finally:
        gateway_harness.stop(proc)


@pytest.fixture(scope="module")
def control(tmp_path_factory) -> Iterator[int]:
    """A server that accepts every protocol and suite this OpenSSL has: proof a probe is offered."""
    root = tmp_path_factory.mktemp("control")
    key, cert = root / "rsa.key", root / "rsa.crt"
    subprocess.run(
        [openssl(), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = gateway_harness.free_port()
    command = [
        openssl(), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert), "-key", str(key),
        "-cipher", "ALL:eNULL:aNULL:@SECLEVEL=0", "-min_protocol", "TLSv1", "-quiet",
    ]  # fmt: skip
    with running(command, port):
        yield port


def write_spec(directory: Path, min_version: str) -> Path:
    yaml = YAML()
    spec = yaml.load(BASE_SPEC.read_text())
    spec["gateway"]["listen"] = {
        "address": "127.0.0.1",
        "http_port": gateway_harness.free_port(),
        "https_port": gateway_harness.free_port(),
    }
    spec["gateway"]["tls"] = {"mode": "internal-ca", "min_version": min_version}
    path = directory / "hx.yaml"
    with path.open("w") as handle:
        yaml.dump(spec, handle)
    return path


@dataclass(frozen=True)
class Scanned:
    min_version: str
    staged: gateway_harness.StagedGateway
    listeners: list[tuple[str, int]]
    configured_ciphers: str


def use_rsa_certificate(staged: gateway_harness.StagedGateway) -> None:
    """Serve an RSA certificate from the same CA: with one, RSA key exchange could be negotiated
    (a provided certificate is often RSA), so its refusal shows on the wire."""
    tls = staged.root / "tls"
    key, csr, cert, ext = (tls / f"rsa{suffix}" for suffix in (".key", ".csr", ".crt", ".ext"))
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        [openssl(), "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key),
         "-out", str(csr)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [openssl(), "x509", "-req", "-in", str(csr), "-CA", str(tls / "ca.crt"), "-CAkey", str(tls / "ca.key"),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.copy(key, tls / "gateway.key")
    shutil.copy(cert, tls / "gateway.crt")


@pytest.fixture(
    scope="module",
    params=[("1.2", "ec"), ("1.2", "rsa"), ("1.3", "ec"), ("1.3", "rsa")],
    ids=lambda p: f"min_version={p[0]}-{p[1]}",
)
def gateway(request, tmp_path_factory) -> Iterator[Scanned]:
    min_version, key_type = request.param
    root = tmp_path_factory.mktemp(f"tls-{min_version}-{key_type}")
    staged = gateway_harness.stage(write_spec(root, min_version), root / "gateway", api_keys=[])
    if key_type == "rsa":
        use_rsa_certificate(staged)
    text = staged.conf.read_text()
    listeners = tls_listeners(text)
    assert listeners, "the rendered nginx.conf has no TLS listener to scan"
    ciphers = re.findall(r"^\s*ssl_ciphers\s+([^;]+);", text, re.MULTILINE)
    assert ciphers, "the rendered nginx.conf sets no ssl_ciphers"
    proc = gateway_harness.start(staged)
    try:
        for _, port in listeners:
            wait_port(port, proc)
        yield Scanned(min_version, staged, listeners, ciphers[0])
    finally:
        gateway_harness.stop(proc)


def test_the_listener_parser_finds_every_ssl_listen():
    conf = """
        listen 127.0.0.1:80;
        listen 0.0.0.0:443 ssl http2;
        listen [::1]:8443 ssl;
        listen 9000 http2 ssl reuseport;
        listen 127.0.0.1:8081;
    """
    assert tls_listeners(conf) == [("0.0.0.0", 443), ("::1", 8443), ("0.0.0.0", 9000)]


def test_tls_1_3_and_the_allowed_tls_1_2_handshake_with_a_verified_certificate(gateway):
    for _, port in gateway.listeners:
        tls13 = handshake(port, "-tls1_3", ca=gateway.staged.ca_cert)
        assert tls13.ok and tls13.protocol == "TLSv1.3", tls13.output
        assert tls13.verified, tls13.output
        tls12 = handshake(port, "-tls1_2", ca=gateway.staged.ca_cert)
        if gateway.min_version == "1.2":
            assert tls12.ok and tls12.protocol == "TLSv1.2", tls12.output
            assert tls12.verified, tls12.output
            assert tls12.cipher.startswith("ECDHE-"), tls12.cipher  # forward secret
        else:
            assert not tls12.ok, f"TLS 1.2 accepted on port {port} although min_version is 1.3: {tls12.cipher}"


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_legacy_protocols_are_refused_by_the_server(gateway, control, version):
    flags = (PROTOCOL_FLAGS[version], "-cipher", LEGACY)
    offered = handshake(control, *flags)
    assert offered.ok, f"this openssl cannot offer TLS {version}, so a refusal would prove nothing: {offered.output}"
    for _, port in gateway.listeners:
        refused = handshake(port, *flags)
        assert not refused.ok, f"TLS {version} accepted on port {port}: {refused.protocol} {refused.cipher}"


@pytest.mark.parametrize("name", WEAK_SUITES)
def test_weak_suites_are_refused_by_the_server(gateway, control, name):
    flags = ("-tls1_2", "-cipher", f"{WEAK_SUITES[name]}:@SECLEVEL=0")
    offered = handshake(control, *flags)
    assert offered.ok, f"this openssl cannot offer {name}, so a refusal would prove nothing: {offered.output}"
    for _, port in gateway.listeners:
        refused = handshake(port, *flags)
        assert not refused.ok, f"{name} accepted on port {port}: {refused.cipher}"


@pytest.mark.parametrize("name", UNBUILDABLE_SUITES)
def test_suites_the_library_cannot_negotiate_are_not_configured_either(gateway, name):
    cls = UNBUILDABLE_SUITES[name]
    probe = subprocess.run(
        [openssl(), "ciphers", "-ciphersuites", "", "-tls1_2", f"{cls}:@SECLEVEL=0"], capture_output=True, text=True
    )
    assert probe.returncode != 0, f"this OpenSSL can build {name} suites; probe them on the wire instead"
    expanded = subprocess.run(
        [openssl(), "ciphers", "-v", "-ciphersuites", "", f"{gateway.configured_ciphers}:@SECLEVEL=0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert expanded.stdout.strip(), "the configured suites expand to nothing"
    for line in expanded.stdout.splitlines():
        name_, _proto, kx, au, enc, mac = line.split()[:6]
        assert not any(w in enc for w in ("RC4", "3DES", "DES(", "None")), line
        assert kx not in ("Kx=RSA", "Kx=RSAPSK", "Kx=PSK"), line
        assert au not in ("Au=None",), line
        assert "MD5" not in mac and "SHA1" not in mac, line
