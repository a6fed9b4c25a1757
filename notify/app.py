"""What the notify package needs of the application that runs it, stated once.

It is what channels needs (channels.app.ChannelsApp, itself releases'
ReleasesApp) and the values only pipeline can give notify: its settings,
built from the [notify] table, the notes a notice carries, which come from
the notes package through the App, and the beta contacts' personal links,
signed with the portal's secret from the environment the configuration names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from channels.app import ChannelsApp

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection

    from notify.content.compose import PersonalLinks
    from notify.content.notes_input import NoticeNotes
    from notify.settings import NotifySettings
    from releases.artifacts.buildview import Build


class NotifyApp(ChannelsApp, Protocol):
    """What notify's commands, sends and gates use of pipeline's App."""

    def notify_settings(self) -> NotifySettings: ...

    def notice_notes(self, build: Build, audience: str) -> NoticeNotes:
        """The notes a notice carries: approved text while the approval stands, else generated."""
        ...

    def personal_links(self, conn: Connection, issued_at: datetime) -> PersonalLinks | None:
        """Each beta contact's own link to their beta page as issued at `issued_at` (a notice's
        creation); None when the portal's link secret is not set."""
        ...
