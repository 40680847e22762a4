"""The rendered firewall on a real kernel: nftables loaded inside a network namespace of this
test's own, probed over a veth pair from a second one, over IPv4 and IPv6.

Never in this machine's own network namespace: every `nft` that changes rules and every packet
of these tests runs under `ip netns exec` in namespaces created here (hx-fw-<role>-<pid>-<n>)
and deleted at teardown, even when a test fails. The addresses (10.213.0.0/24, fd00:213::/64)
exist only inside them.

"Dropped" means the connect timed out (no answer at all); "refused" means the host answered with
a reset. Both are told apart by the client, so a test cannot pass because nothing listened.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DATA, ROOT

from hxgen.pipeline import render_file

SPEC = DATA / "firewall" / "hx.yaml"
APPLY = ROOT / "roles/firewall/files/hx-firewall-apply"
HOST_V4, CLIENT_V4, OTHER_V4 = "10.213.0.1", "10.213.0.2", "10.213.0.3"
HOST_V6, CLIENT_V6, OTHER_V6 = "fd00:213::1", "fd00:213::2", "fd00:213::3"
GATEWAY, SSH, EXPORTER, DATABASE, NOT_ALLOWED = 443, 2222, 9100, 5432, 8080
ALLOWED_BUT_CLOSED = 8444
LISTENING = (GATEWAY, SSH, EXPORTER, DATABASE, NOT_ALLOWED)
CONNECT_TIMEOUT_S = 1.0
DEADLINE_S = 30.0  # a hang guard for polls, never a performance bound
_serial = itertools.count()


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    assert found, f"{name} is not installed; run `make setup-test` (Debian nftables and iproute2)"
    return found


IP, NFT = program("ip"), program("nft")


def run(*argv: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


# A listener on each port given, on every address of both families, answering each connection
# with one byte; prints "ready" once all are bound.
LISTENER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(16); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        with conn:
            conn.sendall(b"x")
"""

# Connects to each (address, port, source) and prints what happened: connected (and the
# listener's byte arrived), refused, or timeout (no answer: dropped).
PROBE = """
import json, socket, sys
timeout, targets = float(sys.argv[1]), json.loads(sys.argv[2])
out = []
for host, port, source in targets:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        try:
            s.connect((host, port))
            out.append("connected" if s.recv(1) == b"x" else "no-answer")
        except ConnectionRefusedError:
            out.append("refused")
        except (TimeoutError, socket.timeout):
            out.append("timeout")
print(json.dumps(out))
"""


