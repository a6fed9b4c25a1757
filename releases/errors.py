"""The one error family of the releases package (versions, builds, ledger, deployment).

`HintedError` is the root of every error a release manager is shown as one line and a
hint: releases', and those of channels and notify, which build on releases. (notes stands
alone, so its base repeats the two lines.) `pipeline` decides each one's exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from releases.tiers.promote import GateVerdict


class HintedError(Exception):
    """An error the command line shows as its message and, on a second line, what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageRefused(HintedError):
    """The command line asks for options that contradict each other or lack a companion (exit 2)."""


class ReleasesError(HintedError):
    """Something in building, storing or deploying a release went wrong; the message says what."""


class GatesRefused(ReleasesError):
    """A gate failed and no override was given; nothing was deployed (exit 3).

    The one error for gates refusing a build, for `promote` and for `gates`
    (which asks whether they would); `verdicts` holds every gate's result.
    """

    def __init__(self, message: str, hint: str | None = None, verdicts: Sequence[GateVerdict] = ()) -> None:
        super().__init__(message, hint)
        self.verdicts = tuple(verdicts)


class LedgerError(ReleasesError):
    """The ledger cannot be opened, upgraded or written."""


class BuildError(ReleasesError):
    """A build cannot be made from the requested ref."""


class ArtifactError(ReleasesError):
    """An artifact is missing, damaged or unsafe to unpack."""


class DeployError(ReleasesError):
    """A host could not be reached or a deployment step failed."""


class LockError(ReleasesError):
    """A deploy lock is held by someone else."""


class UnsafeArchiveError(ArtifactError):
    """An artifact holds an entry that would land outside its release directory, or a device file."""


class HostUnreachableError(DeployError):
    """A host refused or dropped the connection; the install on it did not happen or did not finish."""
