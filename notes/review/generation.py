"""Generating a build's notes: the range, the commits, the corrections, the Markdown.

Apart from notes.workflow (edits, approvals, publishing) because `notes show`
needs only this: it reads the ledger through the application's plain-SQL
reader (notes.ledgerview's queries) and imports neither SQLAlchemy nor the
publishing side, which kept its fixed cost above raw `git log`'s (issue 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..collect.collect import collect_listing
from ..collect.listing import Listing
from ..history.gitlog import GitGraph, iter_commits
from ..history.ranges import NotesRange, TierCommits, resolve_range
from ..model import ReleaseNotes
from ..render.render import Renderer, markdown_to_html, notes_sha256
from ..settings import check_audience
from . import ledgerview
from .ledgerview import Rows

if TYPE_CHECKING:
    from notes.app import NotesApp

PRODUCTION = "production"
CHANNEL_OF_TIER = {"production": "everyone", "staging": "beta"}


@dataclass(frozen=True)
class Generated:
    """The notes generated now for one build and audience, and the range they cover."""

    build_id: str
    audience: str
    range: NotesRange
    listing: Listing = field(repr=False)  # the notes before their entries are frozen (`notes`)
    markdown: str
    sha256: str

    @cached_property
    def notes(self) -> ReleaseNotes:
        """The notes as values, frozen from the listing when first asked for: `notes show` in
        Markdown never asks (see notes.listing)."""
        return self.listing.notes()


def generate(app: NotesApp, build: Any, audience: str = PRODUCTION, *, since: str | None = None,
             rows: Rows | None = None) -> Generated:
    """The notes of `build` for `audience` as they would be generated now, stored corrections applied."""
    check_audience(audience)
    settings = app.notes_settings()
    if rows is None:
        with app.ledger_rows({"notes": ledgerview.SCHEMA_VERSION}) as read:
            return generate(app, build, audience, since=since, rows=read)
    fixes = ledgerview.correction_map(rows)
    approval = ledgerview.latest_approval(rows, build.id, PRODUCTION)
    repo = app.config.repo
    tiers = _tier_commits(app, build)
    span = resolve_range(GitGraph(repo), build.commit, audience, tiers, since=since,
                         approved=approval is not None,
                         approved_since=approval.since_commit if approval else None)
    commits = iter_commits(repo, span.until, span.since, settings.paths)
    listing = collect_listing(commits, settings, audience, corrections=fixes, version=build.version,
                              project=app.config.project_name, since=span.label, until=span.until[:7])
    markdown = Renderer(settings.templates_dir).markdown(listing)
    return Generated(build.id, audience, span, listing, markdown, notes_sha256(markdown))


def _tier_commits(app: NotesApp, build: Any) -> TierCommits:
    """What runs on production and staging, and what ran there before the build."""
    production = app.tier_commit(CHANNEL_OF_TIER["production"])
    staging = app.tier_commit(CHANNEL_OF_TIER["staging"])
    before = app.tier_commit_before
    return TierCommits(
        production, staging,
        production_before=before(CHANNEL_OF_TIER["production"], build.id) if production else None,
        staging_before=before(CHANNEL_OF_TIER["staging"], build.id) if staging else None)


def render_generated(app: NotesApp, generated: Generated, fmt: str) -> str:
    """The generated notes in `fmt`; Markdown (and the HTML made from it) is the text `generate` made."""
    if fmt == "md":
        return generated.markdown  # rendered once already, for its sha256: no second rendering
    if fmt == "html":
        return markdown_to_html(generated.markdown)
    return Renderer(app.notes_settings().templates_dir).render(generated.notes, fmt)
