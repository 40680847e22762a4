"""Run the rendered gateway on loopback: the real nginx with hxgen's files and the role's njs
handler, moved from their host paths into a scratch directory, and the key hashes written with
the gateway role's own template.

Shared by the integration tests and benchmarks/gateway.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from hxgen import layout
from hxgen.contracts import control as control_contract
from hxgen.pipeline import render_file
from hxgen.render.control import ROUTE_WEIGHTS_SEED
from hxgen.render.gateway import NGINX_DIR

ROOT = Path(__file__).resolve().parent.parent
KEYS_TEMPLATE = ROOT / "roles/gateway/templates/api-keys.map.j2"
USER_TEMPLATE = ROOT / "roles/gateway/templates/nginx-user.conf.j2"
HANDLER = ROOT / "roles/gateway/files/hx_gateway.js"


@dataclass(frozen=True)
class StagedGateway:
    root: Path
    conf: Path
    ca_cert: Path
    client_ca: Path
    access_log: Path
    error_log: Path
    https_url: str | None
    http_url: str
    quota_dir: Path
    """Where the gateway reads the quota state (hx-usage's files) from."""
    usage_port: int
    """Where the gateway expects hx-usage (when the spec runs it)."""
    state_dir: Path
    """hx-control's gateway state (control_contract.GATEWAY_STATE_DIR), seeded as the gateway role
    seeds it, when the spec runs hx-control."""
    control_port: int
    """Where the gateway expects hx-control (when the spec runs it)."""
    status_port: int = 0
    """The loopback status server (stub_status, and the live route weights with hx-control)."""

    @property
    def url(self) -> str:
        return self.https_url or self.http_url


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return key, cert


def issue(directory: Path, name: str, common_name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    """A certificate for common_name signed by ca; extensions as for openssl's -extfile."""
    key, csr, cert, ext = (directory / f"{name}{suffix}" for suffix in (".key", ".csr", ".crt", ".ext"))
    ext.write_text(extensions + "\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={common_name}",
             "-keyout", str(key), "-out", str(csr))  # fmt: skip
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return key, cert


def keys_map(api_keys: list[dict], probe_key: str | None = None, control: bool = False) -> str:
    """The role's key map; probe_key plays the key the role generates for the probe tenant.
    control: hx-control runs, and the role's map holds only the probe's key."""
    template = jinja2.Template(KEYS_TEMPLATE.read_text(), undefined=jinja2.StrictUndefined, trim_blocks=True)
    map_keys = [] if control else api_keys
    probe = {"stat": {"checksum": hashlib.sha256(probe_key.encode()).hexdigest()}} if probe_key else {}
    return template.render(
        _gateway_map_keys=map_keys,
        gateway_probe_key_file="probe.key" if probe_key else None,
        gateway_probe_tenant=layout.PROBE_TENANT,
        _gateway_probe_key=probe,
        ansible_managed="Written by the test harness",
    )


def nginx_user(user: str) -> str:
    """The role's include of nginx.conf that names the workers' user."""
    template = jinja2.Template(USER_TEMPLATE.read_text(), undefined=jinja2.StrictUndefined, trim_blocks=True)
    return template.render(gateway_nginx_user=user, ansible_managed="Written by the test harness")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stage(spec_path: Path, root: Path, api_keys: list[dict], probe_key: str | None = None) -> StagedGateway:
    """Render spec_path and lay the gateway out below root, ready for `nginx -c`."""
    rendered = render_file(spec_path)
    assert rendered.plan is not None, [d.format() for d in rendered.outcome.errors]
    spec = rendered.outcome.spec
    artifacts = {a.path: a.text for a in rendered.artifacts}
    conf_dir, tls, logs, cache, quota, state = (root / d for d in ("conf", "tls", "logs", "cache", "quota", "state"))
    for d in (conf_dir, tls, logs, quota, state):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy(HANDLER, conf_dir / HANDLER.name)
    (conf_dir / "openapi.json").write_text(artifacts[f"{NGINX_DIR}/openapi.json"])
    njs_config = json.loads(artifacts[f"{NGINX_DIR}/hx_config.json"])
    if njs_config["quota_dir"] is not None:
        njs_config["quota_dir"] = str(quota)
    (conf_dir / "hx_config.json").write_text(json.dumps(njs_config))
    control = rendered.plan.control is not None
    (conf_dir / "api-keys.map").write_text(keys_map(api_keys, probe_key, control))
    if control:
        # The gateway role's seed of hx-control's files (force: no): the inventory's keys, the spec's split.
        (state / Path(control_contract.KEYS_MAP).name).write_text(keys_map(api_keys))
        (state / Path(control_contract.ROUTE_WEIGHTS).name).write_text(artifacts[f"rendered/{ROUTE_WEIGHTS_SEED}"])
    # Scratch files must be readable by the workers; a production host keeps www-data.
    (conf_dir / "nginx-user.conf").write_text(nginx_user("root"))

    ca = make_ca(tls, "ca")
    server_key, server_cert = issue(
        tls, "gateway", "localhost", ca, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
    )
    client_ca = make_ca(tls, "clients-ca")

    g = spec.gateway
    usage_port, control_port, status_port = free_port(), free_port(), free_port()
    moves = {
        layout.GATEWAY_CONF_DIR: str(conf_dir),
        layout.GATEWAY_CACHE_DIR: str(cache),
        layout.NGINX_PID_FILE: str(root / "nginx.pid"),
        "/var/log/nginx/error.log": str(logs / "error.log"),
        layout.gateway_access_log(spec.host.storage.logs_dir): str(logs / "gateway-access.log"),
        f"{layout.ENGINE_BIND_ADDRESS}:{layout.NGINX_STATUS_PORT};": f"127.0.0.1:{status_port};",
        f"server {layout.ENGINE_BIND_ADDRESS}:{layout.USAGE_PORT};": f"server 127.0.0.1:{usage_port};",
        f"server {layout.ENGINE_BIND_ADDRESS}:{layout.CONTROL_PORT};": f"server 127.0.0.1:{control_port};",
        control_contract.GATEWAY_STATE_DIR + "/": f"{state}/",
    }
    for host_path, local in (
        (g.tls.cert_file or layout.GATEWAY_CERT, server_cert),
        (g.tls.key_file or layout.GATEWAY_KEY, server_key),
        (g.tls.client_ca_file, client_ca[1]),
    ):
        if host_path:
            moves[f" {host_path};"] = f" {local};"
    text = artifacts[f"{NGINX_DIR}/nginx.conf"]
    for old, new in moves.items():
        text = text.replace(old, new)
    conf = root / "nginx.conf"
    conf.write_text(text)
    addr = g.listen.address
    return StagedGateway(
        root=root,
        conf=conf,
        ca_cert=ca[1],
        client_ca=client_ca[1],
        access_log=logs / "gateway-access.log",
        error_log=logs / "error.log",
        https_url=f"https://{addr}:{g.listen.https_port}" if g.tls.mode != "off" else None,
        http_url=f"http://{addr}:{g.listen.http_port}",
        quota_dir=quota,
        usage_port=usage_port,
        state_dir=state,
        control_port=control_port,
        status_port=status_port,
    )


def client_certificate(staged: StagedGateway, common_name: str) -> tuple[Path, Path]:
    """(cert, key) of a client certificate signed by the gateway's client CA."""
    tls = staged.root / "tls"
    key, cert = issue(
        tls, f"client-{common_name}", common_name, (tls / "clients-ca.key", staged.client_ca),
        "extendedKeyUsage=clientAuth",
    )  # fmt: skip
    return cert, key


def nginx() -> str:
    found = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin")
    assert found, "nginx is not installed; run the README's test set-up (make setup-test)"
    return found


def reload_command(staged: StagedGateway) -> list[str]:
    """What reloads the staged nginx gracefully, as the reload service does on a host, and returns
    once the old configuration's workers are gone (tests/reload_nginx.py)."""
    return [sys.executable, str(ROOT / "tests" / "reload_nginx.py"), str(staged.root / "nginx.pid")]


def start(staged: StagedGateway) -> subprocess.Popen:
    """nginx in the foreground, as a child the caller stops."""
    check = subprocess.run([nginx(), "-t", "-c", str(staged.conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([nginx(), "-c", str(staged.conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    wait_listening(int(staged.http_url.rsplit(":", 1)[1]), proc)
    return proc


def wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 10, what: str = "nginx") -> None:
    """Until proc listens on 127.0.0.1:port; stops it and raises if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = proc.stderr.read() if proc.stderr else ""
            said = said.decode() if isinstance(said, bytes) else said
            raise RuntimeError(f"{what} exited with {proc.returncode}: {said}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s} s")


def stop(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def access_log(staged: StagedGateway) -> list[dict]:
    """The gateway's JSON access log, a dict per request."""
    return [json.loads(line) for line in staged.access_log.read_text().splitlines()]


def access_log_line(staged: StagedGateway, request_id: str) -> dict:
    """A request's access log line; nginx writes it once the request is finalised, just after
    the response, so give it a moment (bounded: a missing line fails)."""
    for _ in range(100):
        found = [line for line in access_log(staged) if line["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")
