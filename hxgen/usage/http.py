"""The service's loopback HTTP side: /metrics for Prometheus, and the tenant endpoints the gateway
proxies after authenticating the caller (it sets TENANT_HEADER and overwrites a client's). A
small WSGI app on wsgiref with a thread per request: a handful of calls a minute, none of them in
an inference request's path."""

from __future__ import annotations

import json
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..contracts import usage as contract
from .database import DatabaseDown
from .service import Service

MAX_BODY_BYTES = 16 * 1024
FEEDBACK_TIMEOUT_S = 10
"""A feedback call answers 503 after this long: with PostgreSQL down behind a running PgBouncer,
a query waits in PgBouncer's queue for its query_wait_timeout (minutes), and the client should
not. The call itself goes on in its worker thread until PgBouncer gives up."""
FEEDBACK_WORKERS = 2
TENANT_ENVIRON = "HTTP_" + contract.TENANT_HEADER.upper().replace("-", "_")


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def error_body(e: HttpError) -> dict[str, Any]:
    """OpenAI's error shape, as the gateway's own errors have it."""
    kind = "invalid_request_error" if e.status < 500 else "server_error"
    return {"error": {"message": str(e), "type": kind, "param": e.param, "code": e.code}}


STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 413: "Payload Too Large", 503: "Service Unavailable"}  # fmt: skip


class App:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._feedback_slots = threading.BoundedSemaphore(FEEDBACK_WORKERS)

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        try:
            if path == "/metrics" and method == "GET":
                body = generate_latest(self.service.series.registry)
                start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
                return [body]
            status, payload = self.route(method, path, environ)
        except HttpError as e:
            status, payload = e.status, error_body(e)
        data = (json.dumps(payload, sort_keys=True) + "\n").encode()
        start_response(f"{status} {STATUS_TEXT.get(status, '')}", [("Content-Type", "application/json")])
        return [data]

    def route(self, method: str, path: str, environ) -> tuple[int, Any]:
        routes = {
            contract.USAGE_PATH: ("GET", self.usage),
            contract.ADMIN_USAGE_PATH: ("GET", self.admin_usage),
            contract.FEEDBACK_PATH: ("POST", self.feedback),
        }
        if path not in routes:
            raise HttpError(404, f"no such path {path}", "not_found")
        allowed, handler = routes[path]
        if method != allowed:
            raise HttpError(405, f"{path} takes {allowed}", "method_not_allowed")
        return handler(environ)

    def _tenant(self, environ) -> str:
        tenant = environ.get(TENANT_ENVIRON, "")
        if tenant not in self.service.config.tenants:
            raise HttpError(403, "no tenant: call this through the gateway with your API key", "no_tenant")
        return tenant

    def usage(self, environ) -> tuple[int, Any]:
        return 200, self.service.usage(self._tenant(environ))

    def admin_usage(self, environ) -> tuple[int, Any]:
        return 200, self.service.admin_usage()

    def feedback(self, environ) -> tuple[int, Any]:
        tenant = self._tenant(environ)
        request_id, rating, comment = parse_feedback(_body(environ))
        stored = self._store_feedback(tenant, request_id, rating, comment)
        if not stored:
            # Another tenant's request is "not found" too: its existence is not revealed.
            raise HttpError(404, f"no request {request_id} of yours", "request_not_found", "request_id")
        return 201, {"request_id": request_id, "rating": rating}

    def _store_feedback(self, tenant: str, request_id: str, rating: int, comment: str | None) -> bool:
        unavailable = HttpError(503, "usage storage is unavailable; try again later", "database_unavailable")
        if not self._feedback_slots.acquire(blocking=False):
            raise unavailable  # earlier calls still wait for the database
        outcome: dict[str, Any] = {}

        def store() -> None:
            try:
                outcome["stored"] = self.service.feedback(tenant, request_id, rating, comment)
            except DatabaseDown:
                outcome["down"] = True
            finally:
                self._feedback_slots.release()

        worker = threading.Thread(target=store, name="hx-usage-feedback", daemon=True)
        worker.start()
        worker.join(FEEDBACK_TIMEOUT_S)
        if worker.is_alive() or "stored" not in outcome:
            raise unavailable
        return outcome["stored"]


def _body(environ) -> object:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "bad Content-Length", "invalid_request") from None
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"the body is over {MAX_BODY_BYTES} bytes", "body_too_large")
    try:
        return json.loads(environ["wsgi.input"].read(length) or b"null")
    except ValueError:
        raise HttpError(400, "the body is not JSON", "invalid_json") from None


def parse_feedback(body: object) -> tuple[str, int, str | None]:
    if not isinstance(body, dict):
        raise HttpError(400, "the body must be a JSON object", "invalid_request")
    unknown = sorted(set(body) - {"request_id", "rating", "comment"})
    if unknown:
        raise HttpError(400, f"unknown field {unknown[0]!r}", "invalid_request", unknown[0])
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
        raise HttpError(400, "request_id must be the X-Request-ID of your request", "invalid_request", "request_id")
    rating = body.get("rating")
    if (
        not isinstance(rating, int)
        or isinstance(rating, bool)
        or not contract.RATING_MIN <= rating <= contract.RATING_MAX
    ):
        raise HttpError(
            400,
            f"rating must be an integer from {contract.RATING_MIN} to {contract.RATING_MAX}",
            "invalid_rating",
            "rating",
        )
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > contract.FEEDBACK_COMMENT_MAX_CHARS):
        raise HttpError(
            400,
            f"comment must be text of at most {contract.FEEDBACK_COMMENT_MAX_CHARS} characters",
            "invalid_request",
            "comment",
        )
    return request_id, rating, comment


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the gateway's access log has every call already
        pass


def start(service: Service, address: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    server = make_server(address, port, App(service), server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="hx-usage-http", daemon=True)
    thread.start()
    return server, thread
