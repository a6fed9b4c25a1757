"""What the channels commands share: how they show times and names.

Handlers receive pipeline's App as a `channels.app.ChannelsApp`, so that this
package never imports pipeline. Every value that came from a person or a
file is escaped before Rich sees it: an organisation called "[bold]" is a
name, not markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from channels.settings import zone_of

Add = Callable[..., None]


def esc(value: object) -> str:
    return escape(str(value))


def local(moment: datetime | None, zone: str) -> str:
    """An instant as the release manager reads it: the project zone's wall time and abbreviation."""
    if moment is None:
        return ""
    return f"{moment.astimezone(zone_of(zone)):%Y-%m-%d %H:%M %Z}"


def utc_text(moment: datetime | None) -> str:
    """An instant as a line for readers elsewhere: its UTC wall time, marked UTC."""
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def table(title: str, *columns: str) -> Table:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"
