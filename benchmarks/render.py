"""Wall time of whole `hxgen render` processes (validate + plan + render + write).

Prints one JSON object: medians (and minimums) over --runs runs for the default spec, the sandbox spec and
generated specs with 50, 100 and 200 models (and as many tenants), plus how time grows. Its keys: `runs`,
`cpus`, `default_s`, `default_min_s`, `sandbox_s`, `sandbox_min_s`, `models_N_s` and `models_N_min_s` for N
in 50, 100, 200, `per_model_ms_50_100` and `per_model_ms_100_200`.
Aims: default < 0.3 s, 200 models < 1.5 s, growth close to linear.

    python benchmarks/render.py [--runs 15] [--quick]

--quick renders each spec once, without the untimed first run: it shows that every spec still renders (the
generated ones must pass every check, or the benchmark measures nothing) and prints the same keys.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
SIZES = (50, 100, 200)


def generated_spec(models: int) -> dict:
    """A valid cpu-profile spec with `models` tiny models, a tenant per model and a route per pair."""
    return {
        "version": "hx/v1",
        "host": {
            "name": "bench",
            "connection": "local",
            "profile": "cpu",
            "cpu_cores": 64,
            "memory_gb": 5 * models + 64,
        },
        "models": [
            {
                "name": f"model-{i}",
                "source": {"generate": "tiny-llama", "seed": i},
                "parameters_b": 0.001,
                "max_model_len": 512,
                "port": 20000 + i,
                "resources": {"memory_gb": 4},
                "slo": {"time_to_first_token": {"target_ms": 500}, "throughput_rps": 1},
            }
            for i in range(models)
        ],
        "gateway": {
            "rate_limit_tiers": [{"name": "standard", "requests_per_second": 10, "burst": 20}],
            "tenants": [
                {"name": f"tenant-{i}", "models": [f"model-{i}", f"route-{i // 2}"], "tier": "standard"}
                for i in range(models)
            ],
            "routes": [
                {
                    "alias": f"route-{i}",
                    "split": [
                        {"model": f"model-{2 * i}", "weight": 50},
                        {"model": f"model-{2 * i + 1}", "weight": 50},
                    ],
                }
                for i in range(models // 2)
            ],
        },
        "monitoring": {"receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"}]},
        "security": {"firewall": {"allow": [{"source": "10.0.0.0/8", "ports": [443], "comment": "API clients"}]}},
    }


def hxgen_command() -> list[str]:
    script = Path(sys.executable).with_name("hxgen")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hxgen"]


# As on a user's machine, Python may cache bytecode; an untimed first run compiles it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timings(spec: Path, runs: int, warm_up: bool = True) -> list[float]:
    times = []
    for run in range(runs + warm_up):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = subprocess.run(
                [*hxgen_command(), "render", str(spec), "--out", out],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=ENV,
                check=False,
            )
            elapsed = time.perf_counter() - start
            if done.returncode != 0:  # say why: a spec that stopped passing a check is the usual cause
                sys.exit(f"hxgen render {spec.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            if run or not warm_up:
                times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="one run of each spec, for the test suite")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    result: dict[str, object] = {"runs": runs, "cpus": os.cpu_count()}

    def measure(key: str, spec: Path) -> None:
        times = timings(spec, runs, warm_up=not args.quick)
        result[f"{key}_s"] = round(statistics.median(times), 3)
        result[f"{key}_min_s"] = round(min(times), 3)

    measure("default", ROOT / "hx.yaml")
    measure("sandbox", ROOT / "sandbox" / "hx.yaml")
    workdir = Path(tempfile.mkdtemp(prefix="hx-bench-"))
    try:
        for size in SIZES:
            spec = workdir / f"hx-{size}.yaml"
            with spec.open("w") as handle:
                YAML(typ="safe", pure=True).dump(generated_spec(size), handle)
            measure(f"models_{size}", spec)
    finally:
        shutil.rmtree(workdir)
    # Marginal cost per model: growth is close to linear when the two slopes agree.
    result["per_model_ms_50_100"] = round((result["models_100_s"] - result["models_50_s"]) / 50 * 1000, 2)
    result["per_model_ms_100_200"] = round((result["models_200_s"] - result["models_100_s"]) / 100 * 1000, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
