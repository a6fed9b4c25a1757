"""`quarterdeck serve` as a real process on a loopback port, and what the portal tests share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import Project
from tests.support.sshd import free_port

SECRET = "portal-test-secret-0123456789abcdef0123456789"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(project: Project, *extra: str, said: list[str] | None = None) -> Iterator[str]:
    """The server's base URL while it runs; stopped (by its own process id) afterwards, when what
    it wrote to stderr is added to `said`."""
    port = free_port()
    env = {**os.environ, "QUARTERDECK_PORTAL_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, pipeline; sys.exit(pipeline.main())",
         "--config", str(project.config), "serve", "--port", str(port), *extra],
        cwd=project.root, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/beta", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out, err = proc.communicate(timeout=5)
                    raise AssertionError(f"serve did not start:\n{out}\n{err}") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if said is not None:
            said.append(err)


def link_of(project: Project, email: str, *args: str) -> str:
    url = project.ok("portal", "link", email, *args).out.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", url), url
    return url.removeprefix("http://127.0.0.1:8080")


def visit(base: str, link_path: str) -> httpx.Client:
    """A browser-like client that opened the link: it holds the session cookie."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=10)
    opened = client.get(link_path)
    assert opened.status_code == 303 and opened.headers["location"] == "/beta", opened.text
    return client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def ledger_state(project: Project) -> tuple[object, ...]:
    """What a refused request must leave as it was: the audit trail and the beta evidence."""
    return (project.query("SELECT count(*), max(id) FROM audit"),
            project.query("SELECT id, build_id, org_id, signed_by, note FROM signoffs ORDER BY id"),
            project.query("SELECT id, summary, status, reported_by FROM problems ORDER BY id"))


def set_portal(project: Project, **values: str) -> None:
    """Change keys of the [portal] table init wrote (values are TOML text, e.g. link_days="7")."""
    text = project.config.read_text(encoding="utf-8")
    head = text.index("[portal]")
    table_end = text.find("\n[", head + 1)
    table = text[head:table_end if table_end != -1 else None]
    for key, value in values.items():
        table, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}   ", table)
        assert count == 1, key
    project.config.write_text(text[:head] + table + (text[table_end:] if table_end != -1 else ""),
                              encoding="utf-8")
