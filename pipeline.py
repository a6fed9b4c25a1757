"""The `quarterdeck` command: reads the configuration, wires the packages together, renders results.

Only this module reads the configuration file and decides exit codes; the
packages take plain values and raise their own errors, which `main` turns
into one red line with a hint.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releases import configfile, registry
from releases.configfile import Config, ConfigError, Layout, find_config_path, problems_error, toml_string
from releases.errors import GatesRefused, HintedError, UsageRefused
from releases.registry import add_command, command, resolve
from releases.settings import Spec

if TYPE_CHECKING:  # the App's values, typed without importing their packages at start-up
    from datetime import datetime

    from rich.console import Console
    from sqlalchemy import Connection

    from channels.calendar.calendar import PushWindow
    from channels.gates.beta import ProblemRecord
    from channels.gates.betaview import BetaSummary
    from channels.gates.gates import GateResult, GateSettings
    from channels.portal.access import ContactLinks
    from channels.settings import CalendarRule
    from notes.settings import NotesSettings
    from notify.content.notes_input import NoticeNotes
    from notify.settings import NotifySettings
    from releases.artifacts.artifact import ArtifactStore
    from releases.artifacts.buildview import Build
    from releases.hosts.remote import ConnectSettings
    from releases.records.ledger import Ledger
    from releases.records.reads import Rows

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_GATES = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a tool stopped by SIGPIPE


def exit_code(exc: BaseException) -> int:
    """The one table from error to exit code: 2 the command line is wrong, 3 gates refused,
    1 any other failure the packages report."""
    table: tuple[tuple[type[BaseException], int], ...] = (
        (UsageRefused, EXIT_USAGE), (GatesRefused, EXIT_GATES))
    return next((code for kind, code in table if isinstance(exc, kind)), EXIT_ERROR)


# ---------------------------------------------------------------- the command line
#
# The registry is releases.registry; pipeline's own commands register first, then each
# package's list, in this order.

COMMAND_MODULES = ["releases.commandline", "notify.commandline", "channels.commandline", "notes.commandline"]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    return registry.build_parser(COMMAND_MODULES, _group_help, argv)


def _group_help(app: App, args: argparse.Namespace) -> int:
    """A command group run without its subcommand: what it offers, as a usage error."""
    args.parser.print_help()
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args_list or "--verbose" in args_list
    app: App | None = None
    try:
        parser = build_parser(args_list)
        args = parser.parse_args(args_list)
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return EXIT_USAGE
        app = App(args, args_list)
        return args.handler(app, args) or EXIT_OK
    except KeyboardInterrupt:
        _console(app).print("[red]interrupted[/red]")
        return 130
    except BrokenPipeError:
        # The reader went away (`builds --json | head -1`): stop quietly, as Unix tools do, and
        # keep Python from complaining again when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        return _failed(_console(app), exc, verbose)
    finally:
        if app is not None:
            app.close()


def _console(app: App | None) -> Console:
    return app.err if app is not None else _stderr()


def _failed(err: Console, exc: Exception, verbose: bool) -> int:
    """One red line (and a hint) for what went wrong; the exit code says what kind of failure."""
    if not _is_domain_error(exc):
        err.print(f"[red]error:[/red] unexpected {type(exc).__name__}: {_escape(str(exc))}")
        err.print("  this is a bug in quarterdeck; run again with -v and report the traceback")
        if verbose:
            err.print(_traceback(), markup=False)
        return EXIT_ERROR
    _report(err, exc, verbose)
    return exit_code(exc)


def domain_errors() -> tuple[type[Exception], ...]:
    """The errors packages (and the configuration) raise on purpose, with a message for people."""
    from notes.errors import NotesError

    return (HintedError, NotesError)


def _is_domain_error(exc: BaseException) -> bool:
    return isinstance(exc, domain_errors())


def _stderr() -> Console:

    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def _traceback() -> str:
    import traceback  # only for -v and bugs: every start would pay for it otherwise

    return traceback.format_exc()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _report(err: Console, exc: BaseException, verbose: bool) -> None:
    err.print(f"[red]error:[/red] {_escape(str(exc))}")
    hint = getattr(exc, "hint", None)
    if hint:
        err.print(f"  [dim]hint:[/dim] {_escape(hint)}")
    if verbose:
        err.print(_traceback(), markup=False)


# ---------------------------------------------------------------- configuration
#
# The file is read by releases.configfile; which tables it has, and whose keys each holds,
# is composed here from the packages that own them.

def section_specs() -> dict[str, Spec]:
    """The keys of every table each command reads, from the package that owns each."""
    from channels import settings as channels
    from releases import settings as releases

    return {"project": {**releases.PROJECT, **channels.PROJECT}, "build": releases.BUILD,
            "ledger": releases.LEDGER, "artifacts": releases.ARTIFACTS, "backup": releases.BACKUP,
            "ssh": releases.SSH, "calendar": channels.CALENDAR}


# Tables checked when first read (Config.section), so that a command that never reads them
# (`status`) never loads their packages; `config check` and `config show` read every one.
DEFERRED = {"notify": "notify.settings:NOTIFY", "notes": "notes.settings:NOTES",
            "portal": "channels.portal.settings:PORTAL"}


def deferred_spec(name: str) -> Spec:
    spec: Spec = resolve(DEFERRED[name])
    return spec


def tier_spec() -> Spec:
    """A [[tiers]] table's keys: releases' deploy keys with channels' `channel` after the name."""
    from channels.settings import TIER as CHANNEL_KEYS
    from releases.settings import TIER as DEPLOY_KEYS

    name, *deploy = DEPLOY_KEYS.items()
    return dict([name, *CHANNEL_KEYS.items(), *deploy])


