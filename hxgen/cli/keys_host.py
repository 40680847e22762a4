"""hxgen keys ... --host URL: the key commands against a running host's management API, through
the gateway, with the generated client (hxgen.control_client) and nothing else, so the command
speaks exactly the API the server publishes.

A key made here exists on the host only (origin "control"): it never enters the controller's
keys file, and a converge leaves it alone (hxgen.contracts.control: the merge is monotone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..contracts import control as contract
from .common import EXIT_DENIED, EXIT_INVALID, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE

API_KEY_ENV = "HX_API_KEY"
DEFAULT_TIMEOUT_S = 30.0
CLIENT_EXTRA_HINT = "install the client extra: pip install 'hxgen[client]' (httpx and attrs)"
CA_HINT = "pass --ca-file with the gateway's CA certificate (/etc/hx/tls/ca.crt on the host)"
HOST_HELP = """\
With --host URL the command runs on a live host instead of the keys file: through the gateway
(URL is its base, e.g. https://gw.example:8443), by hx-control's management API, without a
converge; the gateway accepts or refuses the key within 5 s. The caller authenticates with an
API key read from --api-key-file FILE or the HX_API_KEY environment variable (never from the
command line, where other users could read it): create needs an admin key; list, rotate and
revoke an operator's or admin's (a user's key reaches its own tenant's keys only). TLS is
verified, against the system's CAs or --ca-file (the gateway's internal CA).

