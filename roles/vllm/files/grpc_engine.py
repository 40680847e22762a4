#!/usr/bin/env python3
"""A model served over gRPC (vLLM's `--grpc` mode, the smg-grpc-servicer's VllmEngine service),
with the engine's /health and /metrics still served over HTTP on the model's usual port.

vLLM's gRPC server answers nothing but gRPC. The host's health checks (the role's wait, the
gateway's /admin/status, the blackbox probes) and Prometheus' scrape of the engine's `vllm:*`
metrics all speak HTTP to the model's port, so this wrapper keeps that port:

    grpc_engine.py --http-host 127.0.0.1 --http-port 8001 -- <vLLM gRPC server arguments>

/health is 200 when the gRPC server's own health service says SERVING for the VllmEngine
service (the engine is loaded and warmed up), 503 otherwise. /metrics is the Prometheus
registry of this process, where vLLM's stat loggers count. Installed by the vllm role as
<venv>/hx-grpc-engine.py and run with the engine's Python.
"""

from __future__ import annotations

import argparse
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENGINE_SERVICE = "vllm.grpc.engine.VllmEngine"


def grpc_target(argv: list[str]) -> str:
    """host:port of the gRPC server, read from its own arguments."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50051)
    known, _ = parser.parse_known_args(argv)
    return f"{known.host}:{known.port}"


class Probe:
    """Asks the gRPC server's health service, over one channel kept open."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._stub = None
        self._lock = threading.Lock()

    def serving(self) -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with self._lock:
            if self._stub is None:
                self._stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(self.target))
            stub = self._stub
        try:
            answer = stub.Check(health_pb2.HealthCheckRequest(service=ENGINE_SERVICE), timeout=2)
        except grpc.RpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING


def handler_for(probe: Probe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/health":
                ok = probe.serving()
                self._answer(200 if ok else 503, b"" if ok else b"not serving\n", "text/plain")
            elif self.path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

                self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # probes every few seconds would drown the engine's own log

    return Handler


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("engine", nargs=argparse.REMAINDER, help="-- then the vLLM gRPC server's arguments")
    args = parser.parse_args(argv)
    engine = args.engine[1:] if args.engine[:1] == ["--"] else args.engine
    http = ThreadingHTTPServer((args.http_host, args.http_port), handler_for(Probe(grpc_target(engine))))
    threading.Thread(target=http.serve_forever, name="hx-health-metrics", daemon=True).start()

    from vllm.entrypoints.launchers import grpc_server

    sys.argv = [sys.argv[0], *engine]
    grpc_server.main()


if __name__ == "__main__":
    main(sys.argv[1:])
