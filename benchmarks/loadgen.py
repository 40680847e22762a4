"""Constant-rate (open-loop) HTTP/1.1 load generation with microsecond timing, for latency benchmarks.

`run()` drives `loadgen.c` (compiled on first use by `build()`, linked with OpenSSL) against a loopback HTTP
or HTTPS server and returns the JSON it prints.

Open loop versus closed loop
----------------------------
A closed-loop tool such as wrk keeps N connections busy and sends a connection's next request only when the
previous response has arrived. When the server stalls, the tool stalls with it: it sends nothing during the
slow period, so one stall becomes one slow sample instead of the many slow requests that independent clients
would have experienced ("coordinated omission"), and its percentiles look far better than what users see.
Its request rate is also an outcome, not an input, so you cannot ask "what latency at 1000 req/s?".

loadgen is open loop: request i is due at t0 + i/rate, whatever happened to earlier ones. It goes out on an
idle keep-alive connection, else on a new one (up to `connections`), else it waits for one, and that wait
counts.

What the numbers mean
---------------------
- `latency_us`: from the *scheduled* send time to the last byte of the response, over 2xx responses of the
  measured window (requests due during the first `warmup_s` seconds are sent but not recorded). This is what
  a client sending at that rate would see, including any queueing.
- `service_latency_us`: from the request's actual first write to the same last byte; the server's share.
  A large gap between the two means requests queued (pool exhausted, server behind) or the generator woke
  up late.
- Percentiles are exact (nearest rank over all samples, sorted); `p999` is the 99.9th.
- `errors`: `status_non_2xx` (complete responses with another status, counted in `status_counts` too),
  `connect` (refused or dropped before any response byte), `timeout` (no complete response within
  `timeout_ms` of the scheduled time, queueing included) and `malformed` (unparsable or truncated responses).
- `achieved_rate`: measured responses per second over the window, stretched when the last response arrived
  after the window's end; it equals `rate` only if every request completed and the server kept up.
- `generator`: the generator's own health. `dispatch_lag_us` is how late it handed requests to a connection
  (wake-up latency; it is included in `latency_us`), plus its CPU use and the connections it opened. On a
  machine busy with other work, ordinary scheduling can wake it milliseconds late; `realtime=True` (root or
  CAP_SYS_NICE) runs it as SCHED_FIFO, which keeps that lag's p99 under ~100 us unless the host itself
  stalls the VM. With `tls=True`, `tls_handshakes` and `tls_resumed` count the TLS handshakes (a failed one
  is a `connect` error) and how many of them resumed an earlier session.

Self-check against a throwaway nginx on 127.0.0.1 (prints one JSON object: a result per case, keyed by the
case's name, each with the keys above):

    python benchmarks/loadgen.py --selfcheck
    python benchmarks/loadgen.py --quick      # get_100, post_100, get_100_tls, status_404, connect_refused,
                                              # timeout, tls_wrong_ca

The TLS cases run against the same nginx on a second port, with a self-signed certificate for localhost:
verified against it (`ca_file`), and against another CA, where every handshake must fail.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("loadgen.c")


class LoadgenError(RuntimeError):
    """loadgen could not be built, or exited with an error."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hx"