def layout() -> Layout:
    from channels.settings import GATES

    deferred = {name: partial(deferred_spec, name) for name in DEFERRED}
    return Layout(sections=section_specs(), deferred=deferred, tier=tier_spec(), gates=GATES)


def load_config(path: Path, *, check_repo: bool = True, defer: bool = True) -> Config:
    """The checked file; with `defer`, the DEFERRED tables are checked when first read."""
    return configfile.load_config(path, layout(), check_repo=check_repo, defer=defer)


# ---------------------------------------------------------------- wiring

class App:
    """What a command needs, built on first use so cheap commands stay cheap."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        self.argv = argv
        self.json = bool(getattr(args, "json", False))
        self._config: Config | None = None
        self._ledger: Ledger | None = None
        self._clock: Callable[[], datetime] | None = None

    @property
    def config_path(self) -> Path:
        return find_config_path(getattr(self.args, "config", None))

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def clock(self) -> Callable[[], datetime]:
        """UTC now; QUARTERDECK_NOW pins it for the demo's simulated weeks and for tests."""
        if self._clock is None:
            from datetime import UTC, datetime

            pinned = os.environ.get("QUARTERDECK_NOW")
            if pinned:
                try:
                    fixed = datetime.fromisoformat(pinned)
                except ValueError:
                    raise UsageRefused(f"QUARTERDECK_NOW={pinned!r} is not an ISO-8601 time") from None
                if fixed.tzinfo is None:
                    raise UsageRefused(f"QUARTERDECK_NOW={pinned!r} needs a UTC offset, e.g. +00:00")
                self._clock = lambda: fixed.astimezone(UTC)
            else:
                self._clock = lambda: datetime.now(UTC)
        return self._clock

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from releases.records.ledger import Actor, Ledger

            self._ledger = Ledger(self.config.ledger_url, ledger_schemas(),
                                  actor=Actor(who=actor_name(self.config.repo), command=self.command_line),
                                  clock=self.clock)
        return self._ledger

    @cached_property
    def out(self) -> Console:
        """Rich's console, imported when first printed to: --json and --help never load Rich's.

        No emoji: a commit subject or host name with `:name:` in it is shown as written, and
        Rich's emoji table is not loaded on every run."""
        from rich.console import Console

        return Console(highlight=False, emoji=False)

    @cached_property
    def err(self) -> Console:
        return _stderr()

    @property
    def command_line(self) -> str:
        return " ".join(["quarterdeck", *self.argv])[:200]

    def emit_json(self, payload: Any) -> None:
        import json

        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")

    def confirm(self, question: str, yes: bool) -> bool:
        """Ask before acting, but never wait for input that cannot come."""
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageRefused(f"{question} needs confirmation and there is no terminal",
                               hint="run again with --yes")
        from rich.prompt import Confirm

        return Confirm.ask(question, console=self.err, default=False)

    def next_push(self) -> PushWindow | None:
        """The next quarterly push window after now, from the configured calendar."""
        from channels.calendar.calendar import next_pushes

        windows = next_pushes(calendar_rule(self.config), self.clock(), 1)
        return windows[0] if windows else None

    def beta_summary(self) -> BetaSummary | None:
        """What `status` shows of the beta: its build's sign-offs and problems (channels' reads,
        through sqlite3 on a SQLite ledger like the rest of status)."""
        from channels.gates.betaview import SCHEMA_VERSION, beta_summary

        tier = self.config.tier_serving("beta")
        if tier is None:
            return None
        with self.ledger_rows({"channels": SCHEMA_VERSION}) as rows:
            return beta_summary(rows, tier.name)

    # Hooks: values that need the configuration or another package, so that a
    # package's commands can ask for them without importing what it must not.

    @property
    def store(self) -> ArtifactStore:
        from releases.artifacts.shared import artifact_store

        return artifact_store(self.config.artifacts_dir, self.ledger)

    def calendar_rule(self) -> CalendarRule:
        return calendar_rule(self.config)

    def gate_settings(self, tier: str) -> GateSettings:
        """The [gates.TIER] table as channels' GateSettings (notice gates are evaluated apart)."""
        from channels.settings import gate_settings

        return gate_settings(self.config.gates.get(self.config.tier(tier).name, {}))

    def resolve_build(self, spec: str) -> Build:
        from releases.commands import resolve_build

        return resolve_build(self, spec)

    def notes_settings(self) -> NotesSettings:
        from notes.settings import from_table

        return from_table(self.config.section("notes"), self.config.base_dir)

    def notify_settings(self) -> NotifySettings:
        from notify.settings import NotifySettings

        return NotifySettings.from_config(self.config.section("notify"), self.config.base_dir)

    def connect_settings(self) -> ConnectSettings:
        from releases.settings import connect_settings

        return connect_settings(self.config.sections["ssh"], self.config.base_dir)

    def tier_commit(self, channel: str) -> str | None:
        """The commit of the build running on the tier that serves `channel`, if one runs there."""
        from releases.artifacts.buildview import newest_running

        tier = self.config.tier_serving(channel)
        if tier is None:
            return None
        with self.ledger_rows() as rows:
            running = newest_running(rows, tier.name)  # a mixed tier: the newest build
        return running.commit if running else None

    @contextmanager
    def ledger_rows(self, others: Mapping[str, int] | None = None) -> Iterator[Rows]:
        """One read of the ledger, with the schemas named in `others` ({component: version}) current:
        releases.records.reads' runner, through sqlite3 on a SQLite ledger (no SQLAlchemy), else
        the ledger's."""
        from releases.records.reads import reading

        with reading(self.config.ledger_url, lambda: self.ledger, others) as rows:
            yield rows

    def promotion_gates(self, build: Build, tier: str) -> list[GateResult]:
        """Every gate the build must pass to enter the tier: channels' gates plus the notice gates."""
        from channels.gates.evidence import promotion_gates

        extra: list[Any] = []
        if self.config.gates.get(tier, {}).get("advance_notice"):
            from notify.gates import notice_gates

            extra = list(notice_gates(self, build))
        return promotion_gates(self, build, tier, extra=extra)

    def record_override(self, build: Build, tier: str, gates: list[str], reason: str) -> None:
        """Record which failing gates `--force` overrode, by whom and why."""
        from channels.store import record_override

        with self.ledger.write() as conn:
            record_override(self.ledger, conn, build.id, tier, gates, reason)

    def tier_commit_before(self, channel: str, build_id: str) -> str | None:
        """The commit of the build that ran on the channel's tier before `build_id` arrived there."""
        from releases.artifacts.buildview import build_before, get_build

        tier = self.config.tier_serving(channel)
        if tier is None:
            return None
        with self.ledger_rows() as rows:
            before = build_before(rows, tier.name, build_id)
            found = get_build(rows, before) if before else None
        return found.commit if found else None

    def notice_notes(self, build: Build, audience: str) -> NoticeNotes:
        """The notes a notice carries: approved text while the approval stands, else generated."""
        import dataclasses

        from notes.review.workflow import notes_for_notice
        from notify.content.notes_input import NoticeNotes

        return NoticeNotes(**dataclasses.asdict(notes_for_notice(self, build, audience)))

    def beta_trainings(self, build_id: str, zone: str) -> list[dict[str, Any]]:
        """A build's training sessions as the beta page lists them, in the contact's zone."""
        from notify.content.training import trainings_for_reader

        with self.ledger.read() as conn:
            return trainings_for_reader(conn, build_id, zone=zone, project_zone=self.config.timezone,
                                        now=self.clock())

    def personal_links(self, conn: Connection, issued_at: datetime) -> ContactLinks | None:
        """Each beta contact's own link as issued at a notice's creation (None: no link secret set)."""
        from channels.commands_portal import portal_settings
        from channels.portal.access import contact_links

        return contact_links(conn, portal_settings(self), issued_at)

    def after_promotion(self, build: Build, tier: str) -> None:
        from notify.followups import after_promotion

        after_promotion(self, build, tier, domain_errors())

    def after_schedule_change(self, build: Build, send: bool | None) -> dict[str, object] | None:
        """The notice a moved or cancelled push now owes its readers (notify says which, and sends it)."""
        from notify.rescheduling import announce_schedule_change

        return announce_schedule_change(self, build, send)

    def after_problem_report(self, problem: ProblemRecord) -> None:
        """A new blocker's alert to the release team, after the report committed (notify sends it)."""
        from notify.followups import alert_release_team

        alert_release_team(self, problem, domain_errors())

    def problem_alert_gap(self) -> str | None:
        """Why a reported blocker would email nobody, said once by `config check` and `serve`."""
        from notify.settings import release_team_gap

        return release_team_gap(self.notify_settings())

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


