"""Peak memory of a process, and of hxgen's own commands.

Imported by the other benchmarks (peak_rss_mb, for the ones that measure in a child process).
Run as a script, it measures the peak memory of whole hxgen processes, each reporting its own
high-water mark when it exits, and prints one JSON object with keys `python_mb` (an empty
interpreter), `validate_default_mb`, `render_default_mb` and, without --quick,
`render_models_200_mb` (the render benchmark's generated 200-model spec).

    python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The child runs hxgen in-process and, when it exits (hxgen ends with sys.exit), reports its
# peak on a line of its own on stderr.
_CHILD = """
import atexit, runpy, sys
sys.path.insert(0, sys.argv[1])
from memory import peak_rss_mb
atexit.register(lambda: print(f"PEAK_RSS_MB {peak_rss_mb():.1f}", file=sys.stderr))
sys.argv = ["hxgen", *sys.argv[2:]]
runpy.run_module("hxgen", run_name="__main__")
"""


def peak_rss_mb() -> float:
    """This process' own high-water mark (VmHWM). Not getrusage's ru_maxrss: Linux carries a
    parent's high-water mark into its child across fork and exec, so a child started by a
    parent that held a large corpus would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hxgen_peak_mb(*args: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(Path(__file__).parent), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_MB ")]
    if done.returncode != 0 or not peaks:
        sys.exit(f"hxgen {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return float(peaks[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the default spec only")
    args = parser.parse_args()
    empty = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "from memory import peak_rss_mb; print(peak_rss_mb())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = {"python_mb": round(float(empty.stdout), 1)}
    spec = str(ROOT / "hx.yaml")
    with tempfile.TemporaryDirectory() as out:
        result["validate_default_mb"] = hxgen_peak_mb("validate", spec)
        result["render_default_mb"] = hxgen_peak_mb("render", spec, "--out", out)
        if not args.quick:
            from render import generated_spec  # the render benchmark's spec, so both measure one thing
            from ruamel.yaml import YAML

            big = Path(out) / "hx-200.yaml"
            with big.open("w") as handle:
                YAML(typ="safe", pure=True).dump(generated_spec(200), handle)
            result["render_models_200_mb"] = hxgen_peak_mb("render", str(big), "--out", str(Path(out) / "200"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
