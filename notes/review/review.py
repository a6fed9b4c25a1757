"""Where a build's notes stand in review: draft, approved or withdrawn (pure).

An approval is of a text *and* of the generated notes it was made from: it
stores the sha256 of both. The approved text is what notices send, but only
while the notes generated now are the ones the approver saw; a new
correction, or production moving so the range changes, makes them differ,
and the approval is withdrawn until someone approves again. The state is
derived every time rather than stored, so it can never lag behind history.

A draft is likewise tied to the generated notes it was edited from: a draft
edited from notes that have changed since is stale, and approving it would
approve a text that no longer describes the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import NotesError
from .ledgerview import Approval
from .store import Draft

DRAFT, APPROVED, WITHDRAWN = "draft", "approved", "withdrawn"


class ReviewError(NotesError):
    """The notes cannot be approved or edited in their present state."""


@dataclass(frozen=True)
class Review:
    build_id: str
    audience: str
    state: str  # draft | approved | withdrawn
    generated_sha256: str
    draft: Draft | None
    approval: Approval | None  # the newest approval, standing or withdrawn

    @property
    def approved(self) -> bool:
        return self.state == APPROVED

    @property
    def draft_stale(self) -> bool:
        return self.draft is not None and self.draft.base_sha256 != self.generated_sha256

    @property
    def draft_awaits_approval(self) -> bool:
        """A draft saved after the standing approval, with a different text."""
        return (self.state == APPROVED and self.draft is not None and self.approval is not None
                and self.draft.sha256 != self.approval.notes_sha256)

    def message(self) -> str:
        parts: list[str] = []
        if self.state == APPROVED and self.approval is not None:
            parts.append(f"approved by {self.approval.approved_by} at {_when(self.approval.approved_at)}")
            if self.draft_awaits_approval:
                parts.append("a newer draft awaits approval (notices send the approved text until then)")
        elif self.state == WITHDRAWN and self.approval is not None:
            since = _when(self.approval.approved_at)
            parts.append(f"approval withdrawn: generated notes changed since {since}")
            parts.append("approve again to send them")
        else:
            parts.append("not approved")
            parts.append("edited draft" if self.draft is not None else "generated notes, not edited")
        if self.draft_stale:
            parts.append("the draft was edited from generated notes that have changed since")
        return "; ".join(parts)


def review(build_id: str, audience: str, generated_sha256: str, draft: Draft | None,
           approval: Approval | None) -> Review:
    if approval is None:
        state = DRAFT
    elif approval.generated_sha256 == generated_sha256:
        state = APPROVED
    else:
        state = WITHDRAWN
    return Review(build_id, audience, state, generated_sha256, draft, approval)


@dataclass(frozen=True)
class ToApprove:
    markdown: str
    sha256: str
    from_draft: bool


def text_to_approve(current: Review, generated_markdown: str, generated_sha256: str) -> ToApprove:
    """The draft if there is one (refused when stale), else the generated notes."""
    draft = current.draft
    if draft is None:
        return ToApprove(generated_markdown, generated_sha256, from_draft=False)
    if current.draft_stale:
        raise ReviewError(
            f"the {current.audience} draft of {current.build_id} was edited from generated notes "
            f"that have changed since (saved by {draft.saved_by} at {_when(draft.saved_at)})",
            hint=f"run `quarterdeck notes edit {current.build_id} --audience {current.audience}` to review "
                 "the draft against the new notes, or add --fresh to start again from them")
    return ToApprove(draft.markdown, draft.sha256, from_draft=True)


def already_approved(current: Review, candidate: ToApprove) -> bool:
    """Approving the same text over the same generated notes again would change nothing."""
    return (current.state == APPROVED and current.approval is not None
            and current.approval.notes_sha256 == candidate.sha256)


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"