def calendar_rule(config: Config) -> CalendarRule:
    """The [calendar] table as the channels package's CalendarRule value."""
    from channels.settings import calendar_rule as rule_of

    return rule_of(config.sections["calendar"], config.timezone)


def ledger_schemas() -> list[Any]:
    """Every package's tables; the ledger creates or upgrades each on open."""
    from channels.portal.store import SCHEMA as portal_schema
    from channels.store import SCHEMA as channels_schema
    from notes.review import store as notes_store
    from notify import store as notify_store
    from releases.artifacts.shared import SCHEMA as artifacts_schema
    from releases.records.ledger import Schema
    from releases.records.schema import SCHEMA as releases_schema

    return [releases_schema, artifacts_schema, channels_schema,
            notify_store.SCHEMA, portal_schema,
            Schema("notes", notes_store.SCHEMA_VERSION, (notes_store.metadata,))]


def actor_name(repo: Path | None = None) -> str:
    """Who acts, for the audit trail: git's user.email, else the login name."""
    import getpass

    from releases.artifacts.gitrepo import git_identity

    return git_identity(repo if repo and repo.exists() else None) or getpass.getuser()


# ---------------------------------------------------------------- init and config

INIT_HEADER = """\
# Quarterdeck configuration. Paths are relative to this file.
# `quarterdeck config check` lists every problem; `quarterdeck config show` prints the result.

"""


