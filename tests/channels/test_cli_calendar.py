"""`calendar`, `schedule`, `hold` and `release-hold` through the CLI, with the clock pinned.

The project zone is America/Chicago; now is Monday 2026-10-05 07:00 CDT. The
clocks go back on 2026-11-01 (01:00-02:00 happens twice) and forward on
2027-03-14 (02:00-03:00 does not exist).
"""

from __future__ import annotations

import pytest

from tests.channels.cli_support import NOW, audit_log, make_build, row_counts, set_calendar
from tests.conftest import Project


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


def schedule(project: Project, *args: str) -> dict[str, object]:
    result = project.ok("schedule", *args, "--json").json()
    assert isinstance(result, dict)
    return result


# ---------------------------------------------------------------- calendar

def test_calendar_lists_the_next_pushes_in_the_project_zone_and_utc(project: Project) -> None:
    pushes = project.ok("calendar", "--count", "3", "--json").json()
    assert isinstance(pushes, list)
    assert [p["date"] for p in pushes] == ["2026-11-14", "2027-02-13", "2027-05-08"]
    november = pushes[0]
    assert november["start"] == "2026-11-14T22:00:00-06:00"
    assert november["start_utc"] == "2026-11-15T04:00:00+00:00"
    assert november["end"] == "2026-11-15T02:00:00-06:00"
    assert november["end_utc"] == "2026-11-15T08:00:00+00:00"
    assert november["freeze"] == "2026-10-17T22:00:00-05:00", "28 days before, still on daylight time"
    assert november["beta_start"] == "2026-10-24T22:00:00-05:00"
    assert november["notice_deadline"] == "2026-10-31T22:00:00-05:00"
    assert november["notice_deadline_utc"] == "2026-11-01T03:00:00+00:00"
    assert november["timezone"] == "America/Chicago" and november["note"] == ""

    text = project.ok("calendar", "--count", "1").out
    assert "second Saturday of Feb, May, Aug, Nov at 22:00 America/Chicago" in text
    assert "2026-11-14 22:00–02:00 next day America/Chicago" in text and "2026-11-15 04:00–08:00 UTC" in text
    assert "2026-10-31 22:00 CDT" in text and "2026-11-01 03:00 UTC" in text
    assert project.run("calendar", "--count", "0").code == 2


def test_calendar_pushes_on_the_nights_the_clocks_change(project: Project) -> None:
    set_calendar(project, months="[3]", weekday='"sunday"', week="2", start='"02:30"')
    [spring] = project.ok("calendar", "--count", "1", "--json").json()  # type: ignore[misc]
    assert spring["date"] == "2027-03-14"
    assert spring["start"] == "2027-03-14T03:30:00-05:00", "02:30 does not exist: moved forward by the gap"
    assert spring["start_utc"] == "2027-03-14T08:30:00+00:00"
    assert "does not exist" in spring["note"]
    assert "02:30 does not exist on 2027-03-14" in project.ok("calendar", "--count", "1").out

    set_calendar(project, months="[11]", week="1", start='"01:30"')
    [autumn] = project.ok("calendar", "--count", "1", "--json").json()  # type: ignore[misc]
    assert autumn["start"] == "2026-11-01T01:30:00-05:00", "the first 01:30, still daylight time"
    assert autumn["end"] == "2026-11-01T04:30:00-06:00", "four real hours later, on standard time"
    assert autumn["end_utc"] == "2026-11-01T10:30:00+00:00"
    assert "happens twice" in autumn["note"]


# ---------------------------------------------------------------- schedule

def test_schedule_reschedule_and_cancel_are_recorded_with_reasons(project: Project) -> None:
    build = make_build(project)
    first = schedule(project, build, "--next-window")
    assert first["result"] == "scheduled" and first["previous"] is None
    assert first["schedule"]["start"] == "2026-11-15T04:00:00+00:00"  # type: ignore[index]
    assert first["schedule"]["end"] == "2026-11-15T08:00:00+00:00"  # type: ignore[index]
    assert first["schedule"]["start_local"] == "2026-11-14T22:00:00-06:00"  # type: ignore[index]
    assert first["notice_deadline"] == "2026-11-01T03:00:00+00:00"

    before = row_counts(project)
    same = project.ok("schedule", build, "--at", "2026-11-14 22:00")
    assert "nothing changed" in same.out and row_counts(project) == before
    no_reason = project.run("schedule", build, "--at", "2026-11-21 22:00")
    assert no_reason.code == 1 and "moving it needs a reason" in no_reason.err
    assert "2026-11-14 22:00 CST" in no_reason.err
    assert row_counts(project) == before

    moved = schedule(project, build, "--at", "2026-11-21 22:00", "--reason", "ice storm forecast")
    assert moved["result"] == "moved"
    assert moved["schedule"]["start"] == "2026-11-22T04:00:00+00:00"  # type: ignore[index]
    assert moved["previous"]["start"] == "2026-11-15T04:00:00+00:00"  # type: ignore[index]
    assert moved["schedule"]["reason"] == "ice storm forecast"  # type: ignore[index]

    assert project.run("schedule", "cancel", build).code == 2, "cancelling needs --reason"
    cancelled = schedule(project, "cancel", build, "--reason", "blocker found in beta")
    assert cancelled["schedule"]["state"] == "cancelled"  # type: ignore[index]
    assert cancelled["schedule"]["start"] == "2026-11-22T04:00:00+00:00"  # type: ignore[index]
    twice = project.run("schedule", "cancel", build, "--reason", "again")
    assert twice.code == 1 and "already cancelled" in twice.err

    fresh = schedule(project, build, "--at", "2027-02-13 22:00")
    assert fresh["result"] == "scheduled", "after a cancellation a new date is not a move"
    shown = schedule(project, "show", build)
    assert [(s["state"], s["reason"]) for s in shown["history"]] == [  # type: ignore[union-attr]
        ("scheduled", None), ("moved", "ice storm forecast"), ("cancelled", "blocker found in beta"),
        ("scheduled", None)]
    assert shown["current"]["start"] == "2027-02-14T04:00:00+00:00" and shown["held"] is None  # type: ignore[index]
    assert "2027-02-13 22:00–02:00 next day America/Chicago" in project.ok("schedule", "show", build).out

    entries = audit_log(project, "schedule.set", "schedule.move", "schedule.cancel")
    assert [(e["action"], e["subject"], e["reason"]) for e in entries] == [
        ("schedule.set", build, None), ("schedule.move", build, "ice storm forecast"),
        ("schedule.cancel", build, "blocker found in beta"), ("schedule.set", build, None)]
    assert entries[1]["detail"]["previous_start"] == "2026-11-15T04:00:00+00:00"  # type: ignore[index]


