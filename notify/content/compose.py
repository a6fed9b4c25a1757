"""Notices as text: a context value and a recipient in, subject + text + HTML out.

Pure (templates are read once when the Composer is built). The work is split
so that what is the same for every recipient is done once per notice:
`Composer.prepare(context)` checks the context, inlines the CSS into the
release notes HTML and test-renders every template, so a broken override or
a missing value fails before a single message exists; `PreparedNotice.render
(recipient)` then only formats dates in the recipient's zone and fills the
small per-recipient shell. The notes reach the HTML shell as an opaque token
that is swapped for the pre-inlined notes after the shell's own CSS inlining,
so a 1 MB release note is not re-parsed once per recipient.

Every text value is data for the templates, never template source, and the
HTML templates autoescape it; only `notes_html`, which the notes package has
already sanitised, is trusted markup.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from markupsafe import Markup, escape

from channels.settings import zone_problem
from notify.content.calendar_entry import CalendarEntry, invitation
from notify.content.wording import (
    ACTIONS_INTRO,
    NO_CONTACT,
    availability,
    format_day,
    format_duration,
    format_moment,
    format_window,
    plain_availability,
    user_action,
)
from notify.errors import NotifyError, TemplateError
from notify.mail.calendar_part import Invitation
from notify.mail.message import single_line
from notify.vocabulary import NoticeKind

if TYPE_CHECKING:
    from notify.alerts import ProblemAlert


@dataclass(frozen=True)
class Window:
    """A maintenance window as aware instants (the zone they carry does not matter)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise NotifyError(f"window {self.start.isoformat()} – {self.end.isoformat()} has a naive time",
                              hint="windows must be aware datetimes (the calendar returns them that way)")
        if self.duration <= timedelta(0):
            raise NotifyError(f"window ends ({self.end.isoformat()}) before it starts "
                              f"({self.start.isoformat()})")

    @property
    def duration(self) -> timedelta:
        """Elapsed time. Computed in UTC: subtracting two datetimes that share a ZoneInfo gives the
        wall-clock difference, which is an hour off across a DST change."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


@dataclass(frozen=True)
class Training:
    title: str
    at: datetime
    link: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise NotifyError(f"training {self.title!r} at {self.at.isoformat()} has no time zone")


@dataclass(frozen=True)
class Action:
    """A change readers must act on (a breaking change in the notes) and what they must do."""

    change: str
    todo: str = ""


@dataclass(frozen=True)
class NoticeContext:
    """Everything a notice says that is the same for every recipient."""

    kind: NoticeKind
    project: str
    build_id: str
    version: str
    project_zone: str                       # IANA name; shown alongside each recipient's own zone
    notes_text: str = ""                    # rendered once by the notes package
    notes_html: str = ""                    # rendered AND sanitised once by the notes package
    window: Window | None = None            # the (new, cancelled or completed) maintenance window
    previous_window: Window | None = None   # rescheduled: the window it replaces
    trainings: tuple[Training, ...] = ()
    reason: str = ""                        # rescheduled / cancelled: why
    actions: tuple[Action, ...] = ()        # the notes' action-required items
    user_action: str = ""                   # what users must do, said in full; empty = from `actions`
    feedback: str = ""                      # beta: how to report problems and sign off
    support_contact: str = ""               # whom to call or write to; empty = reply to the notice
    downtime: str = ""                      # the unavailability sentence; empty = DEFAULT_DOWNTIME
    beta_url: str = ""                      # beta-available: the address of the beta system
    signoff_by: datetime | None = None      # beta-available: sign off or report by then
    as_of: datetime | None = None           # when the notice was made: trainings before it are past
    calendar: CalendarEntry | None = None   # the push's entry in the readers' calendars
    problem: ProblemAlert | None = None     # problem-alert: the blocker the release team is told of


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    organisation: str = ""
    time_zone: str = ""                     # IANA name; empty = the project's zone


# What differs between the recipients of one zone: the stencil (notify.mail.stencil) marks these.
PERSONAL = ("recipient_name", "organisation", "email", "personal_link")


class PersonalLinks(Protocol):
    """Each beta contact's own link to their beta page, as made when the notice was created
    (channels.portal.access.ContactLinks, through the App's `personal_links` hook)."""

    @property
    def expires(self) -> datetime: ...

    def url(self, organisation: str, email: str) -> str | None: ...

    def withhold(self) -> PersonalLinks: ...


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str
    invitation: Invitation | None = None    # the calendar entry, the same for every recipient


_NEEDS = {
    NoticeKind.PROBLEM_ALERT: ("problem",),
    NoticeKind.ADVANCE: ("window",),
    NoticeKind.REMINDER: ("window",),
    NoticeKind.RESCHEDULED: ("window", "previous_window"),
    NoticeKind.CANCELLED: ("window",),
}
_LINKABLE = ("http", "https", "mailto")
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")  # template seams leave runs of blank lines in the text part


class Composer:
    """Loads the notice templates: packaged ones, or same-named files from an override directory."""

    def __init__(self, templates: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("notify", "templates")]
        if templates is not None:
            if not Path(templates).is_dir():
                raise TemplateError(f"notify.templates: {templates} is not a directory",
                                    hint="create it with copies of the templates to change, "
                                         "or remove the setting")
            loaders.insert(0, jinja2.FileSystemLoader(str(templates)))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )
        self._env.filters["paragraphs"] = _paragraphs
        self._css = self._source("notice.css")
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False)

    def prepare(self, context: NoticeContext, links: PersonalLinks | None = None) -> PreparedNotice:
        """Check the context and do the once-per-notice work; raises before anything is sent.
        `links`: each recipient's own beta page link (beta-available notices, portal set up)."""
        try:
            kind = NoticeKind(context.kind)
        except ValueError:
            raise NotifyError(f"{context.kind!r} is not a notice kind",
                              hint=f"kinds are: {', '.join(k.value for k in NoticeKind)}") from None
        for name in _NEEDS.get(kind, ()):
            if getattr(context, name) is None:
                raise NotifyError(f"a {kind} notice for {context.build_id} needs a {name.replace('_', ' ')}",
                                  hint="schedule the push first (quarterdeck schedule …)")
        project_zone = _zone(context.project_zone, "the project's time zone")
        notes = context.notes_html if context.notes_html.strip() else (
            Markup("<pre>{}</pre>").format(context.notes_text) if context.notes_text.strip() else "")
        try:
            notes_html = self._inliner.inline_fragment(f'<div class="notes">{notes}</div>',
                                                       self._css) if notes else ""
        except css_inline.InlineError as err:
            raise TemplateError(f"cannot inline notice.css into the release notes: {err}") from err
        templates = {part: self._template(f"{kind}.{part}") for part in ("subject.txt", "txt", "html")}
        entry = None
        if context.calendar is not None and context.window is not None:
            entry = invitation(context.calendar, context.window, project=single_line(context.project),
                               version=single_line(context.version),
                               description=plain_availability(context, kind))
        notice = PreparedNotice(context, project_zone, templates, notes_html, self._inliner, entry, links)
        notice.render(Recipient(name="Test Recipient", email="test@example.org", organisation="Test"))
        return notice

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateNotFound as err:
            raise TemplateError(f"notice template {err.name!r} not found",
                                hint="an override directory only needs the files it changes") from err
        except jinja2.TemplateSyntaxError as err:
            where = err.filename or err.name
            raise TemplateError(f"notice template {where}, line {err.lineno}: {err.message}") from err

    def _source(self, name: str) -> str:
        loader = self._env.loader
        assert loader is not None
        try:
            return loader.get_source(self._env, name)[0]
        except jinja2.TemplateNotFound as err:
            raise TemplateError(f"notice stylesheet {name!r} not found") from err


