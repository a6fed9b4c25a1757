"""Promotion gates with a fixed clock: each gate passing and failing, problems carried forward, holds."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.errors import ChannelsError, SignoffError
from channels.gates.gates import (
    GateFacts,
    GateResult,
    GateSettings,
    Hold,
    Problem,
    ScheduledPush,
    SignOff,
    all_passed,
    applicable_problems,
    check_signoff,
    evaluate,
    failing,
)
from channels.settings import format_duration

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 14, 23, 0, tzinfo=CHICAGO)  # an hour into the November push
WINDOW = ScheduledPush(start=datetime(2026, 11, 14, 22, 0, tzinfo=CHICAGO),
                       end=datetime(2026, 11, 15, 2, 0, tzinfo=CHICAGO), timezone="America/Chicago")
PRODUCTION = GateSettings(min_soak=timedelta(days=7), min_signoffs=3, no_open_blockers=True,
                          require_window=True)
BUILD, BUILD_SEQ = "2026.4.0+b7", 7


def facts(**changes: object) -> GateFacts:
    """A build that passes every production gate at NOW; tests change one fact at a time."""
    base = GateFacts(
        build=BUILD, build_seq=BUILD_SEQ, now=NOW, timezone="America/Chicago",
        staged_at=NOW - timedelta(days=10),
        signoffs=tuple(SignOff(org, f"lead@{org.split()[0].lower()}.example", NOW - timedelta(days=2))
                       for org in ("Bayou Palliative", "Acadia Hospice", "Cascade Hospice")),
        schedule=WINDOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def problem(id: int, severity: str = "blocker", *, seq: int = BUILD_SEQ, status: str = "open",
            fixed_in_seq: int | None = None, opened: datetime = datetime(2026, 10, 2, 15, 0, tzinfo=UTC),
            ) -> Problem:
    return Problem(id=id, severity=severity, status=status, opened_at=opened,
                   summary="medication chart does not save", org="Acadia Hospice",
                   build=f"2026.4.0+b{seq}", build_seq=seq,
                   fixed_in=None if fixed_in_seq is None else f"2026.4.0+b{fixed_in_seq}",
                   fixed_in_seq=fixed_in_seq)


def gate(results: list[GateResult], name: str) -> GateResult:
    [found] = [r for r in results if r.gate == name]
    return found


def test_everything_passes() -> None:
    results = evaluate(PRODUCTION, facts())
    assert results == [
        GateResult("hold", True, "not held"),
        GateResult("soak", True, "soaked 10 days on staging, needs 7 days"),
        GateResult("signoffs", True, "3 of 3 sign-offs: Acadia Hospice, Bayou Palliative, Cascade Hospice"),
        GateResult("blockers", True, "no open blockers"),
        GateResult("window", True,
                   "now is inside the window 2026-11-14 22:00–02:00 next day America/Chicago"),
    ]
    assert all_passed(results) and failing(results) == []
    assert json.loads(json.dumps([r.as_dict() for r in results]))[0] == {
        "gate": "hold", "passed": True, "detail": "not held"}


def test_no_gates_configured_still_checks_the_hold() -> None:
    assert evaluate(GateSettings(), facts()) == [GateResult("hold", True, "not held")]


def test_held_build_is_refused_whatever_else_passes() -> None:
    held = facts(hold=Hold("data loss on save found by Bayou", "ops@quarterdeck.example",
                           datetime(2026, 11, 13, 3, 0, tzinfo=UTC)))
    for settings in (PRODUCTION, GateSettings()):
        results = evaluate(settings, held)
        assert results[0] == GateResult("hold", False, "held by ops@quarterdeck.example since 2026-11-12: "
                                                       "data loss on save found by Bayou")
        assert not all_passed(results)
        assert [r.gate for r in failing(results)] == ["hold"]


class TestSoak:
    def test_too_short(self) -> None:
        result = gate(evaluate(PRODUCTION, facts(staged_at=NOW - timedelta(days=3, hours=4, minutes=59))),
                      "soak")
        assert result == GateResult("soak", False, "soaked 3 days 4 hours on staging, needs 7 days")

    def test_exactly_enough_and_one_second_short(self) -> None:
        assert gate(evaluate(PRODUCTION, facts(staged_at=NOW - timedelta(days=7))), "soak").passed
        short = gate(evaluate(PRODUCTION, facts(staged_at=NOW - timedelta(days=7) + timedelta(seconds=1))),
                     "soak")
        assert short == GateResult("soak", False, "soaked 6 days 23 hours on staging, needs 7 days")

    def test_measured_in_real_time_across_the_clock_change(self) -> None:
        # Staged 2026-10-31 23:30 CDT: by the wall clock NOW is 13 days 23.5 hours later, but the
        # clocks went back on 1 November, so 14 days and 30 minutes have really passed.
        staged = datetime(2026, 10, 31, 23, 30, tzinfo=CHICAGO)
        settings = replace(PRODUCTION, min_soak=timedelta(days=14, minutes=15))
        assert gate(evaluate(settings, facts(staged_at=staged)), "soak") == GateResult(
            "soak", True, "soaked 14 days on staging, needs 14 days")
        stricter = replace(PRODUCTION, min_soak=timedelta(days=14, minutes=45))
        assert not gate(evaluate(stricter, facts(staged_at=staged)), "soak").passed

    def test_never_staged(self) -> None:
        assert gate(evaluate(PRODUCTION, facts(staged_at=None)), "soak") == GateResult(
            "soak", False, "never reached staging, needs 7 days")

    def test_staged_in_the_future_counts_as_zero(self) -> None:
        result = gate(evaluate(PRODUCTION, facts(staged_at=NOW + timedelta(hours=1))), "soak")
        assert result.detail == "soaked 0 minutes on staging, needs 7 days"


class TestSignoffs:
    def test_too_few(self) -> None:
        two = facts().signoffs[:2]
        assert gate(evaluate(PRODUCTION, facts(signoffs=two)), "signoffs") == GateResult(
            "signoffs", False, "2 of 3 sign-offs: Acadia Hospice, Bayou Palliative")

    def test_none_and_one_needed(self) -> None:
        settings = replace(PRODUCTION, min_signoffs=1)
        assert gate(evaluate(settings, facts(signoffs=())), "signoffs") == GateResult(
            "signoffs", False, "0 of 1 sign-off: none yet")

    def test_an_organisation_counts_once(self) -> None:
        first = facts().signoffs[0]
        again = (first, replace(first, by="other@bayou.example"), facts().signoffs[1])
        assert gate(evaluate(PRODUCTION, facts(signoffs=again)), "signoffs").detail == \
            "2 of 3 sign-offs: Acadia Hospice, Bayou Palliative"

    def test_more_than_needed(self) -> None:
        settings = replace(PRODUCTION, min_signoffs=2)
        assert gate(evaluate(settings, facts()), "signoffs") == GateResult(
            "signoffs", True, "3 sign-offs (needs 2): Acadia Hospice, Bayou Palliative, Cascade Hospice")


class TestBlockers:
    def test_open_blocker_fails_with_its_local_opening_date(self) -> None:
        # Opened 2026-10-03 02:00 UTC, which is still 2 October in Chicago.
        blocker = problem(12, opened=datetime(2026, 10, 3, 2, 0, tzinfo=UTC))
        assert gate(evaluate(PRODUCTION, facts(problems=(blocker,))), "blockers") == GateResult(
            "blockers", False,
            "blocker #12 open since 2026-10-02 (Acadia Hospice: medication chart does not save)")

    def test_several_blockers_and_one_from_an_earlier_build(self) -> None:
        results = evaluate(PRODUCTION, facts(problems=(problem(15), problem(12, seq=5))))
        assert gate(results, "blockers").detail == (
            "blocker #12 open since 2026-10-02, reported against 2026.4.0+b5 "
            "(Acadia Hospice: medication chart does not save); "
            "blocker #15 open since 2026-10-02 (Acadia Hospice: medication chart does not save)")

    def test_minor_and_major_problems_do_not_block_but_are_shown(self) -> None:
        found = (problem(1, "major"), problem(2, "minor"), problem(3, "minor"), problem(4, status="resolved"))
        assert gate(evaluate(PRODUCTION, facts(problems=found)), "blockers") == GateResult(
            "blockers", True, "no open blockers (1 major, 2 minor open)")

    def test_blocker_fixed_only_in_a_later_build(self) -> None:
        fixed_later = problem(12, seq=5, status="resolved", fixed_in_seq=9)
        assert gate(evaluate(PRODUCTION, facts(problems=(fixed_later,))), "blockers").detail == (
            "blocker #12 fixed only in the later build 2026.4.0+b9, reported against 2026.4.0+b5 "
            "(Acadia Hospice: medication chart does not save)")
        assert gate(evaluate(PRODUCTION, facts(build="2026.4.0+b9", build_seq=9, problems=(fixed_later,))),
                    "blockers").passed


class TestProblemsCarryForward:
    def test_open_problem_applies_to_its_build_and_later_ones_only(self) -> None:
        reported = problem(12, seq=3)
        assert [seq for seq in range(1, 7) if applicable_problems([reported], seq)] == [3, 4, 5, 6]

    def test_until_resolved(self) -> None:
        resolved = problem(12, seq=3, status="resolved")
        assert [seq for seq in range(1, 7) if applicable_problems([resolved], seq)] == []
        reopened = replace(resolved, status="open")
        assert [seq for seq in range(1, 7) if applicable_problems([reopened], seq)] == [3, 4, 5, 6]

    def test_resolved_with_the_build_that_fixes_it(self) -> None:
        fixed = problem(12, seq=3, status="resolved", fixed_in_seq=5)
        assert [seq for seq in range(1, 8) if applicable_problems([fixed], seq)] == [3, 4]

    def test_mixed_list_in_id_order(self) -> None:
        found = [problem(9, seq=6), problem(4, seq=2), problem(7, seq=4, status="resolved"),
                 problem(2, seq=1)]
        assert [p.id for p in applicable_problems(found, 5)] == [2, 4]

    def test_the_gate_uses_the_rule(self) -> None:
        older_build = facts(build="2026.4.0+b4", build_seq=4, problems=(problem(12, seq=5),))
        assert gate(evaluate(PRODUCTION, older_build), "blockers").passed
        newer_build = facts(build="2026.4.0+b8", build_seq=8, problems=(problem(12, seq=5),))
        assert not gate(evaluate(PRODUCTION, newer_build), "blockers").passed


class TestWindow:
    def test_before_the_window(self) -> None:
        early = datetime(2026, 11, 12, 19, 0, tzinfo=CHICAGO)
        assert gate(evaluate(PRODUCTION, facts(now=early)), "window") == GateResult(
            "window", False,
            "now is outside the window 2026-11-14 22:00–02:00 next day America/Chicago; "
            "it opens in 2 days 3 hours")

    def test_after_the_window_and_at_its_end(self) -> None:
        assert gate(evaluate(PRODUCTION, facts(now=WINDOW.end)), "window") == GateResult(
            "window", False, "now is outside the window 2026-11-14 22:00–02:00 next day America/Chicago; "
                             "it closed 0 minutes ago")
        later = gate(evaluate(PRODUCTION, facts(now=WINDOW.end + timedelta(hours=5, minutes=7))), "window")
        assert later.detail.endswith("; it closed 5 hours 7 minutes ago")

    def test_at_the_start_and_in_utc(self) -> None:
        assert gate(evaluate(PRODUCTION, facts(now=WINDOW.start)), "window").passed
        last_minute = datetime(2026, 11, 15, 7, 59, tzinfo=UTC)
        assert gate(evaluate(PRODUCTION, facts(now=last_minute)), "window").passed
        assert not gate(evaluate(PRODUCTION, facts(now=datetime(2026, 11, 15, 8, 0, tzinfo=UTC))),
                        "window").passed

    def test_not_scheduled_or_cancelled(self) -> None:
        assert gate(evaluate(PRODUCTION, facts(schedule=None)), "window") == GateResult(
            "window", False, "no push is scheduled for this build")
        cancelled = replace(WINDOW, cancelled=True)
        assert gate(evaluate(PRODUCTION, facts(schedule=cancelled)), "window") == GateResult(
            "window", False,
            "the push in the window 2026-11-14 22:00–02:00 next day America/Chicago was cancelled")


def test_extra_gates_from_other_features_come_last_and_count() -> None:
    notice = GateResult("advance-notice", False, "advance notice not sent (due by 2026-10-31 22:00)")
    results = evaluate(PRODUCTION, facts(extra=(notice,)))
    assert results[-1] == notice
    assert [r.gate for r in results] == ["hold", "soak", "signoffs", "blockers", "window", "advance-notice"]
    assert failing(results) == [notice]
    with pytest.raises(ChannelsError, match="must be GateResult values"):
        facts(extra=({"gate": "x", "passed": True, "detail": ""},))


def test_bad_facts_and_settings_are_refused() -> None:
    with pytest.raises(ChannelsError, match=r"now: .* must be an aware datetime"):
        facts(now=datetime(2026, 11, 14, 23, 0))
    with pytest.raises(ChannelsError, match="timezone: 'Chicago' is not an IANA time zone"):
        facts(timezone="Chicago")
    with pytest.raises(ChannelsError, match="severity 'critical' is not one of blocker, major, minor"):
        problem(1, "critical")
    with pytest.raises(ChannelsError, match="status 'wontfix' is not open or resolved"):
        problem(1, status="wontfix")
    with pytest.raises(ChannelsError, match="gate settings: min_signoffs: -1 must be a whole number of zero"):
        GateSettings(min_signoffs=-1)
    with pytest.raises(ChannelsError, match="min_soak: minus 1 day must be a length of time of zero or more"):
        GateSettings(min_soak=timedelta(days=-1))
    with pytest.raises(ChannelsError, match="require_window: 'yes' must be true or false"):
        GateSettings(require_window="yes")  # type: ignore[arg-type]


class TestSignoffRules:
    staged = NOW - timedelta(days=1)

    def sign(self, **changes: object) -> None:
        args: dict[str, object] = {"org": "Acadia Hospice", "by": "lead@acadia.example", "build": BUILD,
                                   "enrolled_orgs": ["Acadia Hospice", "Bayou Palliative"],
                                   "staged_at": self.staged, "existing": ()}
        args.update(changes)
        check_signoff(**args)  # type: ignore[arg-type]

    def test_allowed(self) -> None:
        self.sign()
        self.sign(existing=[SignOff("Bayou Palliative", "x@bayou.example", NOW)])

    def test_only_enrolled_organisations(self) -> None:
        with pytest.raises(SignoffError, match="Delta Hospice Care is not enrolled in the beta") as caught:
            self.sign(org="Delta Hospice Care")
        assert caught.value.hint == 'enroll it first: quarterdeck beta enroll "Delta Hospice Care"'

    def test_only_builds_that_reached_staging(self) -> None:
        with pytest.raises(SignoffError, match=r"2026\.4\.0\+b7 has not reached staging"):
            self.sign(staged_at=None)

    def test_once_per_organisation_and_build(self) -> None:
        earlier = SignOff("Acadia Hospice", "ann@acadia.example", datetime(2026, 11, 13, 15, 4, tzinfo=UTC))
        with pytest.raises(SignoffError, match=r"Acadia Hospice already signed off 2026\.4\.0\+b7 "
                                               r"\(ann@acadia\.example, 2026-11-13 15:04 UTC\)"):
            self.sign(existing=[earlier])

    def test_signer_must_be_an_address(self) -> None:
        with pytest.raises(SignoffError, match="--by: email 'Ann' is not a valid address"):
            self.sign(by="Ann")


@pytest.mark.parametrize(("length", "text"), [
    (timedelta(0), "0 minutes"), (timedelta(seconds=30), "less than a minute"),
    (timedelta(minutes=1), "1 minute"), (timedelta(hours=1), "1 hour"),
    (timedelta(hours=5, minutes=20, seconds=59), "5 hours 20 minutes"),
    (timedelta(days=1), "1 day"), (timedelta(days=3, hours=4, minutes=59), "3 days 4 hours"),
    (timedelta(days=6, hours=23, minutes=59, seconds=59), "6 days 23 hours"),
    (timedelta(days=-2), "minus 2 days"),
])
def test_format_duration(length: timedelta, text: str) -> None:
    assert format_duration(length) == text