Keys made on the host never enter the keys file and a converge leaves them alone. A revocation on
the host is permanent (a converge cannot bring the key back); revoke --host also removes the id
from the keys file beside the spec, if it is there, so that no other host it is converged to
accepts it either. rotate makes a new key for the same tenant and keeps the old one working for
the overlap (--overlap-hours, default the host's), then the old key expires.

Exit codes with --host: 1 no such tenant or key, or the key is revoked or expired already (409);
2 bad arguments, no API key, or the host refused the request as invalid (400/422); 4 the host
cannot be reached, its certificate is not trusted, or hx-control is unavailable (5xx);
5 the API key was refused (401) or its role may not do this (403).
"""


class HostFailed(Exception):
    """What went wrong, what to do, and the exit code."""

    def __init__(self, message: str, hint: str | None, code: int) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


# --- the command line -------------------------------------------------------------------------
def add_host_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a live host (hx-control, through the gateway)")
    group.add_argument("--host", metavar="URL", help="the gateway's base URL, e.g. https://gw.example:8443")
    group.add_argument(
        "--api-key-file",
        type=Path,
        metavar="FILE",
        help=f"a file holding the caller's API key (default: the {API_KEY_ENV} environment variable)",
    )
    group.add_argument("--ca-file", type=Path, metavar="FILE", help="trust this CA for the gateway's certificate")
    group.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="seconds to wait for an answer"
    )


@dataclass(frozen=True)
class Host:
    url: str
    client: Any
    """hxgen.control_client.AuthenticatedClient (imported only when a command needs it)."""


def run(args: argparse.Namespace, action: Callable[[Host, argparse.Namespace], int]) -> int:
    """Connect, then action(host, args); every failure ends in a message and an exit code."""
    try:
        host = _host(args)
        with host.client:
            return action(host, args)
    except HostFailed as failed:
        _say(f"hxgen: {failed.message}")
        if failed.hint:
            _say(f"  hint: {failed.hint}")
        return failed.code


def _host(args: argparse.Namespace) -> Host:
    url = _base_url(args.host)
    token = _api_key(args.api_key_file)
    verify = _trust(args.ca_file)
    try:
        import httpx

        from ..control_client import AuthenticatedClient
    except ImportError as exc:
        raise HostFailed(f"--host needs the management API's client, which is missing: {exc}", CLIENT_EXTRA_HINT,
                         EXIT_USAGE) from exc  # fmt: skip
    client = AuthenticatedClient(base_url=url, token=token, verify_ssl=verify, timeout=httpx.Timeout(args.timeout))
    return Host(url, client)


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise HostFailed(f"--host {text!r} is not an http(s) URL", "give the gateway's base URL, e.g. "
                         "https://gw.example:8443", EXIT_USAGE)  # fmt: skip
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise HostFailed(f"--host {text!r} has a path", f"give the gateway's base URL only (without "
                         f"{contract.API_PREFIX}), e.g. https://gw.example:8443", EXIT_USAGE)  # fmt: skip
    if parts.scheme == "http":
        _say("hxgen: warning: --host is plain http: the API key travels unencrypted")
    return f"{parts.scheme}://{parts.netloc}"


def _api_key(path: Path | None) -> str:
    if path is not None:
        if path.name.startswith("hx-") and not path.exists():  # a key where its file belongs: never echo it
            raise HostFailed("--api-key-file takes the path of a file holding the key, not the key",
                             f"put the key in a file only you can read, or in {API_KEY_ENV}", EXIT_USAGE)  # fmt: skip
        try:
            key, where = path.read_text().strip(), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise HostFailed(f"--api-key-file {path}: cannot read: {getattr(exc, 'strerror', None) or exc}",
                             None, EXIT_USAGE) from exc  # fmt: skip
    else:
        key, where = os.environ.get(API_KEY_ENV, "").strip(), API_KEY_ENV
    if not key:
        raise HostFailed("no API key to call the host with", f"pass --api-key-file FILE or set {API_KEY_ENV}; "
                         "`hxgen keys create` makes one", EXIT_USAGE)  # fmt: skip
    if not key.isprintable() or any(ch.isspace() for ch in key):
        raise HostFailed(f"the API key in {where} is not one word on one line", None, EXIT_USAGE)
    return key


def _trust(ca_file: Path | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise HostFailed(f"--ca-file {ca_file}: not a readable PEM CA certificate: "
                         f"{getattr(exc, 'strerror', None) or exc}", CA_HINT, EXIT_USAGE) from exc  # fmt: skip


# --- one call ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    what: str
    """What the call does, for the messages: 'create a key for tenant acme'."""
    not_found_hint: str | None = None
    conflict_hint: str | None = None
    """For a 409; a key's by default."""


Context = _Context
"""For the other --host commands (hxgen rollout)."""


def call(operation: Any, host: Host, context: _Context, **kwargs: Any) -> Any:
    """operation.sync_detailed(client=client, **kwargs), its parsed answer on success, HostFailed
    otherwise (with what the error body, as the client models decode it, says)."""
    import httpx

    from ..control_client.models import ErrorBody

    try:
        response = operation.sync_detailed(client=host.client, **kwargs)
    except httpx.ConnectError as exc:
        raise _connect_failed(host, exc) from exc
    except httpx.TimeoutException as exc:
        raise HostFailed(f"{host.url}: no answer in time ({type(exc).__name__})", "retry, or raise --timeout",
                         EXIT_UNAVAILABLE) from exc  # fmt: skip
    except httpx.HTTPError as exc:
        raise HostFailed(f"{host.url}: {exc}", None, EXIT_UNAVAILABLE) from exc
    except (ValueError, KeyError, TypeError) as exc:  # a documented status with a body that is not the API's
        raise HostFailed(f"{host.url} answered something that is not hx-control's API ({exc})",
                         "check that --host is the gateway of an hx host", EXIT_UNAVAILABLE) from exc  # fmt: skip
    status = int(response.status_code)
    if 200 <= status < 300 and not isinstance(response.parsed, ErrorBody):
        return response.parsed
    error = response.parsed.error if isinstance(response.parsed, ErrorBody) else None
    detail = f"{error.code}: {error.message}" if error else response.content.decode(errors="replace").strip()[:200]
    raise _refused(status, detail, context)


def _connect_failed(host: Host, exc: Exception) -> HostFailed:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        reason = getattr(cause, "verify_message", None) or str(exc)
        return HostFailed(f"{host.url}: the gateway's TLS certificate is not trusted ({reason})", CA_HINT,
                          EXIT_UNAVAILABLE)  # fmt: skip
    return HostFailed(f"cannot connect to {host.url}: {exc}", "check --host (the gateway's address and "
                      "port) and that the gateway runs there", EXIT_UNAVAILABLE)  # fmt: skip


def _refused(status: int, detail: str, context: _Context) -> HostFailed:
    message = f"the host refused to {context.what}: HTTP {status} {detail}"
    if status == 401:
        return HostFailed(message, f"the API key (--api-key-file or {API_KEY_ENV}) is unknown, expired or "
                          "revoked: use a live key", EXIT_DENIED)  # fmt: skip
    if status == 403:
        return HostFailed(message, "the key's role may not do this: `hxgen keys whoami --host URL` shows what "
                          "it may do; making keys needs an admin's key", EXIT_DENIED)  # fmt: skip
    if status == 404:
        return HostFailed(message, context.not_found_hint, EXIT_INVALID)
    if status == 409:
        return HostFailed(message, context.conflict_hint or "a revoked or expired key cannot be rotated or revoked "
                          "again; `hxgen keys list --host URL` shows its status", EXIT_INVALID)  # fmt: skip
    if status in (400, 422):
        return HostFailed(message, None, EXIT_USAGE)
    if status >= 500:
        return HostFailed(message, "hx-control or its database is down or busy: on the host, "
                          "`systemctl status hx-control`; then retry", EXIT_UNAVAILABLE)  # fmt: skip
    return HostFailed(message, None, EXIT_UNAVAILABLE)


# --- the commands -----------------------------------------------------------------------------
def create(host: Host, args: argparse.Namespace, expires: dt.date | None) -> int:
    from ..control_client.api.v1 import create_key
    from ..control_client.models import CreateKeyIn

    when = dt.datetime.combine(expires, dt.time(), dt.UTC) if expires else None
    body = CreateKeyIn(tenant=args.tenant, note=args.note, expires=when)
    hint = "the host's tenants are the spec's gateway.tenants, as last converged"
    made = call(create_key, host, _Context(f"create a key for tenant {args.tenant}", hint), body=body)
    _print_secret(made, args.json)
    life = f"expires {made.key.expires.isoformat()}" if made.key.expires else "never expires"
    _say(f"hxgen: key {made.key.id} for tenant {made.key.tenant} created on {host.url} ({life}); "
         f"it is not shown again; the gateway accepts it within {contract.RELOAD_WITHIN_S} s")  # fmt: skip
    return EXIT_OK


def rotate(host: Host, args: argparse.Namespace) -> int:
    from ..control_client.api.v1 import rotate_key
    from ..control_client.models import RotateKeyIn

    body = RotateKeyIn(overlap_hours=args.overlap_hours, note=args.note)
    context = _Context(f"rotate key {args.id}", "`hxgen keys list --host URL` shows the host's key ids")
    made = call(rotate_key, host, context, key_id=args.id, body=body)
    _print_secret(made, args.json)
    old = made.replaced
    until = old.expires.isoformat() if old and old.expires else "the end of the overlap"
    _say(f"hxgen: key {made.key.id} for tenant {made.key.tenant} replaces {args.id}, which keeps working until "
         f"{until}, then expires; the new key is not shown again")  # fmt: skip
    return EXIT_OK


def listing(host: Host, args: argparse.Namespace) -> int:
    from ..control_client.api.v1 import list_keys
    from ..control_client.types import UNSET

    context = _Context("list keys", "the host's tenants are the spec's gateway.tenants, as last converged")
    found = call(list_keys, host, context, tenant=args.tenant or UNSET)
    if args.format == "json":
        print(json.dumps([k.to_dict() for k in found], indent=2))
        return EXIT_OK
    if not found:
        _say(f"hxgen: no API keys on {host.url}")
        return EXIT_OK
    rows = [("ID", "TENANT", "CREATED", "EXPIRES", "STATUS", "ORIGIN", "NOTE")] + [
        (k.id, k.tenant, _when(k.created), _when(k.expires) if k.expires else "never", k.status, k.origin, k.note or "")
        for k in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def revoke(host: Host, args: argparse.Namespace) -> Any:
    """The host's revoked key; the caller then tidies the keys file."""
    from ..control_client.api.v1 import revoke_key

    context = _Context(f"revoke key {args.id}", "`hxgen keys list --host URL` shows the host's key ids")
    gone = call(revoke_key, host, context, key_id=args.id)
    if args.json:
        print(json.dumps(gone.to_dict(), indent=2))
    _say(f"hxgen: key {gone.id} of tenant {gone.tenant} revoked on {host.url}: the gateway refuses it "
         f"within {contract.RELOAD_WITHIN_S} s, and a converge cannot bring it back")  # fmt: skip
    return gone


def whoami(host: Host, args: argparse.Namespace) -> int:
    from ..control_client.api.v1 import whoami as operation

    me = call(operation, host, _Context("say who the caller is"))
    if args.json:
        print(json.dumps(me.to_dict(), indent=2))
    else:
        print(f"tenant {me.tenant}, role {me.role}, key {me.key_id or '(client certificate)'}")
        print(f"permissions: {' '.join(sorted(me.permissions))}")
    return EXIT_OK


def _print_secret(made: Any, as_json: bool) -> None:
    print(json.dumps(made.to_dict(), indent=2) if as_json else made.secret)


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _say(text: str) -> None:
    print(text, file=sys.stderr)
