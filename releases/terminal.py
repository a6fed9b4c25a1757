"""How the commands lay out a table for a person at an 80-column terminal.

One way for every package (channels and notify build on releases): a column
that is empty in every row is left out rather than taking its share of the
width, and the title is never wrapped to the width of a narrow table. The
words a verdict is shown in (pass, FAIL) and the gate table, which `gates`
and `promote` both print, are here too, so both commands say the same.
Rich is imported by the functions, as only commands that print load it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.table import Table

    from releases.tiers.promote import GateVerdict  # channels' GateResult is one too


@dataclass(frozen=True)
class Col:
    """A column: its header, how its cells line up, and whether it stays when every cell is empty."""

    name: str
    justify: Literal["left", "right"] = "left"
    keep: bool = False


def _plain(cell: str) -> str:
    from rich.text import Text

    return Text.from_markup(cell).plain.strip()


def table(title: str, columns: Sequence[str | Col], rows: Sequence[Sequence[str]], *,
          sections: Collection[int] = (), **options: Any) -> Table:
    """A Rich table of `rows` (markup strings) under `title`, without the columns no row fills.

    `sections` are the indexes of rows that end a group (a tier's hosts);
    `options` go to Rich's Table (box=None for a live display).
    """
    from rich.table import Table

    specs = [c if isinstance(c, Col) else Col(c) for c in columns]
    shown = [i for i, spec in enumerate(specs) if spec.keep or any(_plain(row[i]) for row in rows)]
    grid = Table(title=title or None, title_justify="left", min_width=len(_plain(title)) if title else None,
                 **options)
    for i in shown:
        grid.add_column(specs[i].name, justify=specs[i].justify, overflow="fold")
    for n, row in enumerate(rows):
        grid.add_row(*(row[i] for i in shown), end_section=n in sections)
    return grid


def result_cell(passed: bool) -> str:
    """A verdict as every table shows it."""
    return "[green]pass[/green]" if passed else "[red]FAIL[/red]"


def gate_table(verdicts: Sequence[GateVerdict], title: str) -> Table:
    """The gates and the facts behind each verdict: what `gates` prints and what `promote` shows."""
    from rich.markup import escape

    return table(title, ("gate", "result", "facts"),
                 [(g.gate, result_cell(g.passed), escape(g.detail)) for g in verdicts])
