"""The operator's page at UI_PREFIX: the host at a glance, and forms to rotate or revoke a key and set
a route's weights. Server-rendered (Jinja, autoescaped), no scripts, no external assets.

Who the caller is comes from the gateway's headers (hxgen.control.headers), as for REST: the
gateway turns the UI_COOKIE into them. What the page shows and the forms do go through Control,
so RBAC decides as for REST; a form is drawn only when that RBAC would allow it, and a POST is
checked again whatever the page showed.

Cross-site requests: the cookie is SameSite=Strict, and every POST also needs the page's token
(an HMAC of the caller under a secret of this process) and, when the browser sends an Origin, the
gateway's own origin. The login form cannot check the key (only the gateway can); it stores it
and sends the browser to the page, which the gateway lets through only with a valid key."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Any

import anyio.to_thread
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..contracts import control as contract
from . import headers, rbac
from . import model as m

TEMPLATES = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf"
KEY_PATTERN = re.compile(r"hx-[0-9a-f]{8}-[A-Za-z0-9_-]{1,128}")
HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
AUDIT_SHOWN = 10
LOGIN = f"{contract.UI_PREFIX}/login"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _env.get_template(f"{name}.html.j2").render(prefix=contract.UI_PREFIX, **values)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


# --- where the browser is -----------------------------------------------------------------------
def origin(request: Request) -> str | None:
    """The gateway's origin as the browser sees it (X-Forwarded-Proto/-Host, else Host); None when
    those headers do not make one (then redirects stay relative)."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip().lower()
    host = (request.headers.get("x-forwarded-host") or request.headers.get("host", "")).split(",")[0].strip()
    if proto not in ("http", "https") or not HOST_PATTERN.fullmatch(host):
        return None
    return f"{proto}://{host}"


def _redirect(request: Request, path: str) -> RedirectResponse:
    base = origin(request)
    return RedirectResponse(f"{base}{path}" if base else path, status_code=303)


# --- cross-site defence -------------------------------------------------------------------------
class Csrf:
    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)  # a restart invalidates open pages: reload them

    def token(self, caller: m.Caller) -> str:
        who = f"{caller.tenant}\0{caller.role}\0{caller.key_id}".encode()
        return hmac.new(self._secret, who, hashlib.sha256).hexdigest()

    def refusal(self, request: Request, form: Any, caller: m.Caller | None) -> str | None:
        """Why this POST is refused as possibly cross-site; None when it is not."""
        sent = request.headers.get("origin")
        if sent is not None and sent != origin(request):
            return f"the form was sent from {sent}, not from this page's origin"
        if caller is None:
            return None
        token = form.get(CSRF_FIELD)
        if not isinstance(token, str) or not hmac.compare_digest(token, self.token(caller)):
            return "the form's token is missing or stale: reload the page and try again"
        return None


def may(caller: m.Caller, permission: str, tenant: str | None = None) -> bool:
    """What rbac would answer, asked before drawing a form (the POST asks Control again)."""
    try:
        rbac.scope(caller, permission)
        if tenant is not None:
            rbac.check_tenant(caller, permission, tenant)
    except m.Forbidden:
        return False
    return True


# --- what the page shows ------------------------------------------------------------------------
class Section:
    """One part of the page: its data, or why it is missing (not permitted, or a part is down)."""

    def __init__(self, read) -> None:
        self.data: Any = None
        self.hidden = False
        self.error: str | None = None
        try:
            self.data = read()
        except m.Forbidden:
            self.hidden = True
        except m.ControlError as exc:
            self.error = exc.message


def glance(control: m.Control, caller: m.Caller) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "models": Section(lambda: control.models(caller)),
        "routes": Section(lambda: control.routes(caller)),
        "rollouts": Section(lambda: control.rollouts(caller)),
        "tenants": Section(lambda: control.tenants(caller)),
        "quotas": Section(lambda: {q.tenant: q for q in control.quotas(caller)}),
        "keys": Section(lambda: [(k, k.status(now)) for k in control.keys(caller)]),
        "alerts": Section(lambda: control.alerts(caller)),
        "audit": Section(lambda: control.audit(caller, AUDIT_SHOWN)),
    }


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def _shown(value: Any) -> str:
    """An audit detail's value as JSON would write it (not Python's repr), strings bare."""
    return value if isinstance(value, str) else json.dumps(value)


_env.filters["when"] = _when
_env.filters["shown"] = _shown


