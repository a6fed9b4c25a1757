"""The sample quarter's visitors to `serve`, over real HTTP on a loopback port: a beta tester who
opens her personal link and signs off, and a hospice's installation that reports a problem
through the intake API. The demo runs them so the quarter it shows has feedback that came in
on its own, as it does in a real beta.

They use only the standard library's HTTP client, as any browser or installation would reach
the server: nothing here knows the server's internals.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, Request, build_opener

from channels.errors import ChannelsError

START_SECONDS = 20


class VisitFailed(ChannelsError):
    """The server refused or misunderstood a sample visit; the message says what it answered."""


@contextmanager
def serving(web: Any) -> Iterator[str]:
    """`web` (the ASGI app `serve` runs) served by uvicorn on a free loopback port in a thread,
    for as long as the block runs; yields its base URL."""
    import uvicorn

    from channels.portal.web import SERVER_OPTIONS

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web, lifespan="off", **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise VisitFailed("the beta page's server did not start on 127.0.0.1")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_SECONDS)
        sock.close()


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    if found is None:
        raise VisitFailed(f"the beta page has no {name!r} field to sign off with")
    return found.group(1)


def sign_off(base: str, link: str, note: str) -> str:
    """Open a personal link (its path, on the server at `base`) and press Sign off with `note`,
    as a contact does in their browser; returns the build the page showed and they signed."""
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    path = urlsplit(link).path
    try:
        with opener.open(base + path, timeout=30) as answer:  # 303 to /beta, with the session cookie
            page = answer.read().decode("utf-8")
        build = _field(page, "build")
        form = urlencode({"csrf": _field(page, "csrf"), "build": build, "note": note}).encode()
        request = Request(base + "/beta/signoff", data=form, method="POST",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        with opener.open(request, timeout=30) as answer:
            after = answer.read().decode("utf-8")
    except HTTPError as err:
        raise VisitFailed(f"the beta page answered {err.code}: {_said(err)}") from None
    if 'class="signed"' not in after:
        raise VisitFailed("the beta page did not show the sign-off after it was sent")
    return build


def report_problem(base: str, token: str, report: dict[str, Any]) -> dict[str, Any]:
    """POST one report to the intake API with the installation's token; the API's answer."""
    request = Request(base + "/api/v1/problems", data=json.dumps(report).encode("utf-8"), method="POST",
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with build_opener().open(request, timeout=30) as answer:
            filed: dict[str, Any] = json.loads(answer.read())
    except HTTPError as err:
        raise VisitFailed(f"the problem intake API answered {err.code}: {_said(err)}") from None
    return filed


def _said(err: HTTPError) -> str:
    """The API's own words ({"error": ...}), else the status's reason (a page is HTML)."""
    if err.headers.get_content_type() == "application/json":
        try:
            return str(json.loads(err.read()).get("error"))[:300]
        except (ValueError, AttributeError):
            pass
    return str(err.reason)
