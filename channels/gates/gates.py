"""Promotion gates, pure: ledger facts and the time in, one result per gate out.

The pipeline gathers the facts (GateFacts) from the ledger and the clock;
this module only judges them, so `gates`, `promote` and the tests all see
the same verdict for the same facts. Every result carries the facts behind
it in words a release manager can act on ("2 of 3 sign-offs: Acadia
Hospice, Bayou Palliative"), because a bare "failed" invites `--force`.

Which gates run is the tier's GateSettings; the hold gate always runs (a
held build goes nowhere), and gates computed elsewhere (the notice gates)
arrive finished in GateFacts.extra and are reported after these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from channels.audience.contacts import email_problem
from channels.calendar.calendar import format_window
from channels.errors import ChannelsError, SignoffError
from channels.gates.betafacts import OPEN as OPEN
from channels.gates.betafacts import RESOLVED as RESOLVED
from channels.gates.betafacts import SEVERITIES as SEVERITIES
from channels.gates.betafacts import Problem as Problem
from channels.gates.betafacts import SignOff as SignOff
from channels.gates.betafacts import applicable_problems as applicable_problems
from channels.gates.betafacts import aware
from channels.settings import format_duration, is_whole_number, load_zone, show_value, zone_of

HOLD, SOAK, SIGNOFFS, BLOCKERS, WINDOW = "hold", "soak", "signoffs", "blockers", "window"


@dataclass(frozen=True)
class GateSettings:
    """The gates one tier asks of a build before it may enter; a zero or None turns a gate off.

    The notice gates are not here: the notices feature evaluates them itself
    and hands in finished results (GateFacts.extra).
    """

    min_soak: timedelta | None = None
    min_signoffs: int = 0
    no_open_blockers: bool = False
    require_window: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.min_soak is not None and (not isinstance(self.min_soak, timedelta)
                                          or self.min_soak < timedelta(0)):
            problems.append(f"min_soak: {show_value(self.min_soak)} must be a length of time of zero or more")
        if not is_whole_number(self.min_signoffs) or self.min_signoffs < 0:
            problems.append(f"min_signoffs: {self.min_signoffs!r} must be a whole number of zero or more")
        for field in ("no_open_blockers", "require_window"):
            if not isinstance(getattr(self, field), bool):
                problems.append(f"{field}: {getattr(self, field)!r} must be true or false")
        if problems:
            raise ChannelsError("gate settings: " + "; ".join(problems),
                                hint="fix the [gates.TIER] table of the configuration")


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict; `detail` states the facts, not just the outcome."""

    gate: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"gate": self.gate, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class ScheduledPush:
    """The push scheduled for a build, as recorded (a cancelled one is kept, flagged)."""

    start: datetime
    end: datetime
    timezone: str
    cancelled: bool = False

    @property
    def label(self) -> str:
        return format_window(self.start, self.end, self.timezone)


@dataclass(frozen=True)
class Hold:
    """A veto on a build found bad late: no promotion anywhere until released."""

    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class GateFacts:
    """Everything the gates judge, gathered by the pipeline from the ledger; `now` is the clock's."""

    build: str
    build_seq: int
    now: datetime
    timezone: str  # the project zone: dates in details are the release manager's dates
    staged_at: datetime | None = None
    signoffs: tuple[SignOff, ...] = ()
    problems: tuple[Problem, ...] = ()  # all known problems; applicable_problems picks this build's
    schedule: ScheduledPush | None = None
    hold: Hold | None = None
    extra: tuple[GateResult, ...] = ()

    def __post_init__(self) -> None:
        aware(self.now, "now")
        if self.staged_at is not None:
            aware(self.staged_at, "staged_at")
        load_zone(self.timezone)
        for result in self.extra:
            if not isinstance(result, GateResult):
                raise ChannelsError(f"extra gate results must be GateResult values, got {result!r}")

    def local_date(self, moment: datetime) -> str:
        return f"{moment.astimezone(zone_of(self.timezone)):%Y-%m-%d}"


def _hold_gate(facts: GateFacts) -> GateResult:
    if facts.hold is None:
        return GateResult(HOLD, True, "not held")
    hold = facts.hold
    return GateResult(HOLD, False, f"held by {hold.by} since {facts.local_date(hold.at)}: {hold.reason}")


