"""The HTTP layer of `quarterdeck serve`: Starlette routes over PortalService, and the guards every
response passes through (security headers, body limits, rate limits, CSRF on every form).

Everything that reads or writes the ledger runs in Starlette's thread pool, off the event loop:
a write waits for the ledger's write lock (up to a minute, while a notice run or a rollout in
another process holds it), and the other visitors' pages must not wait with it. The ledger's
engine hands each thread its own connection. Link values are secrets: uvicorn's access log (which
would print /l/<link>) is off, and the link page answers with Referrer-Policy no-referrer.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.errors import ChannelsError, SignoffError
from channels.gates.gates import SEVERITIES
from channels.portal.access import Visitor
from channels.portal.intake import openapi, parse_report
from channels.portal.links import LINK, PortalRefused, csrf_ok, csrf_token, verify
from channels.portal.service import PortalService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# How uvicorn runs the app, for `serve` and the demo alike. No access log: a personal link is a
# secret and its path would be printed. No proxy headers: only `trust_proxy` decides about them.
SERVER_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "server_header": False,
                                  "proxy_headers": False}

SESSION_COOKIE = "qd_session"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 96 * 1024  # the longest form: a problem's details (64 KiB) and its summary
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """Outermost: strict headers on every response, and a body over the limit refused (413)
    before any of it is read, whatever its Content-Length claims."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                message["headers"] = [*(h for h in message.get("headers", []) if h[0] not in names),
                                      *SECURITY_HEADERS]
            await send(message)

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            too_large = (JSONResponse({"error": "the request is too large", "hint": None}, status_code=413)
                         if scope["path"].startswith("/api/") else _plain(413, "the request is too large"))
            await too_large(scope, receive, with_headers)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge
            return message

        await self.app(scope, counted, with_headers)


class TooLarge(Exception):
    """A body without Content-Length ran past the limit while being read."""


