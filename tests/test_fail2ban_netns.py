"""fail2ban bans for real: bad keys from one address get it dropped, the good client next door
is unaffected, and the ban expires.

Three network namespaces of the test's own: a server, with a veth pair to a "bad" and to a
"good" client. Inside the server namespace run the real nginx with the gateway rendered from
tests/data/fail2ban/hx.yaml, and the real fail2ban-server with the rendered jail, filter and
audit action and fail2ban's stock nftables action (the spec has the firewall on). nft only
ever runs inside the server namespace; this machine's own ruleset is never touched. The gateway
jail only: sshd's jail reads the journal, which a namespace does not have.

The audit command is a stand-in that keeps its arguments, so the records a ban and an unban
make are checked as the audit log would receive them.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import gateway_harness
import pytest
from conftest import DATA

from hxgen import layout
from hxgen.keys import hash_key, new_key
from hxgen.pipeline import render_file
from hxgen.render.fail2ban import ACTION_FILE, FILTER_FILE, JAIL_FILE

pytestmark = pytest.mark.tools

SPEC = DATA / "fail2ban/hx.yaml"
JAIL = "hx-gateway"
SERVER_BAD, BAD = "192.0.2.1", "192.0.2.2"  # TEST-NET-1, only inside the test's namespaces
SERVER_GOOD, GOOD = "198.51.100.1", "198.51.100.2"  # TEST-NET-2
SERVER_BAD6, BAD6 = "2001:db8:f2b::1", "2001:db8:f2b::2"
# Short, so that the ban's expiry is seen, and long enough for the checks made while it lasts
# (the test asserts at the end of them that it still did).
SHORT_BAN_S = 15
# Deadlines for things that happen "soon" (a log line read, a ban applied or lifted); a passing
# run never waits for them, they only bound a failing one.
DEADLINE_S = 30.0
CONNECT_TIMEOUT_S = 2


def tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]))
    assert found, f"{name} is not installed; run the README's test set-up (make setup-test)"
    return found


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"{' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {DEADLINE_S:g} s: {what}")


@dataclass(frozen=True)
class Namespaces:
    server: str
    bad: str
    good: str

    def exec(self, ns: str, *args: str) -> list[str]:
        return [tool("ip"), "netns", "exec", ns, *args]


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    tag = f"{os.getpid()}"
    ns = Namespaces(f"hx-f2b-srv-{tag}", f"hx-f2b-bad-{tag}", f"hx-f2b-good-{tag}")
    ip = tool("ip")
    created = []
    try:
        for name in (ns.server, ns.bad, ns.good):
            run(ip, "netns", "add", name)
            created.append(name)
            run(ip, "-n", name, "link", "set", "lo", "up")
        # Both ends are created inside the namespaces: no link ever exists in this machine's own.
        for client, side in ((ns.bad, "b"), (ns.good, "g")):
            server_if, client_if = f"hxs{tag}{side}", f"hx{side}{tag}"
            run(
                ip,
                "-n",
                ns.server,
                "link",
                "add",
                server_if,
                "type",
                "veth",
                "peer",
                "name",
                client_if,
                "netns",
                client,
            )
        for name, ifname, addresses in (
            (ns.server, f"hxs{tag}b", (f"{SERVER_BAD}/24", f"{SERVER_BAD6}/64")),
            (ns.bad, f"hxb{tag}", (f"{BAD}/24", f"{BAD6}/64")),
            (ns.server, f"hxs{tag}g", (f"{SERVER_GOOD}/24",)),
            (ns.good, f"hxg{tag}", (f"{GOOD}/24",)),
        ):
            for address in addresses:
                # nodad: the address is usable at once, not after duplicate address detection.
                extra = ("nodad",) if ":" in address else ()
                run(ip, "-n", name, "addr", "add", address, "dev", ifname, *extra)
            run(ip, "-n", name, "link", "set", ifname, "up")
        yield ns
    finally:
        for name in created:
            run(ip, "netns", "del", name, check=False)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def f2b_config(tmp_path: Path, access_log: Path, audit_stub: Path) -> Path:
    """fail2ban's stock configuration (for its nftables action and defaults) with the rendered
    jail, filter and action in place of the host's jails; runtime files in tmp_path."""
    artifacts = {a.path: a.text for a in render_file(SPEC).artifacts}
    conf = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", conf)
    shutil.rmtree(conf / "jail.d")
    (conf / "jail.d").mkdir()
    host_log = layout.gateway_access_log(render_file(SPEC).outcome.spec.host.storage.logs_dir)
    (conf / "jail.d/hx.local").write_text(artifacts[JAIL_FILE].replace(host_log, str(access_log)))
    (conf / "jail.d/zz-test.local").write_text("[sshd]\nenabled = false\n")  # needs the journal
    (conf / "filter.d/hx-gateway-auth.conf").write_text(artifacts[FILTER_FILE])
    (conf / "action.d/hx-audit.conf").write_text(artifacts[ACTION_FILE].replace(layout.AUDIT_COMMAND, str(audit_stub)))
    run_dir = tmp_path / "f2b-run"
    run_dir.mkdir()
    (conf / "fail2ban.local").write_text(
        "[Definition]\n"
        f"logtarget = {run_dir}/fail2ban.log\n"
        f"socket = {run_dir}/fail2ban.sock\n"
        f"pidfile = {run_dir}/fail2ban.pid\n"
        f"dbfile = {run_dir}/fail2ban.sqlite3\n"
    )
    return conf


