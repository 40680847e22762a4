"""Wall time of an idempotent re-converge of the sandbox (an unchanged host).

Needs the sandbox converged once (`make demo`). Runs `ansible-playbook -i sandbox/inventory
playbooks/site.yml` --runs times and prints one JSON object with the median and each run's
wall time and changed count (keys `runs`, `median_s`, `aim_s`, `quick`). Aim: under 60 s.

    DOCKER_HOST=unix:///var/tmp/hx-sandbox/docker.sock python benchmarks/converge.py [--runs 3]
    python benchmarks/converge.py --quick

--quick needs no sandbox, and so converges nothing: it runs the same command with --syntax-check
(the playbook, its roles and the sandbox inventory parse; no host is contacted) and reads the
changed count from a recap the way a real run's is read. It prints the same keys with one run
(`changed` null) so that a broken command line or recap parser shows up in the test suite; the
converge itself is measured only against a sandbox, and the Molecule scenario checks it.
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


def converge(syntax_check: bool = False) -> tuple[float, int | None]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    extra = json.dumps({"vllm_pip_extra_args": os.environ.get("HX_SANDBOX_PIP_ARGS", "")})
    start = time.perf_counter()
    result = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            *(["--syntax-check"] if syntax_check else []),
            *("-i", "sandbox/inventory", "playbooks/site.yml", "-e", extra),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"converge failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    if syntax_check:  # no recap without a run: read one of the shape ansible prints
        changed_in(_SAMPLE_RECAP)
        return elapsed, None
    return elapsed, changed_in(result.stdout)


_SAMPLE_RECAP = "PLAY RECAP ***\nhx-sandbox : ok=312 changed=0 unreachable=0 failed=0 skipped=41\n"


def changed_in(output: str) -> int:
    found = re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1])
    if found is None:
        sys.exit(f"no PLAY RECAP with a changed count in ansible-playbook's output:\n{output[-3000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a syntax check instead of a converge (no sandbox)")
    args = parser.parse_args()
    runs = [converge(syntax_check=True)] if args.quick else [converge() for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "runs": [{"seconds": round(s, 1), "changed": c} for s, c in runs],
                "median_s": round(statistics.median(s for s, _ in runs), 1),
                "aim_s": 60,
                "quick": args.quick,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