def init_template() -> str:
    """The file `init` writes: each package's commented block, in the order people read them."""
    from channels.portal.settings import INIT as PORTAL
    from channels.settings import INIT_GATES_CALENDAR
    from notes.settings import INIT as NOTES
    from notify.settings import INIT as NOTIFY
    from releases.settings import INIT_BACKUP, INIT_PROJECT, INIT_TIERS

    return "".join((INIT_HEADER, INIT_PROJECT, INIT_TIERS, INIT_GATES_CALENDAR, NOTIFY, NOTES, PORTAL,
                    INIT_BACKUP))


def _setup_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, help="the application's git repository")
    p.add_argument("--name", help="project name (default: the repository's directory name)")
    p.add_argument("--timezone", default="UTC", help="IANA time zone of the maintenance windows")
    p.add_argument("--force", action="store_true", help="overwrite an existing quarterdeck.toml")


@command("init", "write a commented quarterdeck.toml here and create .quarterdeck/", _setup_init)
def cmd_init(app: App, args: argparse.Namespace) -> int:
    target = Path(args.config) if args.config else Path.cwd() / "quarterdeck.toml"
    if target.exists() and not args.force:
        raise UsageRefused(f"{target} already exists", hint="pass --force to overwrite it")
    from channels.settings import zone_problem
    from releases.settings import looks_like_git_repo

    repo = Path(args.repo).expanduser().resolve()
    if not looks_like_git_repo(repo):
        raise ConfigError(f"--repo {args.repo}: {repo} is not a git repository")
    zone = zone_problem(args.timezone)
    if zone:
        raise UsageRefused(f"--timezone: project.timezone: {zone}",
                         hint="the zone of the maintenance windows, e.g. --timezone America/Chicago")
    base = target.resolve().parent
    try:
        repo_text = os.path.relpath(repo, base)
    except ValueError:
        repo_text = str(repo)
    text = init_template().format(name=toml_string(args.name or repo.name), repo=toml_string(repo_text),
                                  timezone=toml_string(args.timezone))
    state = base / ".quarterdeck"
    for sub in ("artifacts", "hosts/dev-1", "hosts/staging-1", "hosts/production-1",
                "hosts/production-2", "outbox/new", "outbox/cur", "outbox/tmp", "backups"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".toml.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)
    load_config(target)  # the template must always pass its own check
    app.out.print(f"wrote [bold]{target}[/bold] and {state}/")
    app.out.print("next: [bold]quarterdeck config check[/bold], then [bold]quarterdeck build[/bold]")
    return EXIT_OK


add_command("config", "check or show the configuration")


@command("check", "validate the configuration and list every problem", parent="config")
def cmd_config_check(app: App, args: argparse.Namespace) -> int:
    config = app._config = load_config(app.config_path, defer=False)
    problems: list[str] = []
    from notify.settings import check_in_use

    builders: list[Callable[[], Any]] = [app.calendar_rule, app.notes_settings,
                                         lambda: check_in_use(app.notify_settings()),
                                         app.connect_settings]
    builders += [partial(app.gate_settings, tier) for tier in config.gates]
    for build in builders:  # what a later command builds, built now: its checks are the same
        try:
            build()
        except Exception as exc:
            if not _is_domain_error(exc):
                raise
            hint = getattr(exc, "hint", None)
            problems.append(str(exc) + (f" ({hint})" if hint else ""))
    if problems:
        raise problems_error(config.path, problems)
    from channels.commands_portal import portal_settings
    from releases.hosts.hostspec import local_directory_missing

    # Warnings: alerts are a choice, and links to this machine suit a demo; the rest is fine.
    for gap in (app.problem_alert_gap(), portal_settings(app).link_base_gap()):
        if gap:
            app.err.print(f"[yellow]warning:[/yellow] {_escape(gap)}")
    for tier in config.tiers:  # a warning: the directory may yet be made before the first rollout
        for index, missing in enumerate(map(local_directory_missing, tier.hosts)):
            if missing is not None:
                app.err.print(f"[yellow]warning:[/yellow] tiers.{tier.name}.hosts[{index}]: "
                              f"{_escape(str(missing))} ({_escape(missing.hint or '')})")
    app.out.print(f"[green]ok[/green] {config.path}: {len(config.tiers)} tiers "
                  f"({' → '.join(config.tier_names())}), "
                  f"{sum(len(t.hosts) for t in config.tiers)} hosts")
    return EXIT_OK


@command("show", "print the resolved configuration as TOML, secrets masked", parent="config", json=True)
def cmd_config_show(app: App, args: argparse.Namespace) -> int:
    data = app.config.masked()
    if app.json:
        app.emit_json(data)
        return EXIT_OK
    import tomli_w  # a TOML writer: what is shown can be pasted back into quarterdeck.toml

    sys.stdout.write(f"# {app.config.path}, resolved: every default filled in, secrets masked\n\n")
    sys.stdout.write(tomli_w.dumps(_without_unset(data), multiline_strings=True))
    return EXIT_OK


def _without_unset(value: Any) -> Any:
    """TOML has no null: a key with no value is left out, as it would be in the file."""
    if isinstance(value, dict):
        return {k: _without_unset(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_unset(v) for v in value]
    return value




# ---------------------------------------------------------------- tick: scheduled work

TICK_LEASE_MINUTES = 30


@command("tick", "do the scheduled work that is due: notices, reminders, the push (for cron)", json=True)
def cmd_tick(app: App, args: argparse.Namespace) -> int:
    """Idempotent by construction: every action it takes is one the ledger shows as done, so a
    second tick finds nothing left; a window that closed unattended is reported, never started."""
    from datetime import timedelta

    from channels.calendar.duepushes import run_due_pushes
    from notify.followups import send_due_notices
    from releases.errors import LockError
    from releases.tiers.deployments import acquire_lock, break_lock, current_lock, release_lock

    lease = timedelta(minutes=TICK_LEASE_MINUTES)
    try:
        lock = acquire_lock(app.ledger, "tick", lease, audited=False)
    except LockError:
        with app.ledger.read() as conn:
            held = current_lock(conn, "tick")
        if held is None or held.lease_until > app.clock():
            since = f" since {held.acquired_at:%Y-%m-%d %H:%M} UTC" if held else ""
            if app.json:
                app.emit_json({"ran": False, "actions": [], "busy": f"another tick is running{since}"})
            else:
                app.out.print(f"another tick is running{since}; nothing done")
            return EXIT_OK
        break_lock(app.ledger, "tick", "the previous tick's lease expired (killed or machine down)")
        lock = acquire_lock(app.ledger, "tick", lease, audited=False)
    try:
        actions = run_due_pushes(app, domain_errors()) + send_due_notices(app)
    finally:
        release_lock(app.ledger, lock, audited=False)
    if app.json:
        app.emit_json({"ran": True, "actions": [a.as_dict() for a in actions]})
    elif not actions:
        app.out.print("tick: nothing is due")
    else:
        for action in actions:
            colour = {"done": "green", "failed": "red", "missed": "red"}.get(action.outcome, "yellow")
            app.out.print(f"[{colour}]{action.outcome}[/{colour}] {action.what}: {_escape(action.detail)}")
    return EXIT_ERROR if any(a.failed for a in actions) else EXIT_OK


# ---------------------------------------------------------------- the demo

def _setup_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="quarterdeck-demo",
                   help="an empty or new directory to build the demo in (default ./quarterdeck-demo)")
    p.add_argument("--ledger-url", metavar="URL",
                   help="run the quarter on this ledger, e.g. an empty PostgreSQL database "
                        "(postgresql://USER@HOST/DB); default: a SQLite ledger in the directory")


@command("demo", "run a whole quarter on local hosts: build, beta, notes, notices, the push", _setup_demo)
def cmd_demo(app: App, args: argparse.Namespace) -> int:
    """The main job end to end on the embedded defaults, driving the same commands a release
    manager types; simulated weeks pass by pinning QUARTERDECK_NOW, and it says so."""
    from channels.sample_script import run_demo

    root = Path(args.dir).resolve()
    if root.exists() and any(root.iterdir()):
        raise UsageRefused(f"--dir {root} is not empty", hint="give a new or empty directory")
    root.mkdir(parents=True, exist_ok=True)
    run_demo(root, ledger_url=args.ledger_url, say=app.out.print, start=app.clock(), main=main,
             in_app=partial(_in_app, root / "quarterdeck.toml"),
             rule_of=lambda path: calendar_rule(load_config(path)))
    return EXIT_OK


def _in_app(config: Path, argv: list[str], action: Callable[[App], int]) -> int:
    """A demo step run on its own App, as a separate command would be (and failing as one)."""
    step_app = App(argparse.Namespace(config=str(config), json=False), argv)
    try:
        return action(step_app)
    except Exception as exc:
        return _failed(step_app.err, exc, False)
    finally:
        step_app.close()


if __name__ == "__main__":
    sys.exit(main())
