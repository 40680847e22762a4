"""Root, the service user and a member of its group append to one log: the setgid group directory,
the 0660 files and the 0640 signing key the audit role sets up, tried for real with three users
(root; nobody standing in for the hx-audit user, its group for hx-audit; daemon, with that group
as a supplementary one, standing in for hx-control)."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT

from hxgen.audit import log, signing
from hxgen.audit.verify import verify
from hxgen.contracts import audit as contract

pytestmark = pytest.mark.tools

SERVICE_USER, SERVICE_GROUP = "nobody", "nogroup"
MEMBER_USER = "daemon"
PYTHON = "/usr/bin/python3"  # Debian's, with python3-cryptography: readable by any user, unlike a venv below /root


@pytest.fixture
def shared():
    assert os.geteuid() == 0, "this test switches users with setpriv: run it as root"
    assert shutil.which("setpriv"), "setpriv (util-linux) is missing"
    top = Path(tempfile.mkdtemp(prefix="hx-audit-writers-", dir="/tmp"))
    try:
        top.chmod(0o755)
        gid, uid = grp.getgrnam(SERVICE_GROUP).gr_gid, pwd.getpwnam(SERVICE_USER).pw_uid
        for d, mode in (("log", 0o2770), ("backups", 0o2770), ("keys", 0o750), ("state", 0o2770)):
            (top / d).mkdir()
            os.chown(top / d, 0, gid)
            (top / d).chmod(mode)  # what roles/audit/tasks/install.yml sets
        key = top / "keys" / "head.key"
        signing.generate_key(key)
        os.chown(key, uid, gid)
        key.chmod(0o640)  # roles/audit/tasks/configure.yml: the service user's, readable by the writers' group
        cfg = {
            "version": contract.VERSION,
            "log_dir": str(top / "log"),
            "key_file": str(key),
            "public_key_file": str(top / "keys" / "head.key.pub"),
            "head_copies": [str(top / "backups" / "head.json")],
            "retention_days": 30,
            "state_dir": str(top / "state"),
        }
        (top / "audit.json").write_text(json.dumps(cfg))
        (top / "audit.json").chmod(0o644)
        yield top
    finally:
        shutil.rmtree(top)


def append(top: Path, actor: str, as_service: bool, as_member: bool = False) -> subprocess.CompletedProcess:
    argv = [PYTHON, "-m", "hxgen.audit.cli", "--config", str(top / "audit.json"), "append", "--actor", actor,
            "--action", "test"]  # fmt: skip
    if as_service:
        argv = ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_GROUP}", "--clear-groups", *argv]
    if as_member:  # its own primary group; the log's group only as a supplementary one
        member = pwd.getpwnam(MEMBER_USER)
        argv = ["setpriv", f"--reuid={member.pw_uid}", f"--regid={member.pw_gid}", f"--groups={SERVICE_GROUP}", *argv]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/")


def test_root_and_the_service_user_append_in_turn_to_one_chain(shared):
    for n, as_service in enumerate([False, True, False, True, True, False]):
        done = append(shared, f"writer-{n}", as_service)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"{n + 1}\n"
    (segment,) = log.segments(shared / "log")
    assert stat.S_IMODE(segment.stat().st_mode) == 0o660
    assert segment.stat().st_gid == (shared / "log").stat().st_gid  # the setgid directory's group
    public = signing.load_public_key(shared / "keys" / "head.key.pub")
    result = verify(shared / "log", json.loads((shared / "log" / "head.json").read_text()), public)
    assert result.ok and result.records == 6, result.problem
    assert (shared / "backups" / "head.json").read_text() == (shared / "log" / "head.json").read_text()


def test_a_member_of_the_group_appends_and_signs_between_the_other_writers(shared):
    writers = [(False, False), (False, True), (True, False), (False, True), (False, False)]
    for n, (as_service, as_member) in enumerate(writers):
        done = append(shared, f"writer-{n}", as_service, as_member)
        assert done.returncode == 0, done.stderr
    public = signing.load_public_key(shared / "keys" / "head.key.pub")
    result = verify(shared / "log", json.loads((shared / "log" / "head.json").read_text()), public)
    assert result.ok and result.records == len(writers), result.problem


def test_a_user_outside_the_group_cannot_append(shared):
    append(shared, "root", as_service=False)
    argv = ["setpriv", f"--reuid={SERVICE_USER}", "--regid=65533", "--clear-groups"]  # a group that is not the log's
    done = subprocess.run(
        [
            *argv,
            PYTHON,
            "-m",
            "hxgen.audit.cli",
            "--config",
            str(shared / "audit.json"),
            "append",
            "--actor",
            "x",
            "--action",
            "test",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    assert done.returncode == 1
    assert "Permission denied" in done.stderr
