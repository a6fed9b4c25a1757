"""Training sessions a release comes with; the advance notice and its reminders list them.

A notice lists the trainings that existed when it was created, so resuming
it after a training was added sends the same text as its first recipients
got; a new notice (a reminder, or `--again`) picks up the new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from channels.calendar.calendar import parse_local_datetime
from channels.errors import ChannelsError
from notify.content.compose import Training, training_view
from notify.errors import NotifyError
from notify.store import trainings
from releases.records.ledger import inserted_id

_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
MAX_TITLE = 200


class TrainingError(NotifyError):
    """A training session's time, link or title is unusable; nothing was recorded."""


@dataclass(frozen=True)
class TrainingRecord:
    id: int
    build_id: str
    title: str
    at: datetime
    link: str
    created_at: datetime
    created_by: str

    def as_training(self) -> Training:
        return Training(self.title, self.at, self.link)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "build": self.build_id, "title": self.title, "at": self.at.isoformat(),
                "link": self.link, "created_at": self.created_at.isoformat(), "created_by": self.created_by}


def check_training(*, at_text: str, zone: str, link: str, title: str,
                   now: datetime) -> tuple[datetime, str, str]:
    """The session's instant (UTC), link and title, or a TrainingError naming the bad option."""
    try:
        at = parse_local_datetime(at_text, zone, now=now)
    except ChannelsError as err:
        raise TrainingError(f"--at: {err}", hint=err.hint) from err
    title = title.strip()
    if not title or _CONTROLS.search(title) or len(title) > MAX_TITLE:
        raise TrainingError(f"--title {title!r} must be one line of 1 to {MAX_TITLE} characters")
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError as err:
        raise TrainingError(f"--link {link!r} is not a URL ({err})") from err
    if parts.scheme not in ("https", "http") or not parts.netloc or _CONTROLS.search(link) or " " in link:
        raise TrainingError(f"--link {link!r} is not an http(s) link",
                            hint="give the address of the meeting or recording, e.g. https://meet.example.org/x")
    return at.astimezone(UTC), link, title


def add_training(conn: Connection, build_id: str, *, at: datetime, link: str, title: str, now: datetime,
                 by: str) -> TrainingRecord:
    duplicate = conn.execute(select(trainings.c.id).where(trainings.c.build_id == build_id,
                                                          trainings.c.at == at,
                                                          trainings.c.title == title)).first()
    if duplicate is not None:
        raise TrainingError(f"{build_id} already has the training {title!r} at "
                            f"{at:%Y-%m-%d %H:%M} UTC (#{duplicate.id})")
    result = conn.execute(trainings.insert().values(build_id=build_id, title=title, at=at, link=link,
                                                    created_at=now, created_by=by))
    return TrainingRecord(inserted_id(result), build_id, title, at, link, now, by)


def list_trainings(conn: Connection, build_id: str, *, as_of: datetime | None = None) -> list[TrainingRecord]:
    """The build's sessions in time order; `as_of` keeps only those recorded by then."""
    query = select(trainings).where(trainings.c.build_id == build_id)
    if as_of is not None:
        query = query.where(trainings.c.created_at <= as_of)
    rows = conn.execute(query.order_by(trainings.c.at, trainings.c.id))
    return [TrainingRecord(r.id, r.build_id, r.title, r.at, r.link, r.created_at, r.created_by) for r in rows]


def trainings_for_reader(conn: Connection, build_id: str, *, zone: str, project_zone: str,
                         now: datetime) -> list[dict[str, Any]]:
    """The build's sessions as one reader sees them now: in their zone (and the project's when
    it differs), those already held marked past. The beta page lists them as notices do."""
    reader, project = ZoneInfo(zone), ZoneInfo(project_zone)
    other = project if reader.key != project.key else None
    return [training_view(record.as_training(), reader, other, now)
            for record in list_trainings(conn, build_id)]