def test_a_date_in_the_past_or_a_bad_request_changes_nothing(project: Project) -> None:
    build = make_build(project)
    before = row_counts(project)
    past = project.run("schedule", build, "--at", "2026-10-05 06:59")
    assert past.code == 1 and "2026-10-05 06:59 America/Chicago is not in the future" in past.err
    assert "2026-10-05 07:00 CDT" in past.err
    not_a_date = project.run("schedule", build, "--at", "14/11/2026 22:00")
    assert not_a_date.code == 1 and "'14/11/2026 22:00' is not a local time" in not_a_date.err
    impossible = project.run("schedule", build, "--at", "2026-02-30 22:00")
    assert impossible.code == 1 and "is not a real date" in impossible.err
    zone = project.run("schedule", build, "--at", "2026-11-14 22:00", "--tz", "Chicago")
    assert zone.code == 1 and "'Chicago' is not an IANA time zone" in zone.err
    assert project.run("schedule", build, "--at", "2026-11-14 22:00", "--next-window").code == 2
    assert project.run("schedule", build).code == 2
    assert project.run("schedule", build, "--tz", "UTC", "--next-window").code == 2
    assert project.run("schedule", "show").code == 2
    assert project.run("schedule", "cancel", build, "--reason", "x", "--next-window").code == 2
    nothing = project.run("schedule", "cancel", build, "--reason", "x")
    assert nothing.code == 1 and "has no scheduled push" in nothing.err
    assert row_counts(project) == before


def test_schedule_dates_across_the_clock_changes(project: Project) -> None:
    build = make_build(project)
    skipped = project.run("schedule", build, "--at", "2027-03-14 02:30")
    assert skipped.code == 1 and "2027-03-14 02:30 does not exist in America/Chicago" in skipped.err
    repeated = project.run("schedule", build, "--at", "2026-11-01 01:30")
    assert repeated.code == 1 and "happens twice" in repeated.err
    assert "2026-11-01 06:30 for the first, 2026-11-01 07:30 for the second" in repeated.err

    second = schedule(project, build, "--at", "2026-11-01 07:30", "--tz", "UTC")
    assert second["schedule"]["start_local"] == "2026-11-01T01:30:00-06:00"  # type: ignore[index]
    assert second["schedule"]["end"] == "2026-11-01T11:30:00+00:00"  # type: ignore[index]

    before_change = schedule(project, build, "--at", "2026-10-31 22:00", "--reason", "a day earlier")
    assert before_change["schedule"]["start"] == "2026-11-01T03:00:00+00:00"  # type: ignore[index]
    after_change = schedule(project, build, "--at", "2026-11-07 22:00", "--reason", "a week later")
    assert after_change["schedule"]["start"] == "2026-11-08T04:00:00+00:00"  # type: ignore[index]
    london = schedule(project, build, "--at", "2026-11-14 10:00", "--tz", "Europe/London", "--reason", "UK")
    assert london["schedule"]["start"] == "2026-11-14T10:00:00+00:00"  # type: ignore[index]
    assert london["schedule"]["start_local"] == "2026-11-14T04:00:00-06:00"  # type: ignore[index]


# ---------------------------------------------------------------- holds

def test_a_held_build_cannot_be_scheduled_until_released(project: Project) -> None:
    build = make_build(project)
    schedule(project, build, "--next-window")
    held = project.ok("hold", build, "--reason", "data loss in the MAR export")
    assert "held" in held.out and "still scheduled" in held.out
    before = row_counts(project)
    refused = project.run("schedule", build, "--at", "2026-11-21 22:00", "--reason", "later")
    assert refused.code == 1 and "is held" in refused.err and "data loss in the MAR export" in refused.err
    again = project.run("hold", build, "--reason", "second")
    assert again.code == 1 and "already held" in again.err
    assert project.run("hold", build).code == 2, "a hold needs --reason"
    assert row_counts(project) == before
    shown = schedule(project, "show", build)
    assert shown["held"]["reason"] == "data loss in the MAR export"  # type: ignore[index]

    project.ok("release-hold", build, "--reason", "export fixed in config")
    assert schedule(project, build, "--at", "2026-11-21 22:00", "--reason", "later")["result"] == "moved"
    not_held = project.run("release-hold", build)
    assert not_held.code == 1 and "is not held" in not_held.err
    entries = audit_log(project, "build.hold", "build.release-hold")
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("build.hold", "data loss in the MAR export"), ("build.release-hold", "export fixed in config")]