@dataclass
class Namespaces:
    host: str
    client: str
    listener: subprocess.Popen | None = None

    def exec(self, ns: str, *argv: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        return run(IP, "netns", "exec", ns, *argv, check=check, env=env)

    def nft(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """nft inside the host namespace, and only there."""
        return self.exec(self.host, NFT, *args, check=check)

    def probe(self, ns: str, targets: list[tuple[str, int, str | None]]) -> list[str]:
        done = self.exec(ns, sys.executable, "-c", PROBE, str(CONNECT_TIMEOUT_S), json.dumps(targets))
        return json.loads(done.stdout)

    def reach(self, port: int, host: str = HOST_V4, source: str | None = CLIENT_V4) -> str:
        return self.probe(self.client, [(host, port, source)])[0]


def _wait_for(what: str, ready, deadline_s: float = DEADLINE_S):
    end = time.monotonic() + deadline_s
    while True:
        value = ready()
        if value:
            return value
        assert time.monotonic() < end, f"gave up waiting for {what} after {deadline_s:.0f} s"
        time.sleep(0.05)


def _up(ns: Namespaces) -> None:
    h, c = ns.host, ns.client
    run(IP, "netns", "add", h)
    run(IP, "netns", "add", c)
    # The pair is created inside the host namespace and one end moved to the client's: no
    # interface ever appears in this machine's own namespace.
    run(IP, "-n", h, "link", "add", "hx0", "type", "veth", "peer", "name", "hx1", "netns", c)
    for name, dev, v4s, v6s in (
        (h, "hx0", [HOST_V4], [HOST_V6]),
        (c, "hx1", [CLIENT_V4, OTHER_V4], [CLIENT_V6, OTHER_V6]),
    ):
        for a in v4s:
            run(IP, "-n", name, "addr", "add", f"{a}/24", "dev", dev)
        for a in v6s:
            run(IP, "-n", name, "addr", "add", f"{a}/64", "dev", dev, "nodad")
        run(IP, "-n", name, "link", "set", "lo", "up")
        run(IP, "-n", name, "link", "set", dev, "up")
    # Both ends carry the link when the kernel says so (no fixed sleep).
    for name, dev in ((h, "hx0"), (c, "hx1")):
        _wait_for(f"{dev} up in {name}", lambda n=name, d=dev: "LOWER_UP" in run(IP, "-n", n, "link", "show", d).stdout)


def _down(ns: Namespaces) -> None:
    if ns.listener is not None and ns.listener.poll() is None:
        ns.listener.kill()
        ns.listener.wait(timeout=10)
    for name in (ns.client, ns.host):
        run(IP, "netns", "del", name, check=False)


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add); run the tools tests as root")
    serial = next(_serial)
    ns = Namespaces(f"hx-fw-h-{os.getpid()}-{serial}", f"hx-fw-c-{os.getpid()}-{serial}")
    try:
        _up(ns)
        yield ns
    finally:
        _down(ns)


@pytest.fixture
def listening(namespaces: Namespaces) -> Namespaces:
    """Listeners inside the host namespace on the gateway, SSH, exporter, database and an
    unlisted port; every one reachable from the client before any rule is loaded."""
    ns = namespaces
    ns.listener = subprocess.Popen(
        [IP, "netns", "exec", ns.host, sys.executable, "-c", LISTENER, *map(str, LISTENING)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert ns.listener.stdout.readline().strip() == "ready"
    # The client reaches the host at all (IPv6 too: neighbour discovery works without rules).
    targets = [(h, p, None) for h in (HOST_V4, HOST_V6) for p in LISTENING]
    _wait_for("the listeners to answer", lambda: set(ns.probe(ns.client, targets)) == {"connected"})
    return ns


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory) -> Path:
    rendered = render_file(SPEC)
    assert rendered.plan is not None, [d.format() for d in rendered.outcome.diagnostics]
    (artifact,) = [a for a in rendered.artifacts if a.path == "rendered/nftables/hx.nft"]
    path = tmp_path_factory.mktemp("firewall") / "hx.nft"
    path.write_text(artifact.text)
    return path


# What the client sees once the rendered table is loaded.
EXPECTED = {
    GATEWAY: "connected",
    SSH: "connected",
    ALLOWED_BUT_CLOSED: "refused",
    EXPORTER: "timeout",
    DATABASE: "timeout",
    NOT_ALLOWED: "timeout",
}


@pytest.mark.parametrize(("host", "source"), [(HOST_V4, CLIENT_V4), (HOST_V6, CLIENT_V6)], ids=["ipv4", "ipv6"])
def test_allowed_ports_connect_and_every_other_port_is_dropped(listening, ruleset, host, source):
    ns = listening
    ns.nft("-f", str(ruleset))
    # Forget the neighbours learnt before the rules: IPv6 must now resolve them through the
    # table's neighbour-discovery rules (and IPv4 through ARP, which nftables' inet input
    # never sees).
    for name in (ns.host, ns.client):
        run(IP, "-n", name, "neigh", "flush", "all")
    got = ns.probe(ns.client, [(host, port, source) for port in EXPECTED])
    assert dict(zip(EXPECTED, got, strict=True)) == EXPECTED


@pytest.mark.parametrize(("host", "other"), [(HOST_V4, OTHER_V4), (HOST_V6, OTHER_V6)], ids=["ipv4", "ipv6"])
def test_a_source_not_in_the_allow_list_cannot_reach_the_gateway_or_ssh(listening, ruleset, host, other):
    ns = listening
    ns.nft("-f", str(ruleset))
    assert ns.probe(ns.client, [(host, GATEWAY, other), (host, SSH, other)]) == ["timeout", "timeout"]


def test_loopback_inside_the_host_still_reaches_every_service(listening, ruleset):
    ns = listening
    ns.nft("-f", str(ruleset))
    targets = [(h, p, None) for h in ("127.0.0.1", "::1") for p in (EXPORTER, DATABASE, NOT_ALLOWED)]
    assert set(ns.probe(ns.host, targets)) == {"connected"}


def test_reloading_replaces_hx_table_and_leaves_other_tables_alone(listening, ruleset):
    ns = listening
    ns.nft("add", "table", "inet", "f2b-test")
    ns.nft("-f", str(ruleset))
    ns.nft("-f", str(ruleset))  # atomic replacement: no duplicate rules, no error
    tables = ns.nft("list", "tables").stdout.split("\n")
    assert "table inet hx" in tables and "table inet f2b-test" in tables
    assert ns.nft("list", "table", "inet", "hx").stdout.count("tcp dport 2222") == 2  # v4 + v6


# A ruleset that cuts everything but loopback: what a bad change would do to the controller.
CUT_OFF = """\
table inet hx
delete table inet hx
table inet hx {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tiif "lo" accept comment "cut-off"
\t}
}
"""


def _apply(ns: Namespaces, state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "HX_FIREWALL_STATE_DIR": str(state), "HX_FIREWALL_NFT": NFT}
    return ns.exec(ns.host, "bash", str(APPLY), *args, check=check, env=env)


def _status(ns: Namespaces, state: Path) -> str:
    return _apply(ns, state, "--status").stdout.strip()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    yield path
    # An armed revert is this test's own process: stop it by its PID.
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
        os.killpg(int((path / "revert.pid").read_text()), signal.SIGKILL)


def test_an_unconfirmed_apply_is_reverted(listening, ruleset, state, tmp_path):
    ns = listening
    ns.nft("-f", str(ruleset))
    ns.nft("add", "table", "inet", "f2b-test")
    new = tmp_path / "hx.nft"
    new.write_text(CUT_OFF)
    _apply(ns, state, "--timeout", "2", str(new))
    assert _status(ns, state) == "pending"
    assert ns.reach(GATEWAY) == "timeout"  # the new table is in force: the client is cut off
    _wait_for("the revert", lambda: _status(ns, state) == "reverted")
    assert ns.reach(GATEWAY) == "connected"
    assert ns.reach(EXPORTER) == "timeout"  # the earlier rendered table, not no table at all
    assert "table inet f2b-test" in ns.nft("list", "tables").stdout
    # The file was put back too, so a reboot loads what the kernel holds again.
    assert "cut-off" not in new.read_text()
    ns.nft("-c", "-f", str(new))
    # A confirmation after the revert is an error: the change did not stay.
    late = _apply(ns, state, "--confirm", check=False)
    assert late.returncode == 1 and "too late" in late.stderr


def test_a_confirmed_apply_stays(listening, ruleset, state):
    ns = listening
    assert ns.nft("list", "table", "inet", "hx", check=False).returncode != 0  # no table yet
    _apply(ns, state, "--timeout", "5", str(ruleset))
    pid = int((state / "revert.pid").read_text())
    _apply(ns, state, "--confirm")
    assert _status(ns, state) == "idle"
    # The armed revert is gone (killed, not merely not yet due) ...
    _wait_for("the revert process to end", lambda: not Path(f"/proc/{pid}").exists())
    assert not (state / "revert.log").exists() or "reverted" not in (state / "revert.log").read_text()
    # ... and the rendered table is in force.
    assert [ns.reach(GATEWAY), ns.reach(EXPORTER)] == ["connected", "timeout"]


def test_a_revert_with_no_earlier_table_removes_hx_table(listening, state, tmp_path):
    ns = listening
    new = tmp_path / "hx.nft"
    new.write_text(CUT_OFF)
    _apply(ns, state, "--timeout", "30", str(new))
    assert ns.reach(GATEWAY) == "timeout"
    _apply(ns, state, "--revert")
    assert ns.nft("list", "table", "inet", "hx", check=False).returncode != 0
    assert ns.reach(GATEWAY) == "connected"


def test_a_ruleset_nft_refuses_loads_nothing(listening, ruleset, state, tmp_path):
    ns = listening
    ns.nft("-f", str(ruleset))
    bad = tmp_path / "bad.nft"
    bad.write_text("table inet hx {\n\tchain input { type filter hook input priority filter; policy nonsense; }\n}\n")
    refused = _apply(ns, state, str(bad), check=False)
    assert refused.returncode == 2
    assert _status(ns, state) == "idle"
    assert ns.reach(GATEWAY) == "connected" and ns.reach(EXPORTER) == "timeout"
