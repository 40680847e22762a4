"""Reload a staged nginx gracefully, as `nginx -s reload` does, then wait until no worker of the
old configuration listens any more: when this returns, a new connection can only meet the new
keys and weights. (On a host the reload is asynchronous and the promise is RELOAD_WITHIN_S; here
hx-control runs this as its reload_command, so that a test's next request sees the change, not a
race with an old worker that has not closed its listening sockets yet.) Old workers may go on
serving the connections they have, such as the one whose request made hx-control reload.

Usage: python reload_nginx.py PID_FILE
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

WAIT_S = 10


def children(master: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == master:
            found.add(int(stat.parent.name))
    return found


def listening_sockets() -> set[str]:
    """The inodes of every listening TCP socket (state 0A in /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                found.add(fields[9])
    return found


def still_listening(pids: set[int], sockets: set[str]) -> set[int]:
    busy = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # exited
            continue
        if any(link.startswith("socket:[") and link[8:-1] in sockets for link in links):
            busy.add(pid)
    return busy


def main(pid_file: str) -> int:
    master = int(Path(pid_file).read_text())
    old = children(master)
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + WAIT_S
    while busy := still_listening(old, listening_sockets()):
        if time.monotonic() > deadline:
            print(f"reload_nginx: old workers {sorted(busy)} still listen after {WAIT_S} s", file=sys.stderr)
            return 1
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
