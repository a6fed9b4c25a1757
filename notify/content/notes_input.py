"""The release notes a notice carries, as pipeline hands them over, and which notices carry them.

notify must not import the releases package and does not read the notes
package's ledger tables itself: pipeline's `notice_notes(build, audience)`
hook returns a NoticeNotes value, so the notes' approval rules stay in one
place. The sha256 is what the ledger stores with each notice and what the
notice gates compare with the build's approved notes: it identifies the
text the readers were shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from notify.errors import NotifyError
from notify.vocabulary import NoticeKind

PRODUCTION, BETA = "production", "beta"


@dataclass(frozen=True)
class NoticeNotes:
    """A build's release notes for one audience, rendered once by the notes package."""

    markdown: str
    text: str
    html: str       # already sanitised by the notes package: trusted markup in the HTML part
    sha256: str     # of the approved notes (the value the notice gates compare)
    approved: bool
    # The action-required items of these notes in the readers' words, each (the change, what to
    # do; "" when the change says it all): "What you need to do" lists them. The notes package
    # gives them with the text they come from; notes that give none say there is nothing to do.
    actions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        digest = self.sha256
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotifyError(f"release notes sha256 {digest!r} is not a lowercase hex sha256",
                              hint="this is a bug in the notice_notes hook: please report it")


def audience_of(kind: NoticeKind | str) -> str:
    """Which notes a notice carries: beta notes for beta testers, production notes for everyone else."""
    return BETA if NoticeKind(kind) is NoticeKind.BETA_AVAILABLE else PRODUCTION


def carries_notes(kind: NoticeKind | str) -> bool:
    """A cancellation says only that nothing changes, and the release team's alert is about a problem;
    every other kind includes the notes."""
    return NoticeKind(kind) not in (NoticeKind.CANCELLED, NoticeKind.PROBLEM_ALERT)


def mandatory(kind: NoticeKind | str) -> bool:
    """Notices about downtime go to every contact, opted out or not; a beta announcement is optional."""
    return NoticeKind(kind) is not NoticeKind.BETA_AVAILABLE
