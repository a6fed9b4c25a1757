"""The one error family of the releases package (versions, builds, ledger, deployment)."""

from __future__ import annotations


class ReleasesError(Exception):
    """Something in building, storing or deploying a release went wrong; the message says what."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


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
