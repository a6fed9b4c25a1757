"""`quarterdeck demo`: the sample quarter set up in a directory and its script played step by
step, each line a command at its simulated time, a promotion through the promotion API (as
`tick` promotes), a command whose output is a secret kept for a later step, or a visitor over
HTTP.

The steps run the same `quarterdeck` commands a release manager types; pipeline hands in the
command (`main`) and a way to run an action on a fresh App (`in_app`), so this module never
imports it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels import sample
from channels.cli import esc
from releases.errors import UsageRefused

if TYPE_CHECKING:
    from channels.commands_portal import PortalApp
    from channels.settings import CalendarRule

Step = Callable[[list[str]], int]


@dataclass(frozen=True)
class Player:
    """Plays script lines against the demo's configuration, saying each step as it runs it."""

    root: Path
    config: Path
    say: Callable[[str], None]
    main: Step
    in_app: Callable[[list[str], Callable[[PortalApp], int]], int]

    def run(self, argv: list[str], *, at: datetime | None = None, expect: int = 0, step: Step | None = None,
            shown: str | None = None) -> None:
        """One step; the demo stops (UsageRefused) when it ends with another exit code than expected."""
        label = f" [dim](simulated clock: {at:%Y-%m-%d %H:%M} UTC)[/dim]" if at else ""
        shown = shown or "$ quarterdeck " + shlex.join(argv)
        self.say(f"\n[bold cyan]{esc(shown)}[/bold cyan]{label}")
        with environment(QUARTERDECK_NOW=at.isoformat() if at is not None else None):
            code = (step or self.main)(["--config", str(self.config), *argv])
        if code != expect:
            raise UsageRefused(f"demo step `{shown.removeprefix('$ ')}` ended with exit code {code}, "
                               f"expected {expect}")
        if expect:
            self.say(f"[dim](exit code {expect}, as expected at this point of the quarter)[/dim]")

    def play(self, script: list[dict[str, Any]], *, start: datetime, window: datetime,
             local: datetime) -> Path:
        """Every line, with a link secret made for this demo only; returns the file that keeps it.
        `local` is the window's start in the project's zone, for {window} and {training}."""
        import secrets

        secret = self._kept("portal-secret", secrets.token_hex(32))
        with environment(QUARTERDECK_PORTAL_SECRET=secret.read_text(encoding="utf-8")):
            for line in script:
                argv = [token.format(root=self.root, window=local, training=local - timedelta(days=3))
                        for token in shlex.split(line.get("run", ""))]
                at = sample.moment(line["at"], start, window) if "at" in line else None
                self.run(argv, at=at, expect=line.get("expect", 0), step=self._step(line),
                         shown=f"» {sample.visit_label(line)}" if "visit" in line else None)
        return secret

    def _step(self, line: dict[str, Any]) -> Step:
        if "promote" in line:
            return self._promote(line["promote"])
        if "visit" in line:
            return self._visit(line)
        if "keep" in line:
            return self._keep(line["keep"])
        return self.main

    def _promote(self, to: str) -> Step:
        """A `promote latest --to TIER --yes` step, through the promotion API as `tick` promotes."""
        from releases.commands_deploy import promotion_request, run_promotion

        def action(app: PortalApp) -> int:
            request = promotion_request(app, app.resolve_build("latest"), app.config.tier(to))
            return run_promotion(app, request, yes=True)
        return lambda argv: self.in_app(argv, action)

    def _visit(self, line: dict[str, Any]) -> Step:
        """A visitor's step: the beta page or the intake API, served on a loopback port."""
        def action(app: PortalApp) -> int:
            self.say(f"[green]{esc(sample.visit(app, line, self.root))}[/green]")
            return 0
        return lambda argv: self.in_app(argv, action)

    def _keep(self, name: str) -> Step:
        """A command whose output is a secret (a personal link, an API token): kept in a 0600 file
        for a later step, as a release manager would paste it into an email or an installation."""
        def step(argv: list[str]) -> int:
            import io
            from contextlib import redirect_stdout

            with redirect_stdout(io.StringIO()) as output:
                code = self.main(argv)
            kept = self._kept(name, output.getvalue())
            self.say(f"[dim](its output is a secret: kept in {kept}, not shown)[/dim]")
            return code
        return step

    def _kept(self, name: str, text: str) -> Path:
        kept = self.root / sample.KEPT / name
        kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept.touch(mode=0o600)
        kept.write_text(text, encoding="utf-8")
        return kept


def run_demo(root: Path, *, ledger_url: str | None, say: Callable[[str], None], start: datetime, main: Step,
             in_app: Callable[[list[str], Callable[[PortalApp], int]], int],
             rule_of: Callable[[Path], CalendarRule]) -> None:
    """The demo in the empty directory `root`: the application's repository, `init` and the
    sample tiers, contacts and hosts, then the script up to the first push window four weeks on
    (the calendar by `rule_of(config)`), and where to look. `start` is now."""
    from zoneinfo import ZoneInfo

    from channels.audience.contacts import sample_contacts_csv
    from channels.calendar.calendar import next_pushes
    from releases.configfile import toml_string
    from releases.settings import mask_password

    config = root / "quarterdeck.toml"
    say(f"[bold]Quarterdeck demo[/bold] in {root}")
    quarter = sample.demo_quarter()
    sample.make_repository(root / "app", quarter["history"])
    say(f"made the application repository {root / 'app'} (a quarter of conventional commits)")

    player = Player(root, config, say, main, in_app)
    player.run(["init", "--repo", str(root / "app"), "--name", "Hospice Care Suite",
                "--timezone", "America/Chicago"])
    text = config.read_text(encoding="utf-8")
    if ledger_url:
        text = text.replace('url = "sqlite:///.quarterdeck/ledger.db"', f"url = {toml_string(ledger_url)}", 1)
    rest = (text[text.index("[calendar]"):].replace("auto_push = false", "auto_push = true")
            .replace('release_team = ""', 'release_team = "Release Team <releases@localhost>"', 1))
    config.write_text(text[:text.index("[[tiers]]")] + quarter["tiers"].lstrip() + rest, encoding="utf-8")
    (root / "contacts.csv").write_text(sample_contacts_csv(), encoding="utf-8")
    for host in ("dev-1", "dev-2", "staging-1", "staging-2", "production-1", "production-2"):
        (root / "hosts" / host).mkdir(parents=True, exist_ok=True)

    start = start.replace(second=0, microsecond=0)
    window = next_pushes(rule_of(config), start + timedelta(days=28), 1)[0]
    say(f"\nThe demo runs in simulated time up to the next push window, {window.label}.")
    secret = player.play(quarter["script"], start=start, window=window.start,
                         local=window.start.astimezone(ZoneInfo("America/Chicago")))
    say("\n[bold]Where to look[/bold]")
    say(f"  the emails sent:        {root / sample.OUTBOX} (open them in any mail client)")
    say(f"  what runs on each host: {root / 'hosts'}/*/current")
    ledger = mask_password(ledger_url) if ledger_url else root / ".quarterdeck/ledger.db"
    say(f"  the ledger:             {ledger} (`quarterdeck log` reads it)")
    say(f"  the configuration:      {config}")
    say(f"  the beta page:          `quarterdeck serve`, with QUARTERDECK_PORTAL_SECRET from {secret}")


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Environment variables set (None: left as they are) for a block, then restored: the demo's
    simulated clock and its link secret must not outlive it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if value is not None})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