def build() -> Path:
    """Compile loadgen.c once per source version; returns the binary's path."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    binary = _cache_dir() / f"loadgen-{digest}" / "loadgen"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    # Compile to a private name, then rename: concurrent builds never see (or run) a half-written file.
    partial = binary.with_name(f"loadgen.{os.getpid()}.tmp")
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-Wall", "-Wextra", "-o", str(partial), str(SOURCE), "-lssl", "-lcrypto"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LoadgenError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    os.replace(partial, binary)
    return binary


def _command(
    binary: Path,
    url_host_port: str,
    rate: float,
    duration_s: float,
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    warmup_s: float,
    connections: int,
    timeout_ms: int,
    realtime: bool,
    tls: bool,
    ca_file: Path | None,
) -> list[str]:
    cmd = [str(binary), "-u", url_host_port, "-r", repr(float(rate)), "-d", repr(float(duration_s))]
    cmd += ["-w", repr(float(warmup_s)), "-c", str(connections), "-t", str(timeout_ms), "-m", method, "-p", path]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if realtime:
        cmd.append("-R")
    if tls:
        cmd.append("-s")
    if ca_file is not None:
        cmd += ["-C", str(ca_file)]
    return cmd


def run(
    url_host_port: str,
    rate: float,
    duration_s: float,
    *,
    method: str = "GET",
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    warmup_s: float = 1.0,
    connections: int = 64,
    timeout_ms: int = 5000,
    realtime: bool = False,
    tls: bool = False,
    ca_file: Path | None = None,
) -> dict:
    """Send `rate` requests/s to `url_host_port` (e.g. "127.0.0.1:8080") for warm-up plus `duration_s`.

    Returns loadgen's JSON report (see the module docstring). `body`, if given, is sent with a
    Content-Length. `tls`: HTTPS (SNI localhost), the certificate verified for localhost against
    `ca_file` if given, else not verified. Raises LoadgenError if loadgen rejects the arguments or fails.
    """
    if ca_file is not None and not tls:
        raise ValueError("ca_file needs tls=True")
    cmd = _command(
        build(),
        url_host_port,
        rate,
        duration_s,
        method=method,
        path=path,
        headers=headers or {},
        warmup_s=warmup_s,
        connections=connections,
        timeout_ms=timeout_ms,
        realtime=realtime,
        tls=tls,
        ca_file=ca_file,
    )
    # Queued requests give up timeout_ms after their send time, so this bounds a healthy run.
    limit = warmup_s + duration_s + timeout_ms / 1000 + 30
    with tempfile.TemporaryDirectory(prefix="loadgen-") as tmp:
        if body is not None:
            body_file = Path(tmp) / "body"
            body_file.write_bytes(body)
            cmd += ["-b", str(body_file)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
    if proc.returncode != 0:
        raise LoadgenError(f"loadgen exited with {proc.returncode}: {proc.stderr.strip()}")
    if proc.stderr:
        sys.stderr.write(proc.stderr)  # warnings, e.g. SCHED_FIFO refused
    return json.loads(proc.stdout)


# --- self-check -------------------------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
{tls_listen}        keepalive_requests 100000;
        default_type application/json;
        location / {{ return 200 '{body}'; }}
        location /missing {{ return 404; }}
        # The SSI filter drops Content-Length (it could rewrite the body), so nginx falls back to
        # chunked transfer encoding for HTTP/1.1 clients.
        location /chunked {{
            ssi on;
            ssi_types application/json;
            return 200 '{{"ok":true,"chunked":true}}';
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LoadgenError(f"nginx exited with {proc.returncode}: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise LoadgenError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


@dataclass(frozen=True)
class TlsListener:
    port: int
    cert: Path
    """Self-signed for localhost: the CA file that verifies it."""


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """(cert, key): a P-256 certificate for localhost and 127.0.0.1, signed by itself."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def throwaway_nginx(
    port: int | None = None, body: str = '{"ok":true}', tls_listener: list[TlsListener] | None = None
) -> Iterator[int]:
    """An nginx whose files all live in a temp dir, answering `body` (no single quotes) at /;
    yields its port (a free one unless given) and stops it (our PID only). Given a list as
    `tls_listener`, it also serves HTTPS on a free port with a self-signed certificate, and
    appends where to the list."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="loadgen-nginx-") as tmp:
        port = port or _free_port()
        tls_listen = ""
        if tls_listener is not None:
            cert, key = self_signed(Path(tmp), "localhost")
            tls_port = _free_port()
            tls_listen = f"        listen 127.0.0.1:{tls_port} ssl;\n        ssl_certificate {cert};\n"
            tls_listen += f"        ssl_certificate_key {key};\n"
            tls_listener.append(TlsListener(tls_port, cert))
        conf = NGINX_CONF.format(tmp=tmp, port=port, body=body, tls_listen=tls_listen)
        Path(tmp, "nginx.conf").write_text(conf)
        log = Path(tmp, "error.log")
        # -e: without it nginx opens its default error log under /var/log before reading our config.
        cmd = [nginx, "-p", tmp, "-c", f"{tmp}/nginx.conf", "-e", str(log), "-g", "daemon off;"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        try:
            _wait_listening(port, proc, log)
            yield port
        finally:
            proc.terminate()  # SIGTERM to the master we started; it stops its own worker
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers: every request times out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        yield s.getsockname()[1]


def _raw_get_head(port: int, path: str) -> str:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()


Check = Callable[[dict], list[str]]


def healthy(rate: float, duration_s: float, at_rate: bool = True) -> Check:
    """Hard requirements of a good run: every request answered 2xx, at the requested rate
    (unless `at_rate` is False: a quick run on a busy machine checks the counts only)."""
    expected = round(rate * duration_s)

    def check(r: dict) -> list[str]:
        problems = []
        if r["error_total"]:
            problems.append(f"errors {r['errors']}")
        if r["sent"] != expected or r["completed"] != expected:
            problems.append(f"sent {r['sent']}, completed {r['completed']}, expected {expected}")
        if at_rate and abs(r["achieved_rate"] - rate) > 0.01 * rate:
            problems.append(f"achieved_rate {r['achieved_rate']} not within 1% of {rate}")
        return problems

    return check


def all_errors(kind: str, expected: int) -> Check:
    def check(r: dict) -> list[str]:
        if r["errors"][kind] != expected or r["error_total"] != expected:
            return [f"expected {expected} '{kind}' errors, got {r['errors']}"]
        return []

    return check


def _soft_warnings(name: str, r: dict) -> list[str]:
    """Expectations that depend on the machine being quiet: reported, not failed."""
    lat = r["latency_us"]
    warnings = []
    if lat["p50"] is not None and not 20 <= lat["p50"] <= 300:
        warnings.append(f"{name}: p50 {lat['p50']} us outside the usual 20-300 us for static nginx on loopback")
    if lat["p99"] is not None and lat["p99"] > 1000:
        lag = r["generator"]["dispatch_lag_us"]["p99"]
        warnings.append(f"{name}: p99 {lat['p99']} us > 1 ms (generator dispatch lag p99 {lag} us; busy machine?)")
    return warnings


def _at(port: int, **kwargs: object) -> dict:
    return {"url_host_port": f"127.0.0.1:{port}", **kwargs}


def _cases(
    port: int, dead_port: int, hole_port: int, tls: TlsListener, other_ca: Path, quick: bool = False
) -> list[tuple[str, dict, Check]]:
    post = {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": b'{"model":"x","n":1}'}
    verified = {"tls": True, "ca_file": tls.cert}
    if quick:
        cases = [
            ("get_100", _at(port, rate=100, duration_s=1, warmup_s=0), healthy(100, 1, at_rate=False)),
            ("post_100", _at(port, rate=100, duration_s=1, warmup_s=0, **post), healthy(100, 1, at_rate=False)),
            ("get_100_tls", _at(tls.port, rate=100, duration_s=1, warmup_s=0, **verified),
             healthy(100, 1, at_rate=False)),
        ]  # fmt: skip
    else:
        cases = [
            ("get_100", _at(port, rate=100, duration_s=5), healthy(100, 5)),
            ("get_1000", _at(port, rate=1000, duration_s=5), healthy(1000, 5)),
            ("chunked_1000", _at(port, rate=1000, duration_s=3, path="/chunked"), healthy(1000, 3)),
            ("post_100", _at(port, rate=100, duration_s=3, **post), healthy(100, 3)),
            ("post_1000", _at(port, rate=1000, duration_s=3, **post), healthy(1000, 3)),
            ("get_1000_tls", _at(tls.port, rate=1000, duration_s=5, **verified), healthy(1000, 5)),
            ("post_1000_tls", _at(tls.port, rate=1000, duration_s=3, **verified, **post), healthy(1000, 3)),
        ]
        if os.geteuid() == 0:  # SCHED_FIFO needs root (or CAP_SYS_NICE)
            cases.append(("get_1000_realtime", _at(port, rate=1000, duration_s=5, realtime=True), healthy(1000, 5)))
    quick = {"rate": 50, "duration_s": 1, "warmup_s": 0}
    cases += [
        ("status_404", _at(port, path="/missing", **quick), all_errors("status_non_2xx", 50)),
        ("connect_refused", _at(dead_port, **quick), all_errors("connect", 50)),
        ("timeout", _at(hole_port, timeout_ms=200, **quick), all_errors("timeout", 50)),
        # Verification on: a certificate the CA file does not vouch for fails every handshake.
        ("tls_wrong_ca", _at(tls.port, tls=True, ca_file=other_ca, **quick), all_errors("connect", 50)),
    ]
    return cases


def selfcheck(quick: bool = False) -> int:
    """Run the cases against a throwaway nginx; print the JSON results; return the exit status.
    Quick: two one-second runs at 100 req/s and the error cases, counts checked but not rates."""
    build()
    results: dict[str, dict] = {}
    failures: list[str] = []
    warnings: list[str] = []
    dead_port = _free_port()  # nothing listens there: connections are refused
    tls: list[TlsListener] = []
    with (
        throwaway_nginx(tls_listener=tls) as port,
        black_hole() as hole_port,
        tempfile.TemporaryDirectory(prefix="loadgen-ca-") as other,
    ):
        other_ca, _ = self_signed(Path(other), "other")
        head = _raw_get_head(port, "/chunked")
        if "transfer-encoding: chunked" not in head:
            failures.append(f"nginx's /chunked answer is not chunked: {head!r}")
        for name, kwargs, check in _cases(port, dead_port, hole_port, tls[0], other_ca, quick):
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = r = run(**kwargs)
            failures += [f"{name}: {p}" for p in check(r)]
            if name.startswith(("get", "chunked", "post")) and not quick and not name.endswith("_tls"):
                warnings += _soft_warnings(name, r)
    print(json.dumps(results, indent=2))
    for w in warnings:
        print(f"WARNING {w}", file=sys.stderr)
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print("selfcheck " + ("FAILED" if failures else "passed"), file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selfcheck", action="store_true", help="measure a throwaway nginx on 127.0.0.1")
    parser.add_argument("--build", action="store_true", help="compile loadgen.c and print the binary's path")
    parser.add_argument("--quick", action="store_true", help="a short self-check (the test suite runs it)")
    args = parser.parse_args(argv)
    if args.build:
        print(build())
        return 0
    if args.selfcheck or args.quick:
        return selfcheck(quick=args.quick)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
