"""Reload a staged nginx gracefully, as `nginx -s reload` does, then wait until every process of
the old configuration has exited: when this returns, no connection can meet the old keys or
weights. (On a host the reload is asynchronous and the promise is RELOAD_WITHIN_S; here hx-control
runs this as its reload_command, so that a test's next request sees the change, not a race with
an old worker that has not closed its listening socket yet.)

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


def main(pid_file: str) -> int:
    master = int(Path(pid_file).read_text())
    old = children(master)
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + WAIT_S
    while old & children(master):
        if time.monotonic() > deadline:
            print(f"reload_nginx: old workers {sorted(old & children(master))} still run after {WAIT_S} s",
                  file=sys.stderr)  # fmt: skip
            return 1
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