@dataclass(frozen=True)
class PreparedNotice:
    """A notice ready to be rendered for any number of recipients."""

    context: NoticeContext
    project_zone: ZoneInfo
    templates: dict[str, jinja2.Template]
    notes_html: str
    inliner: css_inline.CSSInliner
    invitation: Invitation | None = None
    links: PersonalLinks | None = None
    token: str = field(default_factory=lambda: f"qdnotes{secrets.token_hex(16)}")

    def personal(self, recipient: Recipient) -> dict[str, str]:
        """The values of PERSONAL the templates receive for `recipient`, cleaned as they show them."""
        link = self.links.url(recipient.organisation, recipient.email) if self.links is not None else None
        return {"recipient_name": single_line(recipient.name),
                "organisation": single_line(recipient.organisation),
                "email": recipient.email, "personal_link": link or ""}

    def render(self, recipient: Recipient) -> Composed:
        return self.render_personal(recipient.time_zone, self.personal(recipient), recipient.email)

    def render_personal(self, time_zone: str, personal: dict[str, str], who: str) -> Composed:
        """The notice for a reader in `time_zone` (empty: the project's) with these PERSONAL values;
        `who` names them when their zone is not one."""
        zone = _zone(time_zone, f"the time zone of {who}") if time_zone else self.project_zone
        values = self._values(personal, bool(time_zone), zone)
        subject = single_line(self._render("subject.txt", values))
        text = _BLANK_RUNS.sub("\n\n", self._render("txt", {**values, "notes_html": ""}))
        shell = self._render("html", {**values, "notes_html": Markup(self.token)})
        try:
            html = self.inliner.inline(shell)
        except css_inline.InlineError as err:
            raise TemplateError(f"cannot inline the CSS of {self.context.kind}.html: {err}") from err
        return Composed(subject, text, html.replace(self.token, self.notes_html), self.invitation)

    def _render(self, part: str, values: dict[str, Any]) -> str:
        template = self.templates[part]
        try:
            return template.render(values)
        except jinja2.UndefinedError as err:
            raise TemplateError(
                f"notice template {template.name}: {err.message}",
                hint="the variables a template gets are listed in notify/content/compose.py") from err
        except jinja2.TemplateError as err:
            raise TemplateError(f"notice template {template.name}: {err}") from err

    def _values(self, personal: dict[str, str], zone_known: bool, zone: ZoneInfo) -> dict[str, Any]:
        ctx, project_zone = self.context, self.project_zone
        other = zone.key != project_zone.key
        trainings = [training_view(t, zone, project_zone if other else None, ctx.as_of)
                     for t in ctx.trainings]
        return {
            "kind": str(ctx.kind),
            "project": single_line(ctx.project),
            "build_id": single_line(ctx.build_id),
            "version": single_line(ctx.version),
            **personal,
            "link_until": format_moment(self.links.expires, zone) if self.links is not None else "",
            "zone": zone.key,
            "zone_known": zone_known,  # the contact gave it: "your time zone"
            "project_zone": project_zone.key,
            "window": _window_view(ctx.window, zone, project_zone if other else None),
            "previous_window": _window_view(ctx.previous_window, zone, project_zone if other else None),
            "trainings": [t for t in trainings if not t["past"]],
            "past_trainings": [t for t in trainings if t["past"]],
            "reason": ctx.reason.strip(),
            "actions_intro": ACTIONS_INTRO,
            "actions": [{"change": single_line(a.change), "todo": single_line(a.todo)} for a in ctx.actions],
            "user_action": user_action(ctx),
            "availability": availability(ctx, NoticeKind(ctx.kind)),
            "calendar_attached": self.invitation is not None,
            "feedback": ctx.feedback.strip(),
            "beta_url": ctx.beta_url.strip(),
            "beta_linkable": _linkable(ctx.beta_url.strip()),
            "signoff_by": format_moment(ctx.signoff_by, zone) if ctx.signoff_by else "",
            "support_contact": ctx.support_contact.strip() or NO_CONTACT,
            "notes_text": ctx.notes_text.strip(),
            "has_notes": bool(ctx.notes_text.strip() or ctx.notes_html.strip()),
            "problem": ctx.problem.view(zone) if ctx.problem is not None else None,
        }