# --- the routes ---------------------------------------------------------------------------------
def router(control: m.Control | None = None) -> APIRouter:
    """UI_PREFIX's routes; the host is `control`, else the app's (request.app.state.control)."""
    routes = APIRouter(prefix=contract.UI_PREFIX, include_in_schema=False)
    csrf = Csrf()

    def host(request: Request) -> m.Control:
        return control or request.app.state.control

    @routes.get("")
    @routes.get("/")  # answered, not redirected: a redirect built from Host would lose the gateway's port
    def overview(request: Request) -> Response:
        caller = headers.caller_or_none(request.headers)
        if caller is None:  # the gateway found no credentials (the login page clears them)
            return _redirect(request, LOGIN)
        return _overview(request, host(request), caller, csrf)

    @routes.get("/login")
    def login_form() -> Response:
        return _page("login", error=None)

    @routes.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        refused = csrf.refusal(request, form, None)
        if refused:
            return _page("error", 403, code=403, message=refused, caller=None)
        key = str(form.get("key", "")).strip()
        if not KEY_PATTERN.fullmatch(key):
            return _page("login", 400, error="that is not an hx API key (hx-<id>-<secret>)")
        response = _redirect(request, contract.UI_PREFIX)
        response.set_cookie(
            contract.UI_COOKIE, key, httponly=True, secure=True, samesite="strict", path=contract.UI_PREFIX
        )
        return response

    @routes.post("/logout")
    async def logout(request: Request) -> Response:
        form = await request.form()
        refused = csrf.refusal(request, form, headers.caller_or_none(request.headers))
        if refused:
            return _page("error", 403, code=403, message=refused, caller=None)
        response = _redirect(request, LOGIN)
        response.delete_cookie(
            contract.UI_COOKIE, httponly=True, secure=True, samesite="strict", path=contract.UI_PREFIX
        )
        return response

    @routes.post("/keys/{key_id}/rotate")
    async def rotate(request: Request, key_id: str) -> Response:
        async def change(c: m.Control, who: m.Caller, form: Any) -> dict[str, Any]:
            hours = _int(form.get("overlap_hours"), "overlap hours", required=False)
            new = await _blocking(c.rotate_key, who, key_id, hours)
            return {"title": f"Key {key_id} rotated", "secret": new.secret,
                    "message": f"The new key is {new.key.id}; {key_id} keeps working until "
                    f"{_when(new.replaced.expires if new.replaced else None)}."}  # fmt: skip

        return await _mutation(request, host(request), csrf, change)

    @routes.post("/keys/{key_id}/revoke")
    async def revoke(request: Request, key_id: str) -> Response:
        async def change(c: m.Control, who: m.Caller, form: Any) -> dict[str, Any]:
            await _blocking(c.revoke_key, who, key_id)
            return {"title": f"Key {key_id} revoked", "message": "The gateway refuses it within "
                    f"{contract.RELOAD_WITHIN_S} s."}  # fmt: skip

        return await _mutation(request, host(request), csrf, change)

    @routes.post("/routes/{alias}/weights")
    async def weights(request: Request, alias: str) -> Response:
        async def change(c: m.Control, who: m.Caller, form: Any) -> dict[str, Any]:
            split = [
                m.Weight(name[len("weight-"):], _int(value, f"the weight of {name[len('weight-'):]}"))
                for name, value in form.multi_items() if name.startswith("weight-")
            ]  # fmt: skip
            route = await _blocking(c.set_route_weights, who, alias, split)
            shown = ", ".join(f"{w.model} {w.weight}%" for w in route.split)
            return {"title": f"Route {alias} weights set", "message": f"Now {shown}; the gateway uses them "
                    f"within {contract.RELOAD_WITHIN_S} s."}  # fmt: skip

        return await _mutation(request, host(request), csrf, change)

    return routes


def _overview(request: Request, control: m.Control, caller: m.Caller, csrf: Csrf) -> Response:
    return _page(
        "overview",
        caller=caller,
        csrf=csrf.token(caller),
        may=lambda permission, tenant=None: may(caller, permission, tenant),
        **glance(control, caller),
    )


async def _blocking(call, *args):
    return await anyio.to_thread.run_sync(lambda: call(*args))


async def _mutation(request: Request, control: m.Control, csrf: Csrf, change) -> Response:
    caller = headers.caller_or_none(request.headers)
    if caller is None:
        return _page("error", 401, code=401, caller=None, message="not logged in: log in with an API key")
    form = await request.form()
    refused = csrf.refusal(request, form, caller)
    if refused:
        return _page("error", 403, code=403, message=refused, caller=caller)
    try:
        done = await change(control, caller, form)
    except m.ControlError as exc:
        return _page("error", exc.status, code=exc.status, message=exc.message, caller=caller)
    return _page("result", caller=caller, **({"secret": None} | done))


def _int(value: Any, what: str, required: bool = True) -> int | None:
    if value in (None, ""):
        if required:
            raise m.Invalid(f"give {what}")
        return None
    try:
        return int(str(value))
    except ValueError:
        raise m.Invalid(f"{what} must be a whole number, not {str(value)[:20]!r}") from None