class RateLimit:
    """At most `count` requests in `period` seconds per key (a link's contact, an API token)."""

    def __init__(self, count: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.count, self.period, self.clock = count, period, clock
        self.seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now, seen = self.clock(), self.seen[key]
        while seen and seen[0] <= now - self.period:
            seen.popleft()
        if len(seen) >= self.count:
            return False
        seen.append(now)
        return True


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8")


class Portal:
    """The routes, bound to one service."""

    def __init__(self, service: PortalService, *, base_url: str, secure_cookies: bool, trust_proxy: bool,
                 actions: RateLimit | None = None, reports: RateLimit | None = None) -> None:
        self.service = service
        self.base_url = base_url
        self.secure_cookies = secure_cookies
        self.trust_proxy = trust_proxy
        self.actions = actions or RateLimit(30, 600)
        self.reports = reports or RateLimit(60, 600)
        self.templates = Environment(loader=PackageLoader("channels.portal", "templates"),
                                     autoescape=select_autoescape(default=True), trim_blocks=True,
                                     lstrip_blocks=True)

    def routes(self) -> list[Route]:
        return [Route("/l/{value}", self.link), Route("/beta", self.beta),
                Route("/beta/signoff", self.sign_off, methods=["POST"]),
                Route("/beta/withdraw", self.withdraw, methods=["POST"]),
                Route("/beta/problems", self.report, methods=["POST"]),
                Route("/beta/join", self.join, methods=["POST"]),
                Route("/static/portal.css", self.css),
                Route("/favicon.ico", lambda request: Response(status_code=204)),
                Route("/api/v1/problems", self.intake, methods=["POST"]),
                Route("/api/v1/openapi.json", self.openapi)]

    # ---------------------------------------------------------------- pages

    def _html(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(self.templates.get_template(template).render(**values), status_code=status)

    def _refused(self, status: int, message: str, hint: str | None = None) -> HTMLResponse:
        return self._html("refused.html", status, message=message, hint=hint)

    def _secure(self, request: Request) -> bool:
        forwarded = request.headers.get("x-forwarded-proto", "")
        return self.secure_cookies or (self.trust_proxy and forwarded.lower() == "https")

    async def link(self, request: Request) -> Response:
        value = request.path_params["value"]
        try:
            grant = verify(self.service.secret, LINK, value, self.service.now())
            if not self.actions.allow(f"contact:{grant.contact_id}"):
                return self._refused(429, "this link was opened too often", "wait a few minutes")
            visitor, session = await run_in_threadpool(self.service.open_link, value)
        except PortalRefused as err:
            return self._refused(403, str(err), err.hint)
        response = RedirectResponse("/beta", status_code=303)
        max_age = int((visitor.grant.expires - self.service.now()).total_seconds())
        response.set_cookie(SESSION_COOKIE, session, max_age=max_age, path="/", httponly=True,
                            samesite="lax", secure=self._secure(request))
        return response

    async def _visitor(self, request: Request) -> tuple[Visitor, str]:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            raise PortalRefused("open your personal link to see this page",
                                hint="it is in the beta notice the release team sent you")
        return await run_in_threadpool(self.service.visitor, session), session

    async def beta(self, request: Request) -> Response:
        try:
            visitor, session = await self._visitor(request)
        except PortalRefused as err:
            return self._refused(401 if SESSION_COOKIE not in request.cookies else 403, str(err), err.hint)
        content = await run_in_threadpool(self.service.page, visitor)
        return self._html("beta.html", page=content.page, notes=content.notes, trainings=content.trainings,
                          severities=SEVERITIES,
                          csrf=csrf_token(self.service.secret, session))

    async def css(self, request: Request) -> Response:
        text = resources.files("channels.portal").joinpath("templates/portal.css").read_text("utf-8")
        return Response(text, media_type="text/css; charset=utf-8")

    async def intake(self, request: Request) -> Response:
        return await _intake(self, request)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi(self.base_url))

    # ---------------------------------------------------------------- forms

    async def _form(self, request: Request) -> tuple[Visitor, dict[str, str]]:
        """The visitor and their form's fields, once the session, the CSRF token and the rate
        limit allow it (else PortalRefused, with the status to answer)."""
        visitor, session = await self._visitor(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
            raise Refusal(415, f"a form must be sent as {FORM_TYPE}")
        try:
            body = await request.body()
            fields = {key: values[0] for key, values in
                      parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False).items()}
        except UnicodeDecodeError:
            raise Refusal(400, "the form is not UTF-8 text") from None
        if not csrf_ok(self.service.secret, session, fields.get("csrf", "")):
            raise Refusal(403, "this form has expired or did not come from your beta page",
                          "reload the page and send it again")
        if not self.actions.allow(f"contact:{visitor.contact_id}"):
            raise Refusal(429, "too many requests from this link", "wait a few minutes and try again")
        return visitor, fields

    async def _act(self, request: Request, action: Callable[[Visitor, dict[str, str]], object]) -> Response:
        try:
            visitor, fields = await self._form(request)
            await run_in_threadpool(action, visitor, fields)
        except TooLarge:
            return _plain(413, "the request is too large")
        except Refusal as err:
            return self._refused(err.status, str(err), err.hint)
        except PortalRefused as err:
            return self._refused(401 if SESSION_COOKIE not in request.cookies else 403, str(err), err.hint)
        except SignoffError as err:
            return self._refused(409, str(err), err.hint)
        except ChannelsError as err:
            return self._refused(400, str(err), err.hint)
        return RedirectResponse("/beta", status_code=303)

    async def sign_off(self, request: Request) -> Response:
        return await self._act(request, lambda visitor, form: self.service.sign_off(
            visitor, form.get("build", ""), form.get("note") or None))

    async def withdraw(self, request: Request) -> Response:
        return await self._act(request, lambda visitor, form: self.service.withdraw(
            visitor, form.get("build", "")))

    async def join(self, request: Request) -> Response:
        return await self._act(request, lambda visitor, form: self.service.join(visitor))

    async def report(self, request: Request) -> Response:
        return await self._act(request, lambda visitor, form: self.service.report(
            visitor, form.get("build", ""), form.get("severity", ""), form.get("summary", ""),
            form.get("details") or None))


# The problem intake API: JSON in, JSON out.

def _json_refused(status: int, err: PortalRefused | str, hint: str | None = None) -> JSONResponse:
    message = str(err)
    if isinstance(err, PortalRefused):
        hint = err.hint
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "hint": hint}, status_code=status, headers=headers)


async def _intake(portal: Portal, request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _json_refused(401, "send the organisation's token as Authorization: Bearer TOKEN",
                             "`quarterdeck portal token ORG` makes one")
    try:
        holder = await run_in_threadpool(portal.service.token_holder, token.strip())
    except PortalRefused as err:
        return _json_refused(401, err)
    if not portal.reports.allow(f"token:{holder.token_id}"):
        return _json_refused(429, "too many reports from this token", "wait a few minutes and retry")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _json_refused(415, "the body must be application/json")
    try:
        body = await request.body()
        payload = json.loads(body.decode("utf-8"))
    except TooLarge:
        return _json_refused(413, "the request is too large")
    except (UnicodeDecodeError, ValueError):
        return _json_refused(400, "the body is not JSON")
    try:
        filed = await run_in_threadpool(portal.service.intake, holder, parse_report(payload))
    except PortalRefused as err:
        return _json_refused(422, err)
    except ChannelsError as err:
        return _json_refused(422, str(err), err.hint)
    answer = {"id": filed.problem.id, "status": filed.problem.status, "occurrences": filed.occurrences,
              "duplicate": not filed.new}
    return JSONResponse(answer, status_code=201 if filed.new else 200)


class Refusal(PortalRefused):
    """A request refused with a given HTTP status (a bad form, CSRF, the rate limit)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def make_app(service: PortalService, *, base_url: str, secure_cookies: bool = False,
             trust_proxy: bool = False) -> ASGIApp:
    portal = Portal(service, base_url=base_url, secure_cookies=secure_cookies, trust_proxy=trust_proxy)
    return Guard(Starlette(routes=portal.routes()), MAX_FORM_BYTES)
