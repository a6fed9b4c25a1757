"""Installing one build on one host, as an ordered list of small steps of one shape.

Each step takes the `HostRun` value and returns it (updated where it learnt
something), like structlog's processors, so every step can be tested alone and
reported as it runs. The order carries the guarantee: nothing before `switch`
changes what the host serves, `switch` is a single rename, and a failure after
it puts the previous release back. Every step is safe to run again on a host
that already has the artifact or the release directory, which is what resuming
an interrupted rollout does.
"""

from __future__ import annotations

import posixpath
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from releases.errors import ArtifactError, DeployError, HostUnreachableError
from releases.hosts.hostspec import HostSpec, missing_deploy_directory
from releases.hosts.remote import Remote
from releases.hosts.unpack import CheckedArtifact, extract_argv

HostState = Literal["pending", "uploading", "switched", "verified", "rolled-back", "failed",
                    "excluded", "not-started", "cancelled"]
StepCallback = Callable[[HostSpec, str, HostState], None]
Clock = Callable[[], datetime]
Timer = Callable[[], float]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Commands:
    """The tier's configured shell commands (trusted: they come from the configuration file)."""

    pre_activate: str = ""
    post_activate: str = ""
    health_check: str = ""
    timeout: float | None = 900.0


@dataclass(frozen=True)
class InstallJob:
    """What every host of a tier gets: one checked artifact under one build id."""

    build_id: str
    artifact: CheckedArtifact
    shared: tuple[str, ...] = ()
    commands: Commands = field(default_factory=Commands)


@dataclass(frozen=True)
class HostRun:
    """The value each step receives and returns."""

    remote: Remote
    build_id: str
    commands: Commands
    artifact: CheckedArtifact | None = None
    shared: tuple[str, ...] = ()
    previous: str | None = None
    switched: bool = False
    skipped: tuple[str, ...] = ()

    @property
    def release_dir(self) -> str:
        return self.remote.layout.release(self.build_id)

    def skip(self, step: str) -> HostRun:
        return replace(self, skipped=(*self.skipped, step))


