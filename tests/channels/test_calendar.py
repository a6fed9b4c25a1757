"""The quarterly calendar: rule dates over years, clock changes in Chicago, zones without DST, midnight."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.calendar.calendar import (
    CalendarRule,
    format_window,
    is_push_date,
    next_pushes,
    nth_weekday,
    parse_local_datetime,
    quarter_of,
    version_quarter,
    wall_time_kind,
    window_for_date,
    window_starting,
)
from channels.errors import CalendarError, ChannelsError

CHICAGO = ZoneInfo("America/Chicago")
NEW_YEAR_2026 = datetime(2026, 1, 1, tzinfo=UTC)


def rule(**changes: object) -> CalendarRule:
    """The default rule of a new project: second Saturday of Feb/May/Aug/Nov, 22:00, 4 hours."""
    base = CalendarRule(
        months=(2, 5, 8, 11), weekday=5, week=2, start=time(22, 0), window=timedelta(hours=4),
        timezone="America/Chicago", notice_lead=timedelta(days=14), beta_start=timedelta(days=21),
        code_freeze=timedelta(days=28), reminders=(timedelta(days=1), timedelta(days=7)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_quarterly_dates_over_three_years() -> None:
    windows = next_pushes(rule(), NEW_YEAR_2026, 12)
    assert [w.date for w in windows] == [
        date(2026, 2, 14), date(2026, 5, 9), date(2026, 8, 8), date(2026, 11, 14),
        date(2027, 2, 13), date(2027, 5, 8), date(2027, 8, 14), date(2027, 11, 13),
        date(2028, 2, 12), date(2028, 5, 13), date(2028, 8, 12), date(2028, 11, 11),
    ]
    for window in windows:
        assert window.start.tzinfo == CHICAGO
        assert (window.start.hour, window.start.minute) == (22, 0)
        assert window.duration == timedelta(hours=4)
        assert window.note == ""
        assert window.date.weekday() == 5
    # Winter pushes are on CST (UTC-6), summer ones on CDT (UTC-5): same wall time, different instant.
    assert windows[0].start_utc == datetime(2026, 2, 15, 4, 0, tzinfo=UTC)
    assert windows[1].start_utc == datetime(2026, 5, 10, 3, 0, tzinfo=UTC)
    assert windows[0].label == "2026-02-14 22:00–02:00 next day America/Chicago"


def test_milestones_are_wall_clock_offsets_even_across_a_clock_change() -> None:
    push = next_pushes(rule(), datetime(2026, 9, 1, tzinfo=UTC), 1)[0]
    assert push.start == datetime(2026, 11, 14, 22, 0, tzinfo=CHICAGO)
    assert push.start.tzname() == "CST"
    # 14, 21 and 28 days earlier at 22:00 local, which is still summer time (CDT).
    assert push.notice_deadline.isoformat() == "2026-10-31T22:00:00-05:00"
    assert push.beta_start.isoformat() == "2026-10-24T22:00:00-05:00"
    assert push.freeze.isoformat() == "2026-10-17T22:00:00-05:00"
    # So the real time between notice deadline and push is 14 days and one hour.
    assert push.start_utc - push.notice_deadline_utc == timedelta(days=14, hours=1)
    assert [m.isoformat() for m in push.reminders] == ["2026-11-07T22:00:00-06:00",
                                                       "2026-11-13T22:00:00-06:00"]
    assert push.notice_deadline_utc == datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def test_spring_forward_start_in_the_skipped_hour_moves_forward_every_year() -> None:
    # 02:30 on the second Sunday of March does not exist in Chicago (02:00 jumps to 03:00).
    night = rule(months=(3,), weekday=6, week=2, start=time(2, 30), window=timedelta(hours=2))
    windows = next_pushes(night, NEW_YEAR_2026, 3)
    assert [w.date for w in windows] == [date(2026, 3, 8), date(2027, 3, 14), date(2028, 3, 12)]
    for window in windows:
        assert (window.start.hour, window.start.minute, window.start.tzname()) == (3, 30, "CDT")
        assert window.start.date() == window.date
        assert window.duration == timedelta(hours=2)
        assert (window.end.hour, window.end.minute) == (5, 30)
        assert "02:30 does not exist" in window.note and "03:30 CDT" in window.note
    assert windows[0].start_utc == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)
    # Milestones are 02:30 on ordinary nights, which exist.
    assert windows[0].notice_deadline.isoformat() == "2026-02-22T02:30:00-06:00"
    assert windows[0].beta_start.isoformat() == "2026-02-15T02:30:00-06:00"
    assert windows[0].freeze.isoformat() == "2026-02-08T02:30:00-06:00"


def test_fall_back_start_in_the_repeated_hour_uses_the_first_occurrence() -> None:
    night = rule(months=(11,), weekday=6, week=1, start=time(1, 30), window=timedelta(hours=2))
    window = next_pushes(night, NEW_YEAR_2026, 1)[0]
    assert window.date == date(2026, 11, 1)
    assert window.start.isoformat() == "2026-11-01T01:30:00-05:00"  # CDT, the first 01:30
    assert window.start_utc == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    # Two real hours later the clock shows only 02:30: the window length is elapsed time.
    assert window.end.isoformat() == "2026-11-01T02:30:00-06:00"
    assert window.duration == timedelta(hours=2)
    assert window.label == "2026-11-01 01:30 CDT–02:30 CST America/Chicago"
    assert "happens twice" in window.note
    # Deterministic: the same answer however it is asked for.
    assert window_for_date(night, date(2026, 11, 1)) == window


@pytest.mark.parametrize(("month", "day", "end_wall", "wall_hours"), [
    (10, date(2026, 10, 31), "2026-11-01T03:00:00-06:00", 5),  # autumn: clocks go back inside the window
    (3, date(2026, 3, 7), "2026-03-08T05:00:00-05:00", 7),     # spring: clocks go forward inside it
])
def test_window_spanning_the_change_lasts_its_real_length(month: int, day: date, end_wall: str,
                                                          wall_hours: int) -> None:
    week = -1 if month == 10 else 1
    spanning = rule(months=(month,), weekday=5, week=week, window=timedelta(hours=6))
    window = next_pushes(spanning, NEW_YEAR_2026, 1)[0]
    assert window.date == day
    assert window.end.isoformat() == end_wall
    assert window.duration == timedelta(hours=6)
    assert window.end.replace(tzinfo=None) - window.start.replace(tzinfo=None) == timedelta(hours=wall_hours)
    assert window.contains(window.start_utc + timedelta(hours=5, minutes=59))
    assert not window.contains(window.start_utc + timedelta(hours=6))


@pytest.mark.parametrize(("zone", "utc_hour"), [("Asia/Tokyo", 13), ("America/Phoenix", 5)])
def test_zone_without_daylight_saving_keeps_one_offset(zone: str, utc_hour: int) -> None:
    windows = next_pushes(rule(timezone=zone), NEW_YEAR_2026, 8)
    assert len({w.start.utcoffset() for w in windows}) == 1
    assert {w.start_utc.hour for w in windows} == {utc_hour}
    for window in windows:
        assert window.start_utc - window.notice_deadline_utc == timedelta(days=14)
        assert window.start_utc - window.freeze_utc == timedelta(days=28)
        assert window.note == ""


def test_window_around_midnight() -> None:
    late = rule(start=time(23, 30), window=timedelta(hours=3))
    window = window_for_date(late, date(2026, 11, 14))
    assert window.date == date(2026, 11, 14)
    assert window.end.isoformat() == "2026-11-15T02:30:00-06:00"
    assert window.label == "2026-11-14 23:30–02:30 next day America/Chicago"
    assert window.contains(datetime(2026, 11, 15, 0, 15, tzinfo=CHICAGO))
    assert window.contains(datetime(2026, 11, 14, 23, 30, tzinfo=CHICAGO))
    assert not window.contains(datetime(2026, 11, 14, 23, 29, tzinfo=CHICAGO))
    assert not window.contains(datetime(2026, 11, 15, 2, 30, tzinfo=CHICAGO))  # the end is excluded
    midnight = window_for_date(rule(start=time(0, 0)), date(2026, 11, 14))
    assert midnight.start.isoformat() == "2026-11-14T00:00:00-06:00"
    assert midnight.notice_deadline.isoformat() == "2026-10-31T00:00:00-05:00"


def test_long_window_shows_its_end_date() -> None:
    window = window_for_date(rule(window=timedelta(hours=30)), date(2026, 11, 14))
    assert window.label == "2026-11-14 22:00–2026-11-16 04:00 America/Chicago"


def test_last_weekday_rules() -> None:
    last_friday = rule(months=(1, 4, 7, 10), weekday=4, week=-1)
    assert [w.date for w in next_pushes(last_friday, NEW_YEAR_2026, 4)] == [
        date(2026, 1, 30), date(2026, 4, 24), date(2026, 7, 31), date(2026, 10, 30)]
    assert nth_weekday(2026, 8, 5, -1) == date(2026, 8, 29)  # August 2026 has five Saturdays
    assert nth_weekday(2026, 8, 5, 4) == date(2026, 8, 22)
    assert nth_weekday(2026, 2, 6, -1) == date(2026, 2, 22)
    assert is_push_date(last_friday, date(2026, 7, 31))
    assert not is_push_date(last_friday, date(2026, 7, 24))
    assert not is_push_date(last_friday, date(2026, 8, 28))


@given(st.integers(1900, 2200), st.integers(1, 12), st.integers(0, 6), st.sampled_from([1, 2, 3, 4, -1]))
def test_nth_weekday_agrees_with_stdlib_calendar(year: int, month: int, weekday: int, week: int) -> None:
    import calendar

    listed = [day for row in calendar.Calendar().monthdatescalendar(year, month)
              for day in row if day.month == month and day.weekday() == weekday]
    assert nth_weekday(year, month, weekday, week) == (listed[week - 1] if week > 0 else listed[-1])


def test_next_pushes_after_boundaries() -> None:
    nov = datetime(2026, 11, 14, 22, 0, tzinfo=CHICAGO)
    assert next_pushes(rule(), nov, 1)[0].date == date(2027, 2, 13)  # a window starting now is not "next"
    just_before = nov - timedelta(seconds=1)
    assert next_pushes(rule(), just_before, 1)[0].date == date(2026, 11, 14)
    during = nov + timedelta(hours=1)
    assert next_pushes(rule(), during, 1)[0].date == date(2027, 2, 13)
    assert next_pushes(rule(), during, 1, include_open=True)[0].date == date(2026, 11, 14)
    assert next_pushes(rule(), during, 0) == []
    # The same instant given in another zone gives the same answer.
    assert next_pushes(rule(), just_before.astimezone(ZoneInfo("Asia/Tokyo")), 2) == \
        next_pushes(rule(), just_before, 2)


def test_next_pushes_refuses_naive_time_and_bad_count() -> None:
    with pytest.raises(CalendarError, match=r"after: .* must be an aware datetime"):
        next_pushes(rule(), datetime(2026, 1, 1), 1)
    with pytest.raises(CalendarError, match="count: -1"):
        next_pushes(rule(), NEW_YEAR_2026, -1)


def test_quarters() -> None:
    assert [quarter_of(date(2026, m, 1)) for m in range(1, 13)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    windows = next_pushes(rule(), NEW_YEAR_2026, 4)
    assert [version_quarter(w) for w in windows] == [(2026, 1), (2026, 2), (2026, 3), (2026, 4)]
    # The local date decides: 22:00 in Chicago on 31 December is already next year in UTC.
    new_years_eve = window_for_date(rule(), date(2026, 12, 31))
    assert new_years_eve.start_utc.year == 2027
    assert version_quarter(new_years_eve) == (2026, 4)


def test_window_starting_at_an_explicit_time() -> None:
    window = window_starting(rule(), datetime(2026, 11, 21, 4, 0, tzinfo=UTC))
    assert window.start.isoformat() == "2026-11-20T22:00:00-06:00"
    assert window.date == date(2026, 11, 20)
    assert window.end_utc == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert window.notice_deadline.isoformat() == "2026-11-06T22:00:00-06:00"
    with pytest.raises(CalendarError, match="aware"):
        window_starting(rule(), datetime(2026, 11, 20, 22, 0))


def test_window_as_json() -> None:
    data = next_pushes(rule(), NEW_YEAR_2026, 1)[0].as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["start"] == "2026-02-14T22:00:00-06:00"
    assert data["start_utc"] == "2026-02-15T04:00:00+00:00"
    assert data["end_utc"] == "2026-02-15T08:00:00+00:00"
    assert data["notice_deadline"] == "2026-01-31T22:00:00-06:00"
    assert data["reminders"] == ["2026-02-07T22:00:00-06:00", "2026-02-13T22:00:00-06:00"]


def test_rule_in_words() -> None:
    assert rule().describe() == "second Saturday of Feb, May, Aug, Nov at 22:00 America/Chicago, 4 hours"
    assert rule(week=-1, weekday=6, window=timedelta(minutes=90)).describe() == \
        "last Sunday of Feb, May, Aug, Nov at 22:00 America/Chicago, 1.5 hours"


@pytest.mark.parametrize(("changes", "message"), [
    ({"months": ()}, "months: expected a non-empty tuple"),
    ({"months": (2, 13)}, "months: 13 is not a month"),
    ({"months": (0,)}, "months: 0 is not a month"),
    ({"months": (2, 5, 2)}, "months: 2 listed twice"),
    ({"weekday": 7}, r"weekday: 7 is not a weekday \(0=Monday"),
    ({"weekday": True}, "weekday: True is not a weekday"),
    ({"week": 5}, "week: 5 is not 1, 2, 3, 4 or -1"),
    ({"week": 0}, "week: 0 is not"),
    ({"window": timedelta(0)}, "window: 0 minutes is shorter than 15 minutes, the shortest"),
    ({"window": timedelta(hours=-1)}, "window: minus 1 hour is shorter than 15 minutes"),
    ({"window": timedelta(minutes=6)}, "window: 6 minutes is shorter than 15 minutes"),
    ({"timezone": "America/Chicgo"}, r"timezone: 'America/Chicgo' is not an IANA time zone \(did you mean "
                                     r"America/Chicago\?\)"),
    ({"timezone": "america/chicago"}, r"did you mean America/Chicago\?"),
    ({"timezone": "localtime"}, "depends on the machine"),
    ({"timezone": ""}, "timezone: '' is not an IANA time zone name"),
    ({"notice_lead": timedelta(days=-1)},
     "notice_lead: minus 1 day must be a length of time of zero or more"),
    ({"reminders": (timedelta(0),)}, "reminders: 0 minutes must be a positive length of time"),
    ({"reminders": (timedelta(days=1), timedelta(days=1))}, "reminders: an offset is listed twice"),
    ({"start": time(22, 0, tzinfo=UTC)}, "start: give a local time without a zone"),
])
def test_bad_rules_name_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message) as caught:
        rule(**changes)
    assert isinstance(caught.value, ChannelsError)
    assert caught.value.hint and "[calendar]" in caught.value.hint


def test_a_bad_rule_lists_every_problem() -> None:
    with pytest.raises(CalendarError) as caught:
        rule(months=(2, 14), weekday=9, week=6, timezone="Mars/Olympus")
    text = str(caught.value)
    for field in ("months: 14", "weekday: 9", "week: 6", "timezone: 'Mars/Olympus'"):
        assert field in text


class TestParseLocalDatetime:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def test_valid_time_in_the_project_zone(self) -> None:
        moment = parse_local_datetime("2026-11-14 22:00", "America/Chicago", now=self.now)
        assert moment.isoformat() == "2026-11-14T22:00:00-06:00"
        assert moment.tzinfo == CHICAGO
        assert parse_local_datetime(" 2026-11-14T22:00 ", "UTC", now=self.now).isoformat() == \
            "2026-11-14T22:00:00+00:00"
        assert parse_local_datetime("2026-11-15 13:00", "Asia/Tokyo", now=self.now).astimezone(UTC) == \
            datetime(2026, 11, 15, 4, 0, tzinfo=UTC)

    def test_skipped_time_is_refused_with_a_suggestion(self) -> None:
        with pytest.raises(CalendarError) as caught:
            parse_local_datetime("2026-03-08 02:30", "America/Chicago", now=self.now)
        assert str(caught.value) == ("2026-03-08 02:30 does not exist in America/Chicago: "
                                     "the clocks go forward that night")
        assert caught.value.hint == "choose a time outside the skipped hour, e.g. 2026-03-08 03:30"

    def test_repeated_time_is_refused_with_both_utc_spellings(self) -> None:
        with pytest.raises(CalendarError) as caught:
            parse_local_datetime("2026-11-01 01:30", "America/Chicago", now=self.now)
        assert str(caught.value) == "2026-11-01 01:30 happens twice in America/Chicago (first CDT, then CST)"
        assert caught.value.hint == ("give it in UTC with --tz UTC: 2026-11-01 06:30 for the first, "
                                     "2026-11-01 07:30 for the second")

    def test_past_and_present_are_refused(self) -> None:
        with pytest.raises(CalendarError, match=r"2026-02-28 10:00 America/Chicago is not in the future "
                                                r"\(it is now 2026-03-01 06:00 CST\)"):
            parse_local_datetime("2026-02-28 10:00", "America/Chicago", now=self.now)
        with pytest.raises(CalendarError, match="not in the future"):
            parse_local_datetime("2026-03-01 06:00", "America/Chicago", now=self.now)
        later = parse_local_datetime("2026-03-01 06:01", "America/Chicago", now=self.now)
        assert later.astimezone(UTC) == datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
        assert parse_local_datetime("2020-01-01 00:00", "UTC", now=None).year == 2020

    @pytest.mark.parametrize(("text", "message"), [
        ("next saturday", "is not a local time like 2026-11-14 22:00"),
        ("2026-11-14", "is not a local time like"),
        ("2026-11-14 22:00:00", "is not a local time like"),
        ("2026-02-30 22:00", "is not a real date and time: day is out of range"),
        ("2026-11-14 24:00", "is not a real date and time: hour must be in 0..23"),
    ])
    def test_malformed_text(self, text: str, message: str) -> None:
        with pytest.raises(CalendarError, match=message):
            parse_local_datetime(text, "America/Chicago", now=self.now)

    def test_unknown_zone(self) -> None:
        with pytest.raises(ChannelsError, match=r"time zone: 'Europe/Londn' is not an IANA time zone "
                                                r"\(did you mean Europe/London\?\)"):
            parse_local_datetime("2026-11-14 22:00", "Europe/Londn", now=self.now)


def test_wall_time_kinds() -> None:
    assert wall_time_kind(datetime(2026, 3, 8, 2, 30), CHICAGO) == "skipped"
    assert wall_time_kind(datetime(2026, 11, 1, 1, 30), CHICAGO) == "repeated"
    assert wall_time_kind(datetime(2026, 11, 1, 2, 30), CHICAGO) == "normal"
    assert wall_time_kind(datetime(2026, 3, 8, 2, 30), ZoneInfo("Asia/Tokyo")) == "normal"


def test_format_window_converts_to_the_named_zone() -> None:
    start = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
    assert format_window(start, start + timedelta(hours=4), "America/Chicago") == \
        "2026-11-14 22:00–02:00 next day America/Chicago"


ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo",
         "America/Phoenix", "Australia/Lord_Howe", "America/Santiago"]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    months=st.sets(st.integers(1, 12), min_size=1, max_size=12).map(lambda s: tuple(sorted(s))),
    weekday=st.integers(0, 6),
    week=st.sampled_from([1, 2, 3, 4, -1]),
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    minutes=st.integers(15, 36 * 60),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1),
                       timezones=st.just(UTC)),
)
def test_every_window_follows_the_rule(zone: str, months: tuple[int, ...], weekday: int, week: int,
                                       start: time, minutes: int, after: datetime) -> None:
    """Whatever the zone and rule: the right dates, in order, after `after`, of the real length."""
    any_rule = rule(timezone=zone, months=months, weekday=weekday, week=week, start=start,
                    window=timedelta(minutes=minutes))
    windows = next_pushes(any_rule, after, 3)
    assert len(windows) == 3
    assert windows[0].start_utc > after
    assert windows[0].start_utc < windows[1].start_utc < windows[2].start_utc
    for window in windows:
        assert is_push_date(any_rule, window.date)
        assert window.duration == timedelta(minutes=minutes)
        local_start = window.start.replace(tzinfo=None)
        nominal = datetime.combine(window.date, start)
        if window.note:
            assert timedelta(0) <= local_start - nominal <= timedelta(hours=1)  # moved by the gap only
        else:
            assert local_start == nominal
    # No rule date was skipped between `after` and the third window.
    day = after.astimezone(ZoneInfo(zone)).date()
    dates = []
    while day <= windows[2].date:
        if is_push_date(any_rule, day):
            dates.append(day)
        day += timedelta(days=1)
    expected = [d for d in dates if window_for_date(any_rule, d).start_utc > after][:3]
    assert [w.date for w in windows] == expected
