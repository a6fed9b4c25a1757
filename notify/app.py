"""What the notify package needs of the application that runs it, stated once.

It is what channels needs (channels.app.ChannelsApp, itself releases'
ReleasesApp) and the two values only pipeline can give notify: its settings,
built from the [notify] table, and the notes a notice carries, which come
from the notes package through the App.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from channels.app import ChannelsApp

if TYPE_CHECKING:
    from notify.content.notes_input import NoticeNotes
    from notify.settings import NotifySettings
    from releases.artifacts.buildview import Build


class NotifyApp(ChannelsApp, Protocol):
    """What notify's commands, sends and gates use of pipeline's App."""

    def notify_settings(self) -> NotifySettings: ...

    def notice_notes(self, build: Build, audience: str) -> NoticeNotes:
        """The notes a notice carries: approved text while the approval stands, else generated."""
        ...
