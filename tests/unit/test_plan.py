"""The plan turns the spec into exact engine command lines and service settings."""

from __future__ import annotations

from hxgen.plan import build_plan
from hxgen.validation import validate


def plan_of(data):
    spec, found = validate(data)
    assert spec is not None, found
    return build_plan(spec)


def flags(argv: tuple[str, ...]) -> dict[str, str | None]:
    """--flag value pairs of a command line; bare flags map to None."""
    result, words = {}, list(argv)
    for i, word in enumerate(words):
        if word.startswith("--"):
            nxt = words[i + 1] if i + 1 < len(words) else None
            result[word] = None if nxt is None or nxt.startswith("--") else nxt
    return result


def test_vllm_on_a_gpu(spec_data):
    spec_data["host"]["gpus"].append({"index": 1, "model": "L40S", "memory_gb": 48})
    spec_data["models"][0].update(gpus=[1, 0], tensor_parallel_size=2, quantization="fp8", max_num_batched_tokens=4096)
    (model,) = plan_of(spec_data).models
    assert model.argv[:3] == ("/opt/hx/vllm/bin/vllm", "serve", "/srv/hx/models/phi-3-mini")
    f = flags(model.argv)
    assert f["--served-model-name"] == "phi-3-mini"
    assert f["--host"] == "127.0.0.1" and f["--port"] == "8001"
    assert f["--tensor-parallel-size"] == "2"
    assert f["--gpu-memory-utilization"] == "0.9"
    assert f["--quantization"] == "fp8"
    assert f["--max-num-batched-tokens"] == "4096"
    assert "--enable-prefix-caching" in f and "--enforce-eager" not in f
    env = dict(model.environment)
    assert env["CUDA_VISIBLE_DEVICES"] == "1,0"
    assert env["HF_HUB_OFFLINE"] == "1" and env["VLLM_HOST_IP"] == "127.0.0.1"
    assert model.service == "hx-model-phi-3-mini" and model.user == "hx-vllm"


def test_vllm_on_the_cpu_profile(spec_data):
    spec_data["host"].update(profile="cpu", gpus=[])
    spec_data["models"][0].update(
        gpus=[],
        source={"generate": "tiny-llama", "seed": 3},
        parameters_b=0.001,
        kv_cache_min_gb=1.5,
        prefix_caching=False,
    )
    plan = plan_of(spec_data)
    (model,) = plan.models
    # The CPU build's `vllm` script cannot find its own version; the module entry point works.
    assert model.command[0] == (
        "/opt/hx/vllm/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "/srv/hx/models/phi-3-mini",
    )
    f = flags(model.argv)
    assert "--enforce-eager" in f and "--no-enable-prefix-caching" in f
    assert "--tensor-parallel-size" not in f and "--gpu-memory-utilization" not in f
    env = dict(model.environment)
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"  # GiB, rounded up
    assert model.source == {"generate": "tiny-llama", "seed": 3}
    assert plan.vllm_package == "vllm-cpu"


def test_embedding_models_use_the_pooling_runner(spec_data):
    spec_data["models"][0].update(task="embed", slo={"end_to_end": {"target_ms": 100, "output_tokens": 1}})
    (model,) = plan_of(spec_data).models
    assert flags(model.argv)["--runner"] == "pooling"


def test_local_path_is_served_in_place(spec_data):
    spec_data["models"][0]["source"] = {"path": "/mnt/models/phi3"}
    (model,) = plan_of(spec_data).models
    assert model.argv[2] == "/mnt/models/phi3" and model.weights_dir == "/mnt/models/phi3"


def test_tgi_runs_in_a_container_with_cdi_gpus(spec_data):
    spec_data["models"][0].update(engine="tgi", quantization="awq", max_concurrent_requests=32)
    (model,) = plan_of(spec_data).models
    argv = model.argv
    assert argv[:2] == ("/usr/bin/podman", "run")
    assert "--device=nvidia.com/gpu=0" in argv
    image_at = argv.index("ghcr.io/huggingface/text-generation-inference:3.3.5")
    f = flags(argv[image_at:])
    assert f["--model-id"] == "/data/model" and f["--port"] == "8001"
    assert f["--quantize"] == "awq" and "--dtype" not in f  # TGI refuses both together
    assert f["--max-concurrent-requests"] == "32"
    assert f["--max-input-tokens"] == "4095" and f["--max-total-tokens"] == "4096"


def test_extra_args_follow_the_managed_flags(spec_data):
    spec_data["models"][0]["extra_args"] = ["--kv-cache-dtype", "fp8", "--disable-log-stats"]
    (model,) = plan_of(spec_data).models
    assert model.argv[-3:] == ("--kv-cache-dtype", "fp8", "--disable-log-stats")
    assert model.command[-2:] == (("--kv-cache-dtype", "fp8"), ("--disable-log-stats",))


def test_slo_defaults_come_from_targets(spec_data):
    spec_data["targets"] = {"availability_percent": 99.9}
    (model,) = plan_of(spec_data).models
    assert model.slo.availability_percent == 99.9
    assert model.slo.error_rate_percent == 0.1
    assert model.slo.ttft_ms == 300 and model.slo.ttft_percentile == 95
    assert model.max_concurrent_requests == 512  # 2 x max_num_seqs
