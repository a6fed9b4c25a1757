"""`serve` and `portal`: the beta testers' own page and its personal links and API tokens.

The web stack (Starlette, uvicorn) is imported inside `serve` only: every other command starts
without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from channels.app import ChannelsApp
from channels.cli import esc

if TYPE_CHECKING:
    from channels.portal.service import NotesView
    from channels.portal.settings import PortalSettings
    from releases.artifacts.buildview import Build

BETA_NOTES = "beta"  # the notes audience of the beta channel (notify.content.notes_input.BETA)


class PortalApp(ChannelsApp, Protocol):
    """What `serve` needs besides channels': a build's notes for an audience, as notices carry them,
    and its training sessions as a reader in a zone sees them (both notify's); from ChannelsApp,
    what follows a problem report."""

    def notice_notes(self, build: Build, audience: str) -> NotesView: ...

    def beta_trainings(self, build_id: str, zone: str) -> Sequence[Mapping[str, Any]]: ...


def portal_settings(app: ChannelsApp) -> PortalSettings:
    from channels.portal.settings import PortalSettings

    return PortalSettings.from_table(app.config.section("portal"))


# ---------------------------------------------------------------- portal link / revoke / token

def _setup_contact(p: argparse.ArgumentParser) -> None:
    p.add_argument("email", metavar="EMAIL", help="the contact's email address")
    p.add_argument("--org", help="the organisation, when the address is a contact of several")


def cmd_portal_link(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.portal.access import issue_link

    signer = portal_settings(app).signer()
    with app.ledger.write() as conn:
        org, url, grant = issue_link(app.ledger, conn, signer, email=args.email, org_name=args.org)
    if app.json:
        app.emit_json({"organisation": org, "email": args.email.strip(), "url": url,
                       "expires": grant.expires.isoformat()})
        return 0
    app.out.print(url, markup=False, soft_wrap=True)
    app.err.print(f"[dim]{esc(args.email.strip())} of {esc(org)}; expires "
                  f"{grant.expires:%Y-%m-%d %H:%M} UTC[/dim]")
    return 0


def cmd_portal_revoke(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.portal.access import revoke_links

    with app.ledger.write() as conn:
        org, email = revoke_links(app.ledger, conn, email=args.email, org_name=args.org)
    app.out.print(f"every link of {esc(email)} ({esc(org)}) so far is revoked, and the sessions they "
                  "opened; `quarterdeck portal link` makes a new one")
    return 0


def _setup_token(p: argparse.ArgumentParser) -> None:
    p.add_argument("org", metavar="ORG", help="the organisation whose installation reports problems")


def cmd_portal_token(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.portal.access import new_token

    with app.ledger.write() as conn:
        org, token = new_token(app.ledger, conn, args.org)
    app.out.print(token, markup=False)
    app.err.print(f"[dim]an API token for {esc(org)}: shown once, kept only as its hash[/dim]")
    return 0


# ---------------------------------------------------------------- serve

def _setup_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: "
                                                       "put a reverse proxy with TLS in front)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure: visitors always come over TLS")


def portal_web(app: PortalApp, *, secure_cookies: bool) -> Any:
    """The beta page and the intake API on this App's ledger, as an ASGI app: what `serve` runs
    (and what the demo's sample visitors reach)."""
    from channels.gates.evidence import beta_tier, tier_after
    from channels.portal.service import PortalService
    from channels.portal.web import make_app

    settings = portal_settings(app)
    beta = beta_tier(app.config)
    service = PortalService(ledger=app.ledger, secret=settings.secret(), beta_tier=beta,
                            push_tier=tier_after(app.config.tiers, beta),
                            default_zone=app.config.timezone, rule=app.calendar_rule(),
                            notes=lambda build: app.notice_notes(app.resolve_build(build), BETA_NOTES),
                            trainings=app.beta_trainings, after_report=app.after_problem_report)
    return make_app(service, base_url=settings.base_url, secure_cookies=secure_cookies,
                    trust_proxy=settings.trust_proxy)


def cmd_serve(app: PortalApp, args: argparse.Namespace) -> int:
    import uvicorn

    from channels.portal.web import SERVER_OPTIONS

    gap = app.problem_alert_gap()
    if gap:
        app.err.print(f"[yellow]warning:[/yellow] {esc(gap)}")
    web = portal_web(app, secure_cookies=args.secure_cookies)
    app.err.print(f"serving the beta page on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    uvicorn.run(web, host=args.host, port=args.port, **SERVER_OPTIONS)
    return 0