@dataclass(frozen=True)
class StepTiming:
    name: str
    seconds: float
    outcome: Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class HostResult:
    """What happened on one host: final state, the failing step and why, and what runs there now."""

    host: HostSpec
    build_id: str
    state: HostState
    failed_step: str | None = None
    error: str | None = None
    previous: str | None = None
    current: str | None = None
    switched: bool = False
    steps: tuple[StepTiming, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.state == "verified"

    def seconds(self, step: str) -> float:
        """Time spent in a step (summed if it ran twice, as post-activate does on a rollback)."""
        return sum(t.seconds for t in self.steps if t.name == step)


Step = Callable[[HostRun], HostRun]


def current_release(remote: Remote) -> str | None:
    """The build id `current` points at, or None before the first install."""
    target = remote.readlink(remote.layout.current)
    if target is None:
        if remote.exists(remote.layout.current):
            raise DeployError(f"{remote.name}: {remote.layout.current} is not a symlink",
                              hint="move it away; quarterdeck switches releases by replacing the symlink")
        return None
    head, name = posixpath.split(target.rstrip("/"))
    if posixpath.basename(head) != "releases" or not name:
        raise DeployError(f"{remote.name}: current points at {target!r}, not at a release directory",
                          hint="point it at releases/<build-id> or remove it")
    return name


def _command(run: HostRun, step: str, command: str, build_id: str) -> None:
    release = run.remote.layout.release(build_id)
    env = {"QUARTERDECK_BUILD": build_id, "QUARTERDECK_RELEASE_DIR": release}
    result = run.remote.run_shell(command, cwd=release, env=env, timeout=run.commands.timeout)
    if not result.ok:
        raise DeployError(f"{run.remote.name}: the {step} command failed: {result.describe()}")


# The steps, in order. Each one is small on purpose.

def connect(run: HostRun) -> HostRun:
    """Reach the host, check its deploy root, and note the release it runs now (to come back to)."""
    remote, layout = run.remote, run.remote.layout
    if remote.kind(layout.root) != "dir":
        raise missing_deploy_directory(remote.name, layout.root)
    previous = current_release(remote)
    for name in remote.listdir(layout.root):
        if name.startswith("current.tmp-"):  # a switch killed between its two halves
            remote.unlink(posixpath.join(layout.root, name))
    remote.makedirs(layout.artifacts)
    remote.makedirs(layout.releases)
    return replace(run, previous=previous)


def upload(run: HostRun) -> HostRun:
    """Send the artifact unless the host already holds these exact bytes."""
    assert run.artifact is not None
    target = run.remote.layout.artifact(run.artifact.sha256)
    if run.remote.kind(target) == "file" and run.remote.sha256(target) == run.artifact.sha256:
        return run.skip("upload")
    partial = f".{posixpath.basename(target)}.part-"
    for name in run.remote.listdir(run.remote.layout.artifacts):
        if name.startswith(partial):  # an upload killed half-way
            run.remote.unlink(posixpath.join(run.remote.layout.artifacts, name))
    run.remote.put(run.artifact.path, target)
    return run


def verify(run: HostRun) -> HostRun:
    """Hash on the host: only bytes with the checked digest are ever unpacked."""
    assert run.artifact is not None
    target = run.remote.layout.artifact(run.artifact.sha256)
    actual = run.remote.sha256(target)
    if actual != run.artifact.sha256:
        if actual is not None:
            run.remote.unlink(target)  # so that the next attempt uploads it afresh
        found = f"sha256 {actual[:12]}…" if actual else "no file"
        raise ArtifactError(f"{run.remote.name}: the uploaded artifact has {found}, expected "
                            f"{run.artifact.sha256[:12]}…; the release was not activated",
                            hint="the transfer or the host's disk damaged it; run the promotion again")
    return run


def unpack(run: HostRun) -> HostRun:
    """Unpack into a hidden directory, then rename: a half-unpacked release never has the final name."""
    assert run.artifact is not None
    remote, layout, final = run.remote, run.remote.layout, run.release_dir
    existing = remote.kind(final)
    if existing == "dir":
        return run.skip("unpack")  # complete by construction: only a finished unpack gets this name
    if existing is not None:
        raise DeployError(f"{remote.name}: {final} exists and is not a directory", hint="remove it")
    prefix = f".{run.build_id}.tmp-"
    for leftover in remote.listdir(layout.releases):
        if leftover.startswith(prefix):
            remote.remove_tree(posixpath.join(layout.releases, leftover))
    temp = posixpath.join(layout.releases, prefix + secrets.token_hex(6))
    remote.makedirs(temp)
    argv = extract_argv(layout.artifact(run.artifact.sha256), temp)
    result = remote.run(argv, timeout=run.commands.timeout)
    if not result.ok:
        remote.remove_tree(temp)
        raise DeployError(f"{remote.name}: unpacking the artifact failed: {result.describe()}")
    remote.rename(temp, final)
    return run


def link_shared(run: HostRun) -> HostRun:
    """Replace each configured shared path in the release with a link into shared/."""
    remote = run.remote
    if not run.shared:
        return run.skip("link-shared")
    for name in run.shared:
        source = remote.layout.shared_path(name)
        if not remote.exists(source):
            raise DeployError(f"{remote.name}: the shared path {source} does not exist",
                              hint="create it on the host (a directory or a file) before deploying")
        link = posixpath.join(run.release_dir, name.strip("/"))
        target = posixpath.relpath(source, posixpath.dirname(link))
        if remote.readlink(link) == target:
            continue
        if remote.exists(link):
            remote.remove_tree(link)
        remote.makedirs(posixpath.dirname(link))
        remote.symlink(target, link)
    return run


def pre_activate(run: HostRun) -> HostRun:
    if not run.commands.pre_activate:
        return run.skip("pre-activate")
    _command(run, "pre-activate", run.commands.pre_activate, run.build_id)
    return run


def switch(run: HostRun) -> HostRun:
    """The one moment the host changes release: a new symlink renamed over `current`."""
    release = run.release_dir
    if run.remote.kind(release) != "dir":
        raise DeployError(f"{run.remote.name}: release {run.build_id} is not on the host ({release})",
                          hint="it may have been removed by retention; promote the build again")
    target = posixpath.relpath(release, run.remote.layout.root)
    run.remote.switch_symlink(run.remote.layout.current, target)
    return replace(run, switched=True)


def post_activate(run: HostRun) -> HostRun:
    if not run.commands.post_activate:
        return run.skip("post-activate")
    _command(run, "post-activate", run.commands.post_activate, run.build_id)
    return run


def health_check(run: HostRun) -> HostRun:
    if not run.commands.health_check:
        return run.skip("health-check")
    _command(run, "health-check", run.commands.health_check, run.build_id)
    return run


BEFORE_SWITCH: tuple[tuple[str, Step], ...] = (
    ("connect", connect), ("upload", upload), ("verify", verify), ("unpack", unpack),
    ("link-shared", link_shared), ("pre-activate", pre_activate))
FROM_SWITCH: tuple[tuple[str, Step], ...] = (
    ("switch", switch), ("post-activate", post_activate), ("health-check", health_check))
INSTALL_STEPS = BEFORE_SWITCH + FROM_SWITCH


class _Runner:
    """Runs steps, timing them and telling `on_step` as each starts and ends."""

    def __init__(self, run: HostRun, on_step: StepCallback | None, timer: Timer) -> None:
        self.run, self.on_step, self.timer = run, on_step, timer
        self.timings: list[StepTiming] = []

    def state(self) -> HostState:
        if self.run.switched:
            return "switched"
        return "uploading" if self.timings else "pending"

    def notify(self, step: str, state: HostState) -> None:
        if self.on_step is not None:
            self.on_step(self.run.remote.spec, step, state)

    def steps(self, steps: tuple[tuple[str, Step], ...]) -> tuple[str, Exception] | None:
        """Run `steps` in order; the failing step's name and error, or None when all passed."""
        for name, step in steps:
            start = self.timer()
            try:
                self.notify(name, self.state())
                skipped = len(self.run.skipped)
                self.run = step(self.run)
                outcome: Literal["ok", "skipped"] = "skipped" if len(self.run.skipped) > skipped else "ok"
                self.timings.append(StepTiming(name, self.timer() - start, outcome))
                self.notify(name, self.state())
            except Exception as err:
                self.timings.append(StepTiming(name, self.timer() - start, "failed"))
                return name, err
        return None


def _text(err: Exception) -> str:
    text = str(err) or type(err).__name__
    hint = getattr(err, "hint", None)
    return f"{text} ({hint})" if hint else text


def _put_back(runner: _Runner, error: str) -> tuple[HostState, str]:
    """After a failure past the switch: switch to the previous release and run post-activate there."""
    run = runner.run
    if run.previous is None or run.previous == run.build_id:
        return "failed", (f"{error}; there is no earlier release to go back to, "
                          f"so current still points at {run.build_id}")
    back = replace(run, build_id=run.previous, skipped=())
    runner.run = back
    failure = runner.steps((("rollback", switch), ("rollback-post-activate", post_activate)))
    if failure is not None:
        return "failed", f"{error}; putting {run.previous} back failed at {failure[0]}: {_text(failure[1])}"
    return "rolled-back", error


def _finish(runner: _Runner, build_id: str, state: HostState, started: datetime, clock: Clock,
            failed_step: str | None = None, error: Exception | str | None = None,
            previous: str | None = None, switched: bool = False) -> HostResult:
    current = None  # unknown when the host is gone: the state and error say what happened
    if not isinstance(error, HostUnreachableError):  # asking again would only wait for another timeout
        try:
            current = current_release(runner.run.remote)
        except Exception:
            pass
    if isinstance(error, Exception):
        error = _text(error)
    result = HostResult(host=runner.run.remote.spec, build_id=build_id, state=state, failed_step=failed_step,
                        error=error, previous=previous, current=current, switched=switched,
                        steps=tuple(runner.timings), started_at=started, finished_at=clock())
    runner.notify("done", state)
    return result


def install_host(remote: Remote, job: InstallJob, *, on_step: StepCallback | None = None,
                 before_activation: Callable[[], bool] | None = None,
                 clock: Clock = utc_now, timer: Timer = time.perf_counter,
                 previous_hint: str | None = None) -> HostResult:
    """Install `job` on one host and report what happened; never raises for a host-side failure.

    `before_activation` is asked just before pre-activate (the first step that
    changes anything beyond files of the new release); returning False stops
    here with state "cancelled", which is how a rollout holds primaries until
    the standbys are verified, and stops them when another host failed.

    `previous_hint` is the release to go back to when `current` already points
    at this build: a rollout killed between the switch and the health check
    leaves the host there, and its resume must still be able to put the old
    release back (the host alone no longer knows which one it was).
    """
    started = clock()
    runner = _Runner(HostRun(remote, job.build_id, job.commands, job.artifact, job.shared), on_step, timer)
    failure = runner.steps(BEFORE_SWITCH[:-1])
    if (failure is None and runner.run.previous == job.build_id and previous_hint
            and previous_hint != job.build_id):
        runner.run = replace(runner.run, previous=previous_hint)
    previous = runner.run.previous
    if failure is None and before_activation is not None and not before_activation():
        return _finish(runner, job.build_id, "cancelled", started, clock, previous=previous,
                       error="stopped before activation: another host of the rollout failed")
    if failure is None:
        failure = runner.steps(BEFORE_SWITCH[-1:] + FROM_SWITCH)
    if failure is None:
        return _finish(runner, job.build_id, "verified", started, clock, previous=previous, switched=True)
    step, err = failure
    if not runner.run.switched:
        return _finish(runner, job.build_id, "failed", started, clock, step, err, previous)
    state, error = _put_back(runner, _text(err))
    return _finish(runner, job.build_id, state, started, clock, step, error, previous, switched=True)


def rollback_host(remote: Remote, to_build_id: str, *, commands: Commands | None = None,
                  on_step: StepCallback | None = None, clock: Clock = utc_now,
                  timer: Timer = time.perf_counter) -> HostResult:
    """Switch a host to a release still on its disk, then post-activate and health-check it.

    The result's state is "rolled-back" when the release is back and healthy,
    "failed" otherwise; a failing health check here is reported, not bounced
    back again, because the release being left is the one that was unwanted.
    """
    started = clock()
    runner = _Runner(HostRun(remote, to_build_id, commands or Commands()), on_step, timer)
    runner.run = replace(runner.run, switched=True)  # states read "switched" while putting back
    failure = runner.steps((("connect", connect),))
    previous = runner.run.previous
    if failure is None:
        failure = runner.steps(FROM_SWITCH)
    if failure is None:
        return _finish(runner, to_build_id, "rolled-back", started, clock, previous=previous, switched=True)
    step, err = failure
    return _finish(runner, to_build_id, "failed", started, clock, step, err, previous,
                   switched=step not in ("connect", "switch"))
