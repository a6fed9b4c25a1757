"""A Keep a Changelog (1.1.0) section from production notes, and where it goes in CHANGELOG.md (pure).

Keep a Changelog groups changes as Added, Changed, Deprecated, Removed, Fixed
and Security; our sections are for hospice readers, so entries are mapped by
their commit type instead: feat → Added, fix and revert → Fixed, security →
Security, everything else → Changed, with breaking changes marked. Internal
entries never reach the changelog.
"""

from __future__ import annotations

import re
from datetime import date

from ..model import Entry, ReleaseNotes
from .markdown import md_escape

KAC_ORDER = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
TYPE_GROUPS = {"feat": "Added", "fix": "Fixed", "revert": "Fixed", "security": "Security",
               "deprecate": "Deprecated", "remove": "Removed"}
DEFAULT_HEADER = """# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).
"""
_RELEASE_HEADING_RE = re.compile(r"^## ", re.MULTILINE)
_UNRELEASED_RE = re.compile(r"^## \[?Unreleased\]?\s*$", re.MULTILINE | re.IGNORECASE)


def changelog_section(notes: ReleaseNotes, version: str, released_on: date) -> str:
    """`## [VERSION] - DATE` and its groups, from the notes' customer-facing entries."""
    groups: dict[str, list[str]] = {}
    for entry in notes.entries:
        if entry.internal or entry.section == "internal":
            continue
        groups.setdefault(_group(entry), []).append(_line(entry))
    lines = [f"## [{md_escape(version)}] - {released_on.isoformat()}", ""]
    if not groups:
        lines += ["- No user-facing changes.", ""]
    for group in KAC_ORDER:
        if group in groups:
            lines += [f"### {group}", "", *groups[group], ""]
    return "\n".join(lines)


def has_version(changelog: str, version: str) -> bool:
    pattern = re.compile(rf"^## \[?{re.escape(md_escape(version))}\]?(\s|$)", re.MULTILINE)
    return pattern.search(changelog) is not None


def prepend_changelog(existing: str | None, section: str, version: str) -> str:
    """CHANGELOG text with `section` as the newest release; unchanged if `version` is already there.

    The new release goes below an `## [Unreleased]` section if the file has
    one (that section stays on top, as Keep a Changelog wants), otherwise
    above the first release heading, otherwise after the file's introduction.
    """
    text = (existing or DEFAULT_HEADER).replace("\r\n", "\n")
    if has_version(text, version):
        return existing if existing is not None else text
    block = section.rstrip("\n") + "\n\n"
    unreleased = _UNRELEASED_RE.search(text)
    if unreleased is not None:
        after = _RELEASE_HEADING_RE.search(text, unreleased.end())
        at = after.start() if after is not None else len(text)
    else:
        first = _RELEASE_HEADING_RE.search(text)
        at = first.start() if first is not None else len(text)
    head = text[:at].rstrip("\n")
    tail = text[at:]
    joined = f"{head}\n\n{block}{tail}" if head else f"{block}{tail}"
    return joined.rstrip("\n") + "\n"


def _group(entry: Entry) -> str:
    if entry.type is None:
        return "Changed"
    return TYPE_GROUPS.get(entry.type, "Changed")


def _line(entry: Entry) -> str:
    scope = f"**{md_escape(entry.scope)}:** " if entry.scope else ""
    breaking = "**Breaking:** " if entry.breaking else ""
    action = f" {md_escape(entry.action)}" if entry.action else ""
    return f"- {breaking}{scope}{md_escape(entry.text)}{action} (`{entry.short_sha}`)"
