"""Rendering notices: every kind, time zones (DST included), escaping, templates and their overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notify.content.compose import Composer, NoticeKind, Recipient, Training, Window
from notify.content.wording import DEFAULT_USER_ACTION, format_duration, format_window
from notify.errors import NotifyError, TemplateError
from tests.notify.factories import LONDON, NEW_YORK_NURSE, context

NY_WINDOW = "Saturday 14 March 2026, 18:00–22:00 EDT"           # US already on summer time
LONDON_WINDOW = "Saturday 14 March 2026, 22:00 GMT – Sunday 15 March 2026, 02:00 GMT"
NY_PREVIOUS = "Saturday 7 March 2026, 17:00–21:00 EST"          # a week earlier: still winter time
NY_TRAINING = "Tuesday 10 March 2026, 11:00 EDT"


class Markup(HTMLParser):
    """Collects every element and attribute, and the text, of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.hrefs.extend(value for name, value in attrs if name == "href" and value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer()


@pytest.mark.parametrize("kind", [k for k in NoticeKind if k is not NoticeKind.PROBLEM_ALERT])  # readers
def test_every_kind_in_the_recipients_zone_with_the_project_zone_alongside(composer: Composer,
                                                                          kind: NoticeKind) -> None:
    composed = composer.prepare(context(kind)).render(NEW_YORK_NURSE)
    html_text = "".join(Markup(composed.html).text)
    for part in (composed.text, html_text):
        assert "Hello Maria Lopez," in part
        assert "2026.1.0" in part and "CareNotes" in part
        assert "Bayou Palliative" in part and "America/New_York" in part and "Europe/London" in part
        if kind is NoticeKind.BETA_AVAILABLE:
            assert "2026.1.0-b3" in part and "Reply to this email to sign off." in part
        else:
            assert NY_WINDOW in part and LONDON_WINDOW in part and "Duration: 4 hours" in part
        if kind is NoticeKind.RESCHEDULED:
            assert NY_PREVIOUS in part and "A blocker was found in beta testing." in part
        if kind is NoticeKind.CANCELLED:
            assert "A blocker was found in beta testing." in part
            assert "Medication charts" not in part  # no release notes in a cancellation
        else:
            assert "Medication charts can be printed (#41)" in part
            assert NY_TRAINING in part and "Tuesday 10 March 2026, 15:00 GMT" in part
        if kind in (NoticeKind.ADVANCE, NoticeKind.REMINDER, NoticeKind.RESCHEDULED):
            assert DEFAULT_USER_ACTION in part
    if kind not in (NoticeKind.BETA_AVAILABLE, NoticeKind.COMPLETED):
        assert "Saturday 14 March 2026" in composed.subject
    assert "\n" not in composed.subject and "CareNotes" in composed.subject


def test_a_zone_ahead_of_the_project_shows_the_next_day(composer: Composer) -> None:
    tokyo = Recipient("Hanako Yamada", "hanako@example.jp", "Tokyo Hospice", "Asia/Tokyo")
    composed = composer.prepare(context(NoticeKind.ADVANCE)).render(tokyo)
    assert "Sunday 15 March 2026, 07:00–11:00 JST" in composed.text
    assert "on Sunday 15 March 2026" in composed.subject


def test_recipient_without_a_zone_gets_the_project_zone_only(composer: Composer) -> None:
    composed = composer.prepare(context(NoticeKind.ADVANCE)).render(Recipient("Sam", "sam@example.org"))
    assert f"When: {LONDON_WINDOW}" in composed.text
    assert "in brackets" not in composed.text and "alongside" not in composed.html
    assert composed.text.count(LONDON_WINDOW) == 1


def test_window_across_a_dst_change_reads_right_and_lasts_real_time() -> None:
    window = Window(datetime(2026, 3, 29, 0, 30, tzinfo=LONDON), datetime(2026, 3, 29, 3, 30, tzinfo=LONDON))
    assert format_window(window, LONDON) == "Sunday 29 March 2026, 00:30 GMT–03:30 BST"
    assert format_duration(window.duration) == "2 hours"
    assert format_duration(window.end - window.start) == "3 hours"  # why Window.duration exists
    assert format_window(window, ZoneInfo("America/Chicago")) == "Saturday 28 March 2026, 19:30–21:30 CDT"


def test_zone_without_an_abbreviation_shows_the_offset() -> None:
    window = Window(datetime(2026, 5, 9, 22, 0, tzinfo=LONDON), datetime(2026, 5, 10, 2, 0, tzinfo=LONDON))
    shown = format_window(window, ZoneInfo("America/Sao_Paulo"))
    assert shown == "Saturday 9 May 2026, 18:00–22:00 UTC-03:00"


@pytest.mark.parametrize(("minutes", "text"), [
    (240, "4 hours"), (90, "1 hour 30 minutes"), (45, "45 minutes"), (61, "1 hour 1 minute"),
    (0, "0 minutes"),
])
def test_format_duration(minutes: int, text: str) -> None:
    assert format_duration(timedelta(minutes=minutes)) == text


def test_html_is_self_contained_and_styled_inline(composer: Composer) -> None:
    html = composer.prepare(context(NoticeKind.ADVANCE)).render(NEW_YORK_NURSE).html
    elements = Markup(html).elements
    tags = {tag for tag, _ in elements}
    assert not tags & {"img", "link", "script", "style", "iframe", "object"}
    assert all("src" not in attrs for _, attrs in elements)
    assert 'style="' in html and "qdnotes" not in html
    assert Markup(html).hrefs == ["https://training.example.org/charts"]
    notes_li = next(attrs for tag, attrs in elements if tag == "li" and "style" in attrs)  # notes CSS inlined
    assert notes_li == ("style",)


def test_text_part_is_complete_on_its_own(composer: Composer) -> None:
    text = composer.prepare(context(NoticeKind.ADVANCE)).render(NEW_YORK_NURSE).text
    for needed in (NY_WINDOW, "WHAT YOU NEED TO DO", DEFAULT_USER_ACTION, "TRAINING", "Printing charts",
                   "https://training.example.org/charts",
                   "* Medication charts can be printed (#41)", "support@carenotes.example.org"):
        assert needed in text
    assert "<" not in text and "\n\n\n" not in text


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_hostile_text_fields_are_escaped_never_markup(composer: Composer) -> None:
    def render(value: str, link: str) -> str:
        ctx = context(NoticeKind.RESCHEDULED, project=f"CareNotes{value}", version=f"2026.1.0{value}",
                      reason=f"Because{value}", user_action=f"Log out{value}\n\nThen{value}",
                      support_contact=f"desk{value}",
                      trainings=(Training(f"Charts{value}", datetime(2026, 3, 10, 15, tzinfo=LONDON), link),))
        recipient = Recipient(f"Eve{value}", "eve@example.org", f"Evil Org{value}", "America/New_York")
        return composer.prepare(ctx).render(recipient).html

    benign = Markup(render("", "ftp://training.example.org/x"))  # not linkable either: shown as text
    hostile = Markup(render(HOSTILE, "javascript:alert(3)"))
    # identical structure: the hostile values added no element and no attribute…
    assert hostile.elements == benign.elements
    assert not any(tag == "a" for tag, _ in hostile.elements)  # the javascript: link is no anchor
    # …and every value is still there, as text
    text = "".join(hostile.text)
    for shown in (f"Eve{HOSTILE}", f"Evil Org{HOSTILE}", f"Because{HOSTILE}", f"Charts{HOSTILE}",
                  "javascript:alert(3)"):
        assert shown in text


def test_pre_sanitised_notes_html_is_embedded_as_markup(composer: Composer) -> None:
    notes = '<h3>Fixes</h3><ul><li>Fixed <a href="https://tracker.example.org/T-1">T-1</a></li></ul>'
    html = composer.prepare(context(notes_html=notes)).render(NEW_YORK_NURSE).html
    elements = Markup(html)
    assert "https://tracker.example.org/T-1" in elements.hrefs
    assert any(tag == "h3" for tag, _ in elements.elements)


def test_text_notes_are_used_when_there_is_no_html(composer: Composer) -> None:
    ctx = context(notes_html="", notes_text="* <b>bold</b> claim\n")
    html = composer.prepare(ctx).render(NEW_YORK_NURSE).html
    assert "<pre" in html and "&lt;b&gt;bold&lt;/b&gt; claim" in html


def test_custom_user_action_becomes_paragraphs(composer: Composer) -> None:
    ctx = context(user_action="Sign out before 22:00.\nSave your notes.\n\nCall us with questions.")
    html = composer.prepare(ctx).render(NEW_YORK_NURSE).html
    assert "Sign out before 22:00.<br>\nSave your notes.</p>" in html
    assert DEFAULT_USER_ACTION not in html


@pytest.mark.parametrize(("kind", "missing", "message"), [
    (NoticeKind.ADVANCE, {"window": None}, "needs a window"),
    (NoticeKind.REMINDER, {"window": None}, "needs a window"),
    (NoticeKind.CANCELLED, {"window": None}, "needs a window"),
    (NoticeKind.RESCHEDULED, {"previous_window": None}, "needs a previous window"),
    (NoticeKind.ADVANCE, {"project_zone": "Mars/Olympus"}, "zone: 'Mars/Olympus' is not an IANA time zone"),
    (NoticeKind.ADVANCE, {"project_zone": "Factory"}, "zone: 'Factory' depends on the machine"),
])
def test_incomplete_context_fails_before_anything_is_rendered(
        composer: Composer, kind: NoticeKind, missing: dict[str, object], message: str) -> None:
    with pytest.raises(NotifyError, match=message):
        composer.prepare(context(kind, **missing))


def test_unknown_kind_lists_the_kinds(composer: Composer) -> None:
    with pytest.raises(NotifyError, match="'go-live' is not a notice kind") as caught:
        composer.prepare(context(kind="go-live"))  # type: ignore[arg-type]
    assert caught.value.hint == ("kinds are: beta-available, advance, reminder, rescheduled, cancelled, "
                                 "completed, problem-alert")


def test_completed_notice_needs_no_window(composer: Composer) -> None:
    composed = composer.prepare(context(NoticeKind.COMPLETED, window=None)).render(NEW_YORK_NURSE)
    assert "now runs version 2026.1.0" in composed.text and "Duration" not in composed.text


def test_recipient_with_an_unknown_zone_is_named(composer: Composer) -> None:
    notice = composer.prepare(context())
    with pytest.raises(NotifyError,
                       match=r"time zone of bad@example\.org: 'Nowhere/Town' is not an IANA time zone"):
        notice.render(Recipient("Bad", "bad@example.org", "", "Nowhere/Town"))


def test_naive_and_inverted_windows_are_refused() -> None:
    with pytest.raises(NotifyError, match="naive"):
        Window(datetime(2026, 1, 1, 22), datetime(2026, 1, 2, 2))
    with pytest.raises(NotifyError, match="before it starts"):
        Window(datetime(2026, 1, 2, 2, tzinfo=LONDON), datetime(2026, 1, 1, 22, tzinfo=LONDON))


def test_override_directory_replaces_only_the_files_it_has(tmp_path: Path) -> None:
    (tmp_path / "advance.subject.txt").write_text("[{{ project }}] {{ version }} on {{ window.day }}\n")
    composed = Composer(tmp_path).prepare(context()).render(NEW_YORK_NURSE)
    assert composed.subject == "[CareNotes] 2026.1.0 on Saturday 14 March 2026"
    assert NY_WINDOW in composed.text  # the packaged body templates are still used


def test_override_with_an_unknown_variable_fails_at_prepare(tmp_path: Path) -> None:
    (tmp_path / "reminder.txt").write_text(
        '{% extends "base.txt" %}{% block body %}{{ go_live }}{% endblock %}')
    composer = Composer(tmp_path)
    composer.prepare(context(NoticeKind.ADVANCE))  # other kinds are unaffected
    with pytest.raises(TemplateError, match=r"notice template reminder\.txt: 'go_live' is undefined"):
        composer.prepare(context(NoticeKind.REMINDER))


def test_override_with_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "advance.html").write_text("<p>\n{% if %}</p>")
    with pytest.raises(TemplateError, match=r"advance.html, line 2"):
        Composer(tmp_path).prepare(context())


def test_override_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="is not a directory"):
        Composer(tmp_path / "missing")


def test_template_code_in_values_is_not_executed(composer: Composer) -> None:
    composed = composer.prepare(context(reason="{{ 7*7 }}", kind=NoticeKind.CANCELLED)).render(
        Recipient("{% raw %}x", "a@example.org"))
    assert "Why: {{ 7*7 }}" in composed.text and "49" not in composed.text
    assert "Hello {% raw %}x," in composed.text
