"""Peak memory of the running process, for benchmarks that measure in a child process."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process' own high-water mark (VmHWM). Not getrusage's ru_maxrss: Linux carries a
    parent's high-water mark into its child across fork and exec, so a child started by a
    parent that held a large corpus would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