def _soak_gate(need: timedelta, facts: GateFacts) -> GateResult:
    if facts.staged_at is None:
        return GateResult(SOAK, False, f"never reached staging, needs {format_duration(need)}")
    soaked = max(facts.now.astimezone(UTC) - facts.staged_at.astimezone(UTC), timedelta(0))
    return GateResult(SOAK, soaked >= need,
                      f"soaked {format_duration(soaked)} on staging, needs {format_duration(need)}")


def _signoff_gate(need: int, facts: GateFacts) -> GateResult:
    orgs = sorted({signoff.org for signoff in facts.signoffs}, key=str.casefold)
    names = ", ".join(orgs) if orgs else "none yet"
    have = len(orgs)
    counted = (f"{have} of {need} sign-off{'s' if need != 1 else ''}" if have <= need
               else f"{have} sign-offs (needs {need})")
    return GateResult(SIGNOFFS, have >= need, f"{counted}: {names}")


def _blocker_text(problem: Problem, facts: GateFacts) -> str:
    if problem.status == OPEN:
        text = f"blocker #{problem.id} open since {facts.local_date(problem.opened_at)}"
    else:
        text = f"blocker #{problem.id} fixed only in the later build {problem.fixed_in}"
    if problem.build != facts.build:
        text += f", reported against {problem.build}"
    return f"{text} ({problem.org}: {problem.summary})"


def _blocker_gate(facts: GateFacts) -> GateResult:
    applying = applicable_problems(facts.problems, facts.build_seq)
    blockers = [p for p in applying if p.severity == "blocker"]
    if blockers:
        return GateResult(BLOCKERS, False, "; ".join(_blocker_text(p, facts) for p in blockers))
    others = [f"{sum(p.severity == s for p in applying)} {s}" for s in SEVERITIES[1:]
              if any(p.severity == s for p in applying)]
    return GateResult(BLOCKERS, True, "no open blockers" + (f" ({', '.join(others)} open)" if others else ""))


def _window_gate(facts: GateFacts) -> GateResult:
    push = facts.schedule
    if push is None:
        return GateResult(WINDOW, False, "no push is scheduled for this build")
    if push.cancelled:
        return GateResult(WINDOW, False, f"the push in the window {push.label} was cancelled")
    now, start, end = (moment.astimezone(UTC) for moment in (facts.now, push.start, push.end))
    if start <= now < end:
        return GateResult(WINDOW, True, f"now is inside the window {push.label}")
    when = (f"it opens in {format_duration(start - now)}" if now < start
            else f"it closed {format_duration(now - end)} ago")
    return GateResult(WINDOW, False, f"now is outside the window {push.label}; {when}")


def evaluate(settings: GateSettings, facts: GateFacts) -> list[GateResult]:
    """Every gate of the tier, in a fixed order: hold, soak, sign-offs, blockers, window, then extras."""
    results = [_hold_gate(facts)]
    if settings.min_soak is not None:
        results.append(_soak_gate(settings.min_soak, facts))
    if settings.min_signoffs:
        results.append(_signoff_gate(settings.min_signoffs, facts))
    if settings.no_open_blockers:
        results.append(_blocker_gate(facts))
    if settings.require_window:
        results.append(_window_gate(facts))
    results.extend(facts.extra)
    return results


def all_passed(results: Iterable[GateResult]) -> bool:
    return all(result.passed for result in results)


def failing(results: Iterable[GateResult]) -> list[GateResult]:
    """The gates an override would have to name (`--force --reason` records these)."""
    return [result for result in results if not result.passed]


def check_signoff(*, org: str, by: str, build: str, enrolled_orgs: Iterable[str],
                  staged_at: datetime | None, existing: Iterable[SignOff]) -> None:
    """Refuse a sign-off the beta programme does not allow, naming the rule it breaks.

    Only enrolled organisations are beta testers; only a build that reached
    staging was tested there; an organisation signs a build off once (a
    second one would count twice toward the gate).
    """
    problem = email_problem(by.strip())
    if problem:
        raise SignoffError(f"--by: {problem}", hint="give the email address of the person signing off")
    enrolled = set(enrolled_orgs)
    if org not in enrolled:
        raise SignoffError(f"{org} is not enrolled in the beta programme",
                           hint=f'enroll it first: quarterdeck beta enroll "{org}"')
    if staged_at is None:
        raise SignoffError(f"{build} has not reached staging; only a build on staging can be signed off")
    for earlier in existing:
        if earlier.org == org:
            raise SignoffError(f"{org} already signed off {build} ({earlier.by}, "
                               f"{earlier.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
