"""The gateway's gRPC listener end to end: the real nginx with the rendered config and njs
handler, in front of a real vLLM CPU server in gRPC mode (vLLM's `--grpc` server with the
smg-grpc-servicer, run by the vllm role's wrapper), driven with grpcio. The spec is
tests/data/gateway-grpc/hx.yaml; keys come from `hxgen keys create`; the client stubs are
generated from the proto files of the engine's smg-grpc-proto at test time.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import engines
import gateway_harness
import grpc
import pytest
from conftest import DATA
from grpc_tools import protoc
from ruamel.yaml import YAML

from hxgen.pipeline import render_file

pytestmark = pytest.mark.engine

SPEC = DATA / "gateway-grpc/hx.yaml"
PLAN = render_file(SPEC).plan
MODEL = next(m for m in PLAN.models if m.name == "tiny-grpc")
GRPC_PORT = PLAN.gateway.grpc.port
TENANTS = ("team-a", "team-b", "tight", "watcher")


def create_key(keys_file: Path, tenant: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hxgen", "keys", "create", "--tenant", tenant, "--keys-file", str(keys_file), str(SPEC)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    keys_file = tmp_path_factory.mktemp("keys") / "api-keys.yml"
    issued = {tenant: create_key(keys_file, tenant) for tenant in TENANTS}
    return issued, YAML(typ="safe").load(keys_file.read_text())["gateway_api_keys"]


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """(messages, stubs) of vllm.grpc.engine, from the proto files the engine serves."""
    proto_dir = subprocess.run(
        [str(engines.engine_python()), "-c",
         "import pathlib, smg_grpc_proto; print(pathlib.Path(smg_grpc_proto.__file__).parent / 'proto')"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    out = tmp_path_factory.mktemp("stubs")
    include = str(Path(protoc.__file__).parent / "_proto")
    status = protoc.main(
        ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
         f"{proto_dir}/common.proto", f"{proto_dir}/vllm_engine.proto"]
    )  # fmt: skip
    assert status == 0
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("vllm_engine_pb2"), importlib.import_module("vllm_engine_pb2_grpc")
    finally:
        sys.path.remove(str(out))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    cache = engines.ROOT / ".cache/tiny-models"
    work = tmp_path_factory.mktemp("engine")
    weights = engines.tiny_model(cache, MODEL.source["seed"])
    started = [engines.start_engine(MODEL, weights, work / "home", work / "engine.log")]
    try:
        engines.wait_healthy(started)
        yield started[0]
    finally:
        engines.stop_engines(started)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, keys, engine):
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), keys[1])
    proc = gateway_harness.start(staged)
    gateway_harness.wait_listening(GRPC_PORT, proc)
    yield staged
    gateway_harness.stop(proc)


@pytest.fixture(scope="module")
def stub(gateway, pb):
    with grpc.insecure_channel(f"127.0.0.1:{GRPC_PORT}") as channel:
        yield pb[1].VllmEngineStub(channel)


def metadata(keys, who: str | None, model: str = "tiny-grpc") -> list[tuple[str, str]]:
    found = [("x-hx-model", model)]
    return found + ([("authorization", f"Bearer {keys[0][who]}")] if who else [])


def request(pb, stream: bool, request_id: str = "r"):
    params = pb[0].SamplingParams(max_tokens=4, temperature=0)
    return pb[0].GenerateRequest(request_id=request_id, text="hello world", sampling_params=params, stream=stream)


def refusal(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        list(call)
    return raised.value


def test_a_generation_through_the_gateway(stub, pb, keys, gateway):
    call = stub.Generate(request(pb, stream=False), metadata=metadata(keys, "team-a"), timeout=60)
    answers = list(call)
    assert [a.WhichOneof("response") for a in answers] == ["complete"]
    complete = answers[0].complete
    assert 1 <= complete.completion_tokens <= 4 and len(complete.output_ids) == complete.completion_tokens
    assert complete.prompt_tokens > 0
    assert call.code() == grpc.StatusCode.OK
    request_id = dict(call.initial_metadata())["x-request-id"]
    line = gateway_harness.access_log_line(gateway, request_id)
    assert line["tenant"] == "team-a" and line["model"] == "tiny-grpc" and line["variant"] == "tiny-grpc"
    assert line["path"] == "/vllm.grpc.engine.VllmEngine/Generate" and line["status"] == 200
    assert line["prompt_tokens"] == complete.prompt_tokens
    assert line["completion_tokens"] == complete.completion_tokens


def test_a_stream_through_the_gateway(stub, pb, keys, gateway):
    call = stub.Generate(request(pb, stream=True), metadata=metadata(keys, "team-a"), timeout=60)
    answers = list(call)
    kinds = [a.WhichOneof("response") for a in answers]
    assert kinds[-1] == "complete" and kinds.count("chunk") >= 1
    streamed = [t for a in answers[:-1] for t in a.chunk.token_ids]
    assert 1 <= len(streamed) <= 4
    request_id = dict(call.initial_metadata())["x-request-id"]
    line = gateway_harness.access_log_line(gateway, request_id)
    assert line["tenant"] == "team-a" and line["status"] == 200 and line["prompt_tokens"] > 0


def test_a_bad_key_is_unauthenticated(stub, pb, keys, gateway):
    error = refusal(stub.Generate(request(pb, False), metadata=[("x-hx-model", "tiny-grpc"),
                                                                 ("authorization", "Bearer not-a-key")]))  # fmt: skip
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "invalid API key" in error.details()
    error = refusal(stub.Generate(request(pb, False), metadata=metadata(keys, None)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "missing API key" in error.details()


def test_another_tenants_model_is_permission_denied(stub, pb, keys):
    error = refusal(stub.Generate(request(pb, False), metadata=metadata(keys, "team-a", model="tiny-b")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert 'tenant team-a may not use the model "tiny-b"' in error.details()


def test_a_role_without_inference_is_permission_denied(stub, pb, keys):
    error = refusal(stub.Generate(request(pb, False), metadata=metadata(keys, "watcher")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_model_is_named_in_metadata(stub, pb, keys):
    error = refusal(stub.Generate(request(pb, False), metadata=metadata(keys, "team-a", model="nope")))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "tiny-grpc" in error.details()
    no_model = [("authorization", f"Bearer {keys[0]['team-a']}")]
    error = refusal(stub.Generate(request(pb, False), metadata=no_model))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "x-hx-model" in error.details()


def test_the_tiers_rate_limit_is_resource_exhausted(stub, pb, keys, gateway):
    # The tier allows one call a minute and no burst: the first passes, the next is refused.
    assert list(stub.Generate(request(pb, False), metadata=metadata(keys, "tight"), timeout=60))
    error = refusal(stub.Generate(request(pb, False), metadata=metadata(keys, "tight"), timeout=60))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    refused = [line for line in gateway_harness.access_log(gateway) if line["status"] == 429]
    assert refused and refused[-1]["path"] == "/vllm.grpc.engine.VllmEngine/Generate"


def test_health_and_metrics_stay_on_the_models_http_port(engine, stub, pb, keys):
    list(stub.Generate(request(pb, False), metadata=metadata(keys, "team-a"), timeout=60))
    with urllib.request.urlopen(MODEL.health_url, timeout=5) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{MODEL.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    served = [line for line in text.splitlines() if line.startswith("vllm:request_success_total{")]
    assert served and any(float(line.rsplit(" ", 1)[1]) >= 1 for line in served)
    assert "vllm:time_to_first_token_seconds_bucket" in text


def test_the_http_api_sends_grpc_models_to_the_grpc_port(gateway, keys):
    body = b'{"model":"tiny-grpc","prompt":"hi","max_tokens":1}'
    req = urllib.request.Request(f"{gateway.http_url}/v1/completions", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {keys[0]['team-a']}",
                                          "Content-Type": "application/json"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(req, timeout=10)
    assert raised.value.code == 400 and b"wrong_protocol" in raised.value.read()
