"""Builds: one immutable, checksummed artifact per commit and version, numbered per version."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from releases.artifacts import buildview
from releases.artifacts.artifact import ArtifactStore, has_entries, pack_tar, tar_directory
from releases.artifacts.buildview import Build, build_of
from releases.artifacts.gitrepo import AppRepo, ResolvedRef, run_build_command
from releases.artifacts.version import BuildId, Version, plan_version
from releases.errors import BuildError
from releases.records.ledger import Ledger, UTCDateTime
from releases.records.reads import rows_of
from releases.settings import build_output_problem, outside_checkout

metadata = MetaData()

builds = Table(
    "builds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("build_number", Integer, nullable=False),
    Column("commit", String(64), nullable=False),
    Column("ref", String(300), nullable=False),
    Column("branch", String(300)),
    Column("subject", Text),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("build_command", Text),
    Column("source_key", String(64), nullable=False, index=True),
    Column("created_by", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    UniqueConstraint("version", "build_number", name="uq_builds_version_number"),
)


def add_subject_column(conn: Connection) -> None:
    """Version 2 keeps the commit's subject line so `show` can say what a build is."""
    conn.execute(text("ALTER TABLE builds ADD COLUMN subject TEXT"))



@dataclass(frozen=True)
class BuildOutcome:
    build: Build
    created: bool


@dataclass(frozen=True)
class BuildRecipe:
    """How to turn a commit into an artifact: archive it, or run a command and pack its output."""

    command: str | None = None
    output: str = ""

    def source_key(self, commit: str) -> str:
        """Identifies the inputs of a build, so a rebuild of the same inputs is recognised."""
        raw = "\0".join([commit, self.command or "", self.output if self.command else ""])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _row_to_build(row: object) -> Build:
    return build_of(row._mapping)  # type: ignore[attr-defined]


def list_builds(conn: Connection, limit: int | None = None) -> list[Build]:
    return buildview.list_builds(rows_of(conn), limit)


def get_build(conn: Connection, build_id: str) -> Build | None:
    return buildview.get_build(rows_of(conn), build_id)


def latest_build(conn: Connection) -> Build | None:
    return buildview.latest_build(rows_of(conn))


def find_by_sha_prefix(conn: Connection, prefix: str) -> list[Build]:
    return buildview.find_by_sha_prefix(rows_of(conn), prefix)


def _existing(conn: Connection, source_key: str, version: Version) -> Build | None:
    row = conn.execute(
        select(builds).where(builds.c.source_key == source_key, builds.c.version == str(version))
        .order_by(builds.c.build_number).limit(1)
    ).first()
    return _row_to_build(row) if row else None


def output_dir(tree: Path, output: str) -> Path:
    """The directory the build command filled, proven to lie inside the checkout `tree`.

    Checked on the resolved path, so that a symlink in the repository (`dist -> /etc`) cannot
    lead the packing out of the checkout, whatever the configuration check let through.
    """
    root = tree.resolve()
    target = (root / output).resolve() if output else root
    if build_output_problem(output) is not None or not target.is_relative_to(root):
        raise BuildError(f"build.output: {outside_checkout(output)}",
                         hint="nothing was built; fix [build].output in the configuration file")
    return target


def _nothing_to_build(resolved: ResolvedRef, recipe: BuildRecipe) -> BuildError:
    """An artifact without files would install an empty release on every host: refused instead."""
    if recipe.command:
        return BuildError(f"the build command left nothing in build.output {recipe.output or '.'!r} "
                          f"for {resolved.commit[:12]} ({resolved.ref}): there is nothing to pack",
                          hint="the build command should fill [build].output; run it by hand in a "
                               "clean checkout to see what it writes")
    return BuildError(f"commit {resolved.commit[:12]} ({resolved.ref}) has no files: there is nothing "
                      "to build", hint="commit the application's files and build again (a commit made "
                                       "with `git commit --allow-empty` on an empty repository holds none)")


def version_file(build_id: BuildId, commit: str) -> str:
    """The VERSION file every release carries: what an installation reports as its build."""
    return f"BUILD={build_id}\nVERSION={build_id.version}\nCOMMIT={commit}\n"


def build_in_version_file(text: str) -> str:
    """The build id a release's VERSION file (`version_file`) names; BuildError when it names none."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not fields.get("BUILD"):
        raise BuildError("the VERSION file names no BUILD",
                         hint="`quarterdeck build` writes it into every release")
    return fields["BUILD"]


def make_build(
    ledger: Ledger,
    store: ArtifactStore,
    repo: AppRepo,
    *,
    ref: str,
    next_push: date,
    recipe: BuildRecipe,
    released: list[Version],
) -> BuildOutcome:
    """Build `ref` once: reuse the existing build of the same inputs, else pack and number a new one.

    The expensive work (checkout, build command, archive) happens before the
    ledger is locked; only numbering and the final re-pack with the VERSION
    file happen under the write lock, so concurrent builds queue briefly and
    never share a number.
    """
    resolved = repo.resolve(ref)
    repo.check_clean(resolved.branch)
    version = plan_version(next_push=next_push, branch=resolved.branch, released=released)
    key = recipe.source_key(resolved.commit)
    with ledger.read() as conn:
        found = _existing(conn, key, version)
    if found:
        return BuildOutcome(found, created=False)

    with tempfile.TemporaryFile(prefix="quarterdeck-src-") as source:
        if recipe.command:
            with repo.worktree(resolved.commit) as tree:
                env = {**os.environ, "QUARTERDECK_VERSION": str(version),
                       "QUARTERDECK_COMMIT": resolved.commit}
                run_build_command(recipe.command, tree, env)
                tar_directory(output_dir(tree, recipe.output), source)
        else:
            repo.archive(resolved.commit, source)
        if not has_entries(source):
            raise _nothing_to_build(resolved, recipe)
        for _attempt in range(5):
            source.seek(0)
            try:
                return _number_and_store(ledger, store, source, resolved, version, key, recipe)
            except IntegrityError:
                continue  # another writer took the number between our read and insert (PostgreSQL)
    raise BuildError("could not reserve a build number after 5 attempts",
                     hint="another quarterdeck is building the same version; try again")


def _number_and_store(ledger: Ledger, store: ArtifactStore, source: BinaryIO, resolved: ResolvedRef,
                      version: Version, key: str, recipe: BuildRecipe) -> BuildOutcome:
    with ledger.write() as conn:
        found = _existing(conn, key, version)
        if found:
            return BuildOutcome(found, created=False)
        highest = conn.execute(select(func.max(builds.c.build_number))
                               .where(builds.c.version == str(version))).scalar()
        build_id = BuildId(version, (highest or 0) + 1)
        temp = store.temp_file()
        try:
            with temp, tarfile.open(fileobj=source, mode="r:") as src:
                pack_tar(src, temp, mtime=resolved.committed_at,
                         version_text=version_file(build_id, resolved.commit))
            artifact = store.add(Path(temp.name))
        except BaseException:
            Path(temp.name).unlink(missing_ok=True)
            raise
        store.share(conn, artifact)
        build = Build(
            id=str(build_id), version=str(version), build_number=build_id.number,
            commit=resolved.commit, ref=resolved.ref, branch=resolved.branch,
            subject=resolved.subject, sha256=artifact.sha256, size=artifact.size,
            build_command=recipe.command, created_by=ledger.actor.who, created_at=ledger.clock(),
        )
        conn.execute(builds.insert().values(source_key=key, **build.__dict__))
        ledger.record(conn, "build.create", build.id,
                      detail={"commit": build.commit, "sha256": build.sha256, "ref": build.ref})
        return BuildOutcome(build, created=True)

