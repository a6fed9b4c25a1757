"""Calendar versions and build ids, pure.

A build is versioned for the quarter it ships in (`2026.4.0`); a hotfix from
`release/2026.4` after that release shipped gets the next patch. The build
number counts attempts at one version, so `2026.4.0+b7` is the seventh build
meant to ship as 2026.4.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from releases.errors import BuildError

_VERSION = re.compile(r"^(\d{4})\.([1-4])\.(\d+)$")
_BUILD_ID = re.compile(r"^(\d{4}\.[1-4]\.\d+)\+b(\d+)$")
_RELEASE_BRANCH = re.compile(r"^release/(\d{4})\.([1-4])$")


@dataclass(frozen=True, order=True)
class Version:
    year: int
    quarter: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.year}.{self.quarter}.{self.patch}"

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if not match:
            raise BuildError(f"{text!r} is not a version like 2026.4.0")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    @property
    def release_branch(self) -> str:
        return f"release/{self.year}.{self.quarter}"


@dataclass(frozen=True, order=True)
class BuildId:
    version: Version
    number: int

    def __str__(self) -> str:
        return f"{self.version}+b{self.number}"

    @classmethod
    def parse(cls, text: str) -> BuildId:
        match = _BUILD_ID.match(text.strip())
        if not match:
            raise BuildError(f"{text!r} is not a build id like 2026.4.0+b7")
        return cls(Version.parse(match[1]), int(match[2]))


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def release_branch_quarter(branch: str | None) -> tuple[int, int] | None:
    """The quarter a `release/YYYY.Q` branch stabilises, or None for any other branch."""
    if not branch:
        return None
    match = _RELEASE_BRANCH.match(branch)
    return (int(match[1]), int(match[2])) if match else None


def plan_version(*, next_push: date, branch: str | None, released: Iterable[Version]) -> Version:
    """The version a build of `branch` gets.

    Mainline builds are for the next quarterly push. A build from
    `release/YYYY.Q` is for that quarter: while YYYY.Q.0 has not shipped it is
    still a candidate for it; after a release of that quarter shipped it is a
    hotfix, one patch above the highest one shipped.
    """
    quarter = release_branch_quarter(branch)
    if quarter is None:
        year, q = quarter_of(next_push)
        return Version(year, q, 0)
    year, q = quarter
    shipped = [v.patch for v in released if (v.year, v.quarter) == (year, q)]
    return Version(year, q, max(shipped) + 1 if shipped else 0)
