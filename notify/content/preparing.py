"""A notice's content made ready before anything is written: the notes it carries (approved, for a
send) and its templates rendered once with everything the readers are told.

What the readers are told beyond the target comes from the ledger here: the trainings recorded
by the notice's creation, the push's calendar entry and, for beta testers, their deadline. A
resumed notice is prepared as of its creation, so it says what its first recipients read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from channels.calendar.scheduling import signoff_deadline
from notify.alerts import problem_alert
from notify.content.compose import PreparedNotice
from notify.content.notes_input import NoticeNotes, audience_of, carries_notes
from notify.content.planning import NoticeRefused, Target, calendar_entry, notice_context
from notify.content.training import list_trainings
from notify.sending.delivery import NoticeEnv, composer_for
from notify.vocabulary import NoticeKind

# The notices that carry each reader's own beta page link: the beta build's, to test and sign
# off; the advance notice's, to see what is tested and ask to join the beta programme.
LINKED = (NoticeKind.BETA_AVAILABLE, NoticeKind.ADVANCE)


def notes_for(env: NoticeEnv, kind: NoticeKind, build: Any, *, require_approved: bool) -> NoticeNotes | None:
    if not carries_notes(kind):
        return None
    notes = env.notes(build, audience_of(kind))
    if require_approved and not notes.approved:
        raise NoticeRefused(f"the {audience_of(kind)} release notes of {build.id} are not approved, so the "
                            f"{kind} notice cannot carry them",
                            hint=f"review them, then: quarterdeck notes approve {build.id} "
                                 f"--audience {audience_of(kind)}")
    return notes


def prepare(env: NoticeEnv, conn: Connection, target: Target, notes: NoticeNotes | None,
            as_of: datetime, notice_id: int | None = None, *, withhold_links: bool = False) -> PreparedNotice:
    """The notice as made at `as_of`, its creation (resumed: `notice_id`, and it says the same).

    A beta-available or advance notice carries each recipient's own link to their beta page, issued at
    `as_of` too, so a resumed send writes the same link; `withhold_links` (previews, test copies)
    shows a stand-in instead, since a link opens its contact's page to whoever holds it."""
    trainings = tuple(t.as_training() for t in list_trainings(conn, target.build_id, as_of=as_of))
    calendar = calendar_entry(conn, target, notice_id=notice_id, domain=env.settings.message_domain,
                              organizer=env.settings.sender_address.addr_spec, stamp=as_of)
    beta = target.kind is NoticeKind.BETA_AVAILABLE
    signoff_by = signoff_deadline(conn, target.build_id, env.rule, as_of) if beta else None
    links = env.personal_links(conn, as_of) if target.kind in LINKED else None
    problem = problem_alert(conn, target.event) if target.kind is NoticeKind.PROBLEM_ALERT else None
    return composer_for(env).prepare(notice_context(
        target, project=env.project, timezone=env.timezone, notes=notes, trainings=trainings,
        support_contact=env.support_contact, downtime=env.downtime, beta_url=env.beta_url,
        signoff_by=signoff_by, as_of=as_of, calendar=calendar, problem=problem),
        links.withhold() if links is not None and withhold_links else links)