# -- the values of the templates -----------------------------------------------------------------

def _window_view(window: Window | None, zone: ZoneInfo,
                 project_zone: ZoneInfo | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "local": format_window(window, zone),
        "project": format_window(window, project_zone) if project_zone else None,
        "day": format_day(window.start.astimezone(zone)),
        "duration": format_duration(window.duration),
    }


def training_view(training: Training, zone: ZoneInfo, project_zone: ZoneInfo | None,
                  as_of: datetime | None) -> dict[str, Any]:
    """A session as a reader sees it, in their zone (and the project's, when it differs): the
    notices and the beta page show trainings through this one view."""
    link = training.link.strip()
    return {
        "past": as_of is not None and training.at.astimezone(UTC) < as_of.astimezone(UTC),
        "title": single_line(training.title),
        "local": format_moment(training.at, zone),
        "project": format_moment(training.at, project_zone) if project_zone else None,
        "link": link,
        "linkable": _linkable(link),
    }


def _linkable(link: str) -> bool:
    """Only web and mail links become anchors; anything else (javascript:, data:) stays text."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return parts.scheme.lower() in _LINKABLE and bool(parts.netloc or parts.scheme.lower() == "mailto")


def _paragraphs(text: str) -> Markup:
    """Plain text as escaped HTML paragraphs: blank lines split paragraphs, single newlines break lines."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    return Markup("").join(Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in
                                                                             block.splitlines()))
                           for block in blocks)


def _zone(name: str, what: str) -> ZoneInfo:
    """The zone times are shown in (its IANA name is shown too), checked by channels' one zone
    check, as the configuration and the contacts import check it."""
    problem = zone_problem(name)
    if problem:
        raise NotifyError(f"{what}: {problem}", hint="use a name such as America/Chicago or Europe/London")
    return ZoneInfo(name)