@dataclass
class Rig:
    ns: Namespaces
    port: int
    key: str
    socket: Path
    audit_records: Path
    fail2ban_log: Path

    def client(self, ns: str, address: str, key: str | None = None, path: str = "/v1/models") -> int | str:
        """The status of GET path from a namespace, or 'timeout' when it cannot connect."""
        host = f"[{address}]" if ":" in address else address
        args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", str(CONNECT_TIMEOUT_S)]
        args += [
            "-m",
            "10",
            "-H",
            f"Authorization: Bearer {key or 'sk-not-a-key'}",
            f"http://{host}:{self.port}{path}",
        ]
        result = subprocess.run(self.ns.exec(ns, *args), capture_output=True, text=True, timeout=30)
        if result.returncode == 28:  # curl: operation timed out (the SYN was dropped)
            return "timeout"
        assert result.returncode == 0, f"curl exited {result.returncode}: {result.stderr}"
        return int(result.stdout)

    def f2b(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(tool("fail2ban-client"), "-s", str(self.socket), *args, check=check)

    def banned(self) -> list[str]:
        """The jail's banned addresses (`get JAIL banned` prints a Python list of them)."""
        return re.findall(r"'([^']+)'", self.f2b("get", JAIL, "banned").stdout)

    def in_nft_set(self, address: str) -> bool:
        """Whether fail2ban's stock action has put the address in its set (in the server namespace):
        fail2ban lists a ban as soon as it decides it, the action applies it just after."""
        family = "addr6" if ":" in address else "addr"
        listing = self.ns.exec(self.ns.server, tool("nft"), "list", "set", "inet", "f2b-table", f"{family}-set-{JAIL}")
        return address in run(*listing, check=False).stdout

    def audit(self) -> list[dict]:
        if not self.audit_records.exists():
            return []
        records = []
        for line in self.audit_records.read_text().splitlines():
            argv = json.loads(line)
            options = dict(zip(argv[1::2], argv[2::2], strict=False))
            detail = json.loads(options["--detail"])
            records.append({"action": options["--action"], "actor": options["--actor"], **detail})
        return records


@pytest.fixture
def rig(namespaces, tmp_path) -> Iterator[Rig]:
    key_id, key = new_key()
    staged = gateway_harness.stage(
        SPEC, tmp_path / "gateway", [{"id": key_id, "tenant": "good-client", "sha256": hash_key(key), "expires": None}]
    )
    staged.access_log.touch()
    # The spec listens on 0.0.0.0; nginx binds IPv6 on a listen of its own, added here so that a
    # ban over IPv6 can be shown too (the jail and actions are as rendered).
    listen = f"listen 0.0.0.0:{int(staged.http_url.rsplit(':', 1)[1])};"
    text = staged.conf.read_text()
    assert listen in text
    staged.conf.write_text(text.replace(listen, f"{listen}\n        listen [::]:{listen.rsplit(':', 1)[1]}"))
    audit_records = tmp_path / "audit-records.jsonl"
    stub = tmp_path / "hx-audit"
    stub.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"with open({str(audit_records)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    stub.chmod(0o755)
    conf = f2b_config(tmp_path, staged.access_log, stub)
    port = int(staged.http_url.rsplit(":", 1)[1])
    with ExitStack() as stack:
        check = run(gateway_harness.nginx(), "-t", "-c", str(staged.conf), check=False)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen(
            namespaces.exec(namespaces.server, gateway_harness.nginx(), "-c", str(staged.conf), "-g", "daemon off;"),
            stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, nginx)
        run_dir = tmp_path / "f2b-run"
        server = subprocess.Popen(
            namespaces.exec(namespaces.server, tool("fail2ban-server"), "-f", "-x", "-c", str(conf),
                            "-s", str(run_dir / "fail2ban.sock"), "-p", str(run_dir / "fail2ban.pid")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(stop, server)
        r = Rig(namespaces, port, key, run_dir / "fail2ban.sock", audit_records, run_dir / "fail2ban.log")
        wait_for("nginx answers the good client", lambda: _answers(r))
        wait_for("fail2ban runs the gateway jail", lambda: r.f2b("status", JAIL, check=False).returncode == 0)
        yield r


def _answers(r: Rig) -> bool:
    try:
        return r.client(r.ns.good, SERVER_GOOD, r.key) == 200
    except AssertionError:  # connection refused: nginx is not listening yet
        return False


def test_the_rendered_jail_bans_for_ban_minutes_after_max_retry_within_find_minutes():
    spec = render_file(SPEC).outcome.spec.security.fail2ban
    jails = configparser.ConfigParser(interpolation=None)
    jails.read_string({a.path: a.text for a in render_file(SPEC).artifacts}[JAIL_FILE])
    gateway = jails[JAIL]
    assert int(gateway["bantime"]) == spec.ban_minutes * 60 == 120
    assert int(gateway["maxretry"]) == spec.max_retry == 3
    assert int(gateway["findtime"]) == spec.find_minutes * 60 == 60
    assert gateway["action"].split("\n")[0].startswith("nftables[type=multiport")


def test_bad_keys_get_an_address_banned_the_good_client_is_unaffected_and_the_ban_expires(rig):
    assert rig.f2b("set", JAIL, "bantime", str(SHORT_BAN_S)).stdout.strip() == str(SHORT_BAN_S)
    # The good client fails once (below max_retry) and keeps being served.
    assert rig.client(rig.ns.good, SERVER_GOOD) == 401

    for _ in range(3):  # max_retry of the spec
        assert rig.client(rig.ns.bad, SERVER_BAD) == 401
    wait_for(f"{BAD} is banned", lambda: BAD in rig.banned())
    # In fail2ban's own table, inside the server namespace.
    wait_for(f"{BAD} is in fail2ban's nftables set", lambda: rig.in_nft_set(BAD))
    assert rig.client(rig.ns.bad, SERVER_BAD) == "timeout"
    status = rig.f2b("status", JAIL).stdout
    assert BAD in status and GOOD not in status, status
    assert rig.client(rig.ns.good, SERVER_GOOD, rig.key) == 200
    assert rig.client(rig.ns.good, SERVER_GOOD) == 401
    assert rig.banned() == [BAD], "the ban ended before the checks made while it lasts"

    wait_for("the ban is recorded in the audit log", lambda: rig.audit())
    assert rig.audit()[0] == {
        "action": "ban", "actor": "fail2ban", "jail": JAIL, "address": BAD, "seconds": SHORT_BAN_S,
    }  # fmt: skip

    wait_for(f"{BAD}'s ban expires", lambda: BAD not in rig.banned() and not rig.in_nft_set(BAD))
    wait_for(f"{BAD} is answered again", lambda: rig.client(rig.ns.bad, SERVER_BAD, rig.key) == 200)
    wait_for("the unban is recorded", lambda: [r["action"] for r in rig.audit()] == ["ban", "unban"])
    assert rig.audit()[1] == {
        "action": "unban", "actor": "fail2ban", "jail": JAIL, "address": BAD, "seconds": SHORT_BAN_S,
    }  # fmt: skip


def test_an_ipv6_client_is_banned_in_the_ipv6_set(rig):
    assert rig.f2b("set", JAIL, "bantime", "600").stdout.strip() == "600"
    for _ in range(3):
        assert rig.client(rig.ns.bad, SERVER_BAD6) == 401
    wait_for(f"{BAD6} is banned", lambda: BAD6 in rig.banned())
    wait_for(f"{BAD6} is in fail2ban's IPv6 set", lambda: rig.in_nft_set(BAD6))
    assert rig.client(rig.ns.bad, SERVER_BAD6) == "timeout"
    # The same client's IPv4 address did nothing wrong.
    assert rig.client(rig.ns.bad, SERVER_BAD, rig.key) == 200
    assert not rig.in_nft_set(BAD)


def test_the_filter_matches_the_gateways_own_401_lines_and_nothing_else(rig):
    """fail2ban-regex on the access log the gateway wrote: its 401s, with the client address."""
    assert rig.client(rig.ns.good, SERVER_GOOD, rig.key) == 200
    assert rig.client(rig.ns.good, SERVER_GOOD) == 401
    # A client cannot name another address in a field it controls: escape=json quotes its quotes.
    forged = "/forged%22,%22client%22:%22203.0.113.9%22,%22status%22:401,%22x%22:%22"
    assert rig.client(rig.ns.good, SERVER_GOOD, rig.key, path=forged) == 404
    access_log = next(Path(p) for p in _logpaths(rig))
    wait_for("the requests are logged", lambda: "203.0.113.9" in access_log.read_text())
    lines = [json.loads(line) for line in access_log.read_text().splitlines()]
    failures = [line for line in lines if line["status"] == 401]
    result = run(tool("fail2ban-regex"), "-v", str(access_log), str(_filter(rig)))
    assert f"{len(failures)} matched, {len(lines) - len(failures)} missed" in result.stdout, result.stdout
    # -v lists the address each matched line gave, below the regex.
    matched = result.stdout.split("Failregex:", 1)[1].split("Ignoreregex:", 1)[0]
    assert matched.count(GOOD) == len(failures), result.stdout
    assert "203.0.113.9" not in matched, result.stdout


def _logpaths(rig: Rig) -> list[str]:
    return rig.f2b("get", JAIL, "logpath").stdout.split()[-1:]


def _filter(rig: Rig) -> Path:
    return rig.socket.parent.parent / "fail2ban/filter.d/hx-gateway-auth.conf"
