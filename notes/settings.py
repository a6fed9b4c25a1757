"""The settings of the notes engine, as plain values, and the [notes] table they come from.

`NOTES` declares the table's keys as plain data (the shape is described in
releases.settings; this package imports no other, so the shape is a convention, not a
shared class). pipeline.py checks the file against it with its one checker and builds one
`NotesSettings` with `from_table`; nothing in this package reads the file. A value is
checked by one function, which both the key table and `NotesSettings` call, so a bad
value is reported with the setting's name before any history is read, by `config check`
and by every command alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import SettingsError

AUDIENCES = ("production", "beta", "internal")
CUSTOMER_AUDIENCES = frozenset({"production", "beta"})
# What happens to a commit whose message is not a Conventional Commit: `internal` keeps it (flagged)
# in the internal notes only, `keep` shows it to every audience under Other changes, `drop` leaves it
# out, `fail` refuses to make notes until it is reworded or skipped.
POLICIES = ("internal", "keep", "drop", "fail")
UNMAPPED_SCOPES = ("hide", "show")  # a scope [notes.areas] does not name, in customer notes

BREAKING = "breaking"
FEATURES = "features"
FIXES = "fixes"
PERFORMANCE = "performance"
TRAINING = "training"
OTHER = "other"
INTERNAL = "internal"

DEFAULT_SECTION_ORDER = (BREAKING, FEATURES, FIXES, PERFORMANCE, TRAINING, OTHER, INTERNAL)
DEFAULT_SECTION_TITLES: Mapping[str, str] = MappingProxyType({
    BREAKING: "Action required",
    FEATURES: "New features",
    FIXES: "Fixes",
    PERFORMANCE: "Performance",
    TRAINING: "Training",
    OTHER: "Other changes",
    INTERNAL: "Internal changes",
})
DEFAULT_TYPE_SECTIONS: Mapping[str, str] = MappingProxyType({
    "feat": FEATURES,
    "fix": FIXES,
    "revert": FIXES,
    "perf": PERFORMANCE,
    "security": FIXES,
})
DEFAULT_INTERNAL_TYPES = ("chore", "ci", "test", "refactor", "build", "style", "docs")
# Where a dependency update goes (notes.commits.changes.is_dependency_update) unless its type is internal.
DEPENDENCY_SECTIONS = (INTERNAL, OTHER, FIXES, FEATURES, PERFORMANCE)


@dataclass(frozen=True)
class NotesSettings:
    """How commits become notes; every field has a default that suits most repositories."""

    ticket_url: str = ""  # e.g. "https://tracker.example.org/browse/{ticket}"; "" = ids without links
    ticket_url_public: bool = False  # customers may follow ticket_url: only then do their notes link tickets
    non_conventional: str = "internal"  # internal | keep | drop | fail
    areas: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # scope -> customers' name
    unmapped_scopes: str = "hide"  # hide | show: a scope `areas` does not name, in customer notes
    dependency_section: str = INTERNAL  # the section of dependency updates whose type is not internal
    internal_types: tuple[str, ...] = DEFAULT_INTERNAL_TYPES
    section_order: tuple[str, ...] = DEFAULT_SECTION_ORDER
    section_titles: Mapping[str, str] = field(default_factory=lambda: DEFAULT_SECTION_TITLES)
    type_sections: Mapping[str, str] = field(default_factory=lambda: DEFAULT_TYPE_SECTIONS)
    paths: tuple[str, ...] = ()  # pathspecs passed to `git log --`; () = the whole repository
    templates_dir: Path | None = None  # overrides of notes.md.j2 / notes.txt.j2
    tag_on_production: bool = True  # annotated tag vVERSION on a successful production promotion
    push_tag: bool = False
    tag_remote: str = "origin"
    changelog: bool = False  # prepend a Keep a Changelog section to the repository's changelog
    changelog_path: str = "CHANGELOG.md"

    def __post_init__(self) -> None:
        # Accept lists and strings from a parsed TOML file; store the frozen forms.
        object.__setattr__(self, "internal_types", tuple(t.lower() for t in self.internal_types))
        object.__setattr__(self, "section_order", tuple(self.section_order))
        object.__setattr__(self, "paths", tuple(self.paths))
        object.__setattr__(self, "section_titles", MappingProxyType(dict(self.section_titles)))
        object.__setattr__(self, "type_sections",
                           MappingProxyType({k.lower(): v for k, v in self.type_sections.items()}))
        if self.templates_dir is not None and not isinstance(self.templates_dir, Path):
            templates = Path(self.templates_dir) if self.templates_dir else None
            object.__setattr__(self, "templates_dir", templates)
        problem = areas_problem(self.areas)
        if problem:
            raise SettingsError(f"notes.areas: {problem}")
        object.__setattr__(self, "areas",
                           MappingProxyType({k.strip().lower(): v.strip() for k, v in self.areas.items()}))
        if self.unmapped_scopes not in UNMAPPED_SCOPES:
            raise SettingsError(f"notes.unmapped_scopes is {self.unmapped_scopes!r}",
                                hint=f"use one of: {', '.join(UNMAPPED_SCOPES)}")
        if self.dependency_section not in DEPENDENCY_SECTIONS:
            raise SettingsError(f"notes.dependency_section is {self.dependency_section!r}",
                                hint=f"use one of: {', '.join(DEPENDENCY_SECTIONS)}")
        if self.non_conventional not in POLICIES:
            raise SettingsError(
                f"notes.non_conventional is {self.non_conventional!r}",
                hint=f"use one of: {', '.join(POLICIES)}")
        problem = ticket_url_problem(self.ticket_url)
        if problem:
            raise SettingsError(f"notes.ticket_url: {problem}")
        known = set(DEFAULT_SECTION_ORDER)
        for key in self.section_order:
            if key not in known:
                raise SettingsError(f"notes.section_order names an unknown section {key!r}",
                                    hint=f"sections are: {', '.join(DEFAULT_SECTION_ORDER)}")
        if len(set(self.section_order)) != len(self.section_order):
            raise SettingsError("notes.section_order lists a section twice",
                                hint="name each section once")
        for type_name, section in self.type_sections.items():
            if section not in known or section in (BREAKING, TRAINING, INTERNAL):
                raise SettingsError(
                    f"notes.type_sections maps {type_name!r} to {section!r}",
                    hint="map types to features, fixes, performance or other")
        for key in self.section_titles:
            if key not in known:
                raise SettingsError(f"notes.section_titles names an unknown section {key!r}",
                                    hint=f"sections are: {', '.join(DEFAULT_SECTION_ORDER)}")
        problem = paths_problem(self.paths)
        if problem:
            raise SettingsError(f"notes.paths: {problem}")

    def ordered_sections(self) -> tuple[str, ...]:
        """The configured order, then any section the configuration left out, in default order."""
        rest = tuple(key for key in DEFAULT_SECTION_ORDER if key not in self.section_order)
        return (*self.section_order, *rest)

    def title_of(self, section: str) -> str:
        return self.section_titles.get(section) or DEFAULT_SECTION_TITLES[section]

    def section_of_type(self, ctype: str | None) -> str:
        if ctype is None:
            return OTHER
        return self.type_sections.get(ctype, OTHER)

    def is_internal_type(self, ctype: str | None) -> bool:
        return ctype is not None and ctype in self.internal_types

    def area_of(self, scope: str | None) -> str | None:
        """What customers read for a scope: its name in [notes.areas]; an unmapped one as written or
        not at all, as `unmapped_scopes` says."""
        if not scope:
            return None
        area = self.areas.get(scope.lower())
        if area is not None:
            return area or None
        return scope if self.unmapped_scopes == "show" else None


def ticket_url_problem(url: str) -> str | None:
    """What is wrong with the ticket link pattern, if anything ("" means ids without links)."""
    if not url:
        return None
    if "{ticket}" not in url:
        return f'{url!r} has no {{ticket}} placeholder; write it like "https://tracker.example.org/browse/{{ticket}}"'
    if not url.startswith(("https://", "http://")):
        return f"{url!r} is not an http(s) URL; ticket links must start with https:// or http://"
    return None


def areas_problem(areas: Mapping[str, Any]) -> str | None:
    """What is wrong with the [notes.areas] table (scope = "name customers read"), if anything."""
    for scope, area in areas.items():
        if not isinstance(area, str):
            return f"{scope} = {area!r} is not a string: write the name customers read, like \"Census\""
        if not scope.strip() or any(c in scope for c in "()\n"):
            return f"{scope!r} is not a scope as a commit header writes it, like census in feat(census): ..."
    return None


def paths_problem(paths: Sequence[str]) -> str | None:
    """What is wrong with the pathspecs handed to `git log --`, if anything."""
    bad = next((path for path in paths if not path or path.startswith("-")), None)
    if bad is None:
        return None
    return f"holds {bad!r}, which is not a path; list directories or files of the repository, like 'app/'"


NOTES: dict[str, dict[str, Any]] = {
    "ticket_url": {"type": str, "default": NotesSettings.ticket_url, "check": ticket_url_problem},
    "ticket_url_public": {"type": bool, "default": NotesSettings.ticket_url_public},
    "non_conventional": {"type": str, "default": NotesSettings.non_conventional, "choices": POLICIES},
    "areas": {"type": dict, "default": {}, "check": areas_problem},
    "unmapped_scopes": {"type": str, "default": NotesSettings.unmapped_scopes, "choices": UNMAPPED_SCOPES},
    "dependency_section": {"type": str, "default": NotesSettings.dependency_section,
                           "choices": DEPENDENCY_SECTIONS},
    "internal_types": {"type": list, "default": list(DEFAULT_INTERNAL_TYPES), "item": str},
    "paths": {"type": list, "default": [], "item": str, "check": paths_problem},
    "templates": {"type": str, "default": ""},
    "tag": {"type": bool, "default": NotesSettings.tag_on_production},
    "push_tag": {"type": bool, "default": NotesSettings.push_tag},
    "changelog": {"type": bool, "default": NotesSettings.changelog},
}


def from_table(notes: Mapping[str, Any], base_dir: Path) -> NotesSettings:
    """The checked [notes] table as NotesSettings; `templates` is relative to `base_dir`."""
    return NotesSettings(
        ticket_url=notes["ticket_url"], ticket_url_public=notes["ticket_url_public"],
        non_conventional=notes["non_conventional"], areas=notes["areas"],
        unmapped_scopes=notes["unmapped_scopes"], dependency_section=notes["dependency_section"],
        internal_types=tuple(notes["internal_types"]), paths=tuple(notes["paths"]),
        templates_dir=(base_dir / notes["templates"]) if notes["templates"] else None,
        tag_on_production=notes["tag"], push_tag=notes["push_tag"], changelog=notes["changelog"])


INIT = '''\
[notes]
ticket_url = ""               # e.g. "https://tracker.example.org/browse/{{ticket}}"
ticket_url_public = false     # true: customers may follow ticket_url (else their notes link no tickets)
non_conventional = "internal" # internal (internal notes only, flagged), keep (Other changes), drop, fail
unmapped_scopes = "hide"      # a scope [notes.areas] does not name, in customer notes: hide or show
dependency_section = "internal"  # dependency updates (fix(deps): ...): internal, other, fixes, ...
tag = true                    # tag vVERSION on the commit after a production push
push_tag = false
changelog = false             # prepend a Keep a Changelog section to CHANGELOG.md

# Areas: a scope as commit headers write it = the name customers read ("" hides it)
[notes.areas]
# census = "Census"
# family-portal = "Family portal"

'''


def check_audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise SettingsError(f"audience {audience!r} is not known",
                            hint=f"use one of: {', '.join(AUDIENCES)}")
    return audience
