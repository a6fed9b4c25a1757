"""How many releases a host keeps, and which ones may go, with the archives they came from.

Capistrano keeps the newest N and can delete the last release that worked;
here the running release and the last one that passed its health check are
always kept, even when that means keeping more than N. The uploaded archives
(`artifacts/<sha256>.tar.gz`) follow their releases: a host keeps the archives
of the releases it keeps and no others, since a kept release never needs its
archive again unless it is installed afresh. The choice is pure so it can be
tested without a host; `prune_host` only carries it out, and reads what is
running from the host itself rather than trusting a record.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from releases.artifacts.version import BuildId
from releases.errors import BuildError, DeployError
from releases.hosts.hostspec import HostSpec
from releases.hosts.install import current_release
from releases.hosts.remote import Remote

ARCHIVE = re.compile(r"^[0-9a-f]{64}\.tar\.gz$")  # what upload names an archive; anything else is left


@dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[str, ...]      # newest first
    remove: tuple[str, ...]    # oldest first
    ignored: tuple[str, ...]   # directories that are not releases: never touched


@dataclass(frozen=True)
class PruneResult:
    host: HostSpec
    kept: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str | None = None
    archives_removed: tuple[str, ...] = ()


def _build_id(name: str) -> BuildId | None:
    try:
        return BuildId.parse(name)
    except BuildError:
        return None


def choose_removals(releases: Sequence[str], keep: int, *, running: str | None,
                    last_verified: str | None) -> RetentionPlan:
    """Keep the running and last verified releases, then the newest others up to `keep` in all."""
    if keep < 1:
        raise DeployError(f"keep = {keep}: a host must keep at least one release",
                          hint="set the tier's keep to 1 or more")
    ids = {name: bid for name in releases if not name.startswith(".") and (bid := _build_id(name))}
    ignored = tuple(sorted(n for n in releases if n not in ids and not n.startswith(".")))
    newest_first = sorted(ids, key=lambda n: ids[n], reverse=True)
    kept = list(dict.fromkeys(n for n in (running, last_verified) if n is not None and n in ids))
    for name in newest_first:
        if len(kept) >= keep:
            break
        if name not in kept:
            kept.append(name)
    remove = tuple(reversed([n for n in newest_first if n not in kept]))
    return RetentionPlan(keep=tuple(n for n in newest_first if n in kept), remove=remove, ignored=ignored)


def archives_to_remove(archives: Sequence[str], kept: Sequence[str],
                       digests: Mapping[str, str]) -> tuple[str, ...]:
    """The uploaded archives that may go: every one but the archives of the `kept` releases.

    `digests` maps a build id to its artifact's sha256 (from the ledger); a kept release
    whose digest is unknown keeps no archive, and names that upload never writes (hidden
    partial uploads, other files) are not touched.
    """
    wanted = {f"{digests[name]}.tar.gz" for name in kept if name in digests}
    return tuple(sorted(n for n in archives if ARCHIVE.match(n) and n not in wanted))


def prune_host(remote: Remote, keep: int, *, last_verified: str | None,
               digests: Mapping[str, str]) -> PruneResult:
    """Remove the releases `choose_removals` lets go on one host, then the archives
    `archives_to_remove` lets go; raises DeployError on failure."""
    layout = remote.layout
    running = current_release(remote)
    plan = choose_removals(remote.listdir(layout.releases), keep, running=running,
                           last_verified=last_verified)
    removed = []
    for name in plan.remove:
        remote.remove_tree(posixpath.join(layout.releases, name))
        removed.append(name)
    archives = []
    for name in archives_to_remove(remote.listdir(layout.artifacts), plan.keep, digests):
        remote.unlink(posixpath.join(layout.artifacts, name))
        archives.append(name)
    return PruneResult(remote.spec, kept=plan.keep, removed=tuple(removed), archives_removed=tuple(archives))
