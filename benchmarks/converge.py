"""Wall time of an idempotent re-converge of the sandbox (an unchanged host).

Needs the sandbox converged once (`make demo`). Runs `ansible-playbook -i sandbox/inventory
playbooks/site.yml` --runs times and prints one JSON object with the median and each run's
wall time and changed count. Aim: under 60 s.

    DOCKER_HOST=unix:///var/tmp/hx-sandbox/docker.sock python benchmarks/converge.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def converge() -> tuple[float, int]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    extra = json.dumps({"vllm_pip_extra_args": os.environ.get("HX_SANDBOX_PIP_ARGS", "")})
    start = time.perf_counter()
    result = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", "sandbox/inventory", "playbooks/site.yml", "-e", extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"converge failed:\n{result.stdout[-3000:]}")
    changed = int(re.search(r"changed=(\d+)", result.stdout.split("PLAY RECAP")[-1]).group(1))
    return elapsed, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [converge() for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "runs": [{"seconds": round(s, 1), "changed": c} for s, c in runs],
                "median_s": round(statistics.median(s for s, _ in runs), 1),
                "aim_s": 60,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
