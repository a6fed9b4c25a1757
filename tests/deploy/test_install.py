"""One build on one host, step by step, on a local: directory and on a real sshd."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from releases.hosts.hostspec import HostSpec
from releases.hosts.install import (
    INSTALL_STEPS,
    Commands,
    HostResult,
    InstallJob,
    current_release,
    install_host,
    rollback_host,
)
from releases.hosts.remote import Remote
from releases.hosts.unpack import CheckedArtifact

from .helpers import HostFactory

B1, B2 = "2026.4.0+b1", "2026.4.0+b2"
Opener = Callable[[HostSpec], Remote]
MakeArtifact = Callable[..., CheckedArtifact]


def install(remote: Remote, artifact: CheckedArtifact, build_id: str, *, shared: tuple[str, ...] = (),
            events: list[tuple[str, str]] | None = None, **commands: str) -> HostResult:
    def record(host: HostSpec, step: str, state: str) -> None:
        assert host == remote.spec
        if events is not None:
            events.append((step, state))
    job = InstallJob(build_id, artifact, shared, Commands(**commands, timeout=30))
    return install_host(remote, job, on_step=record)


def test_happy_path_installs_and_reports_each_step(host: HostFactory, remote_of: Opener,
                                                   artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    built = artifact(B1)
    events: list[tuple[str, str]] = []
    result = install(remote, built, B1, events=events, health_check="test -f VERSION && test -x bin/healthy")
    assert (result.state, result.failed_step, result.error) == ("verified", None, None)
    assert (result.previous, result.current, result.switched) == (None, B1, True)
    root = Path(spec.path)
    assert os.readlink(root / "current") == f"releases/{B1}"
    assert (root / "current" / "VERSION").read_text() == f"{B1}\n"
    assert sorted(os.listdir(root)) == ["artifacts", "current", "releases"]
    assert os.listdir(root / "releases") == [B1]
    stored = root / "artifacts" / f"{built.sha256}.tar.gz"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == built.sha256
    assert [t.name for t in result.steps] == [name for name, _ in INSTALL_STEPS]
    assert [t.outcome for t in result.steps] == ["ok"] * 4 + ["skipped", "skipped", "ok", "skipped", "ok"]
    assert all(t.seconds >= 0 for t in result.steps) and result.seconds("upload") > 0
    assert events[:2] == [("connect", "pending"), ("connect", "uploading")]
    assert events[-6:] == [("switch", "switched"), ("post-activate", "switched"),
                           ("post-activate", "switched"), ("health-check", "switched"),
                           ("health-check", "switched"), ("done", "verified")]
    assert len(events) == 2 * len(INSTALL_STEPS) + 1


def test_running_again_is_safe_and_skips_what_is_done(host: HostFactory, remote_of: Opener,
                                                      artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    first, second = artifact(B1), artifact(B2)
    assert install(remote, first, B1).ok
    assert install(remote, second, B2).previous == B1
    again = install(remote, second, B2)
    assert (again.state, again.previous, again.current) == ("verified", B2, B2)
    skipped = {t.name for t in again.steps if t.outcome == "skipped"}
    assert {"upload", "unpack"} <= skipped
    assert sorted(os.listdir(Path(spec.path, "releases"))) == [B1, B2]


def test_leftovers_of_a_killed_run_are_cleared_and_the_install_completes(
        host: HostFactory, remote_of: Opener, artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    first, second = artifact(B1), artifact(B2)
    assert install(remote, first, B1).ok
    root = Path(spec.path)
    os.symlink(f"releases/{B2}", root / "current.tmp-0123456789ab")  # killed between symlink and rename
    (root / "artifacts" / f".{second.sha256}.tar.gz.part-0123456789ab").write_bytes(b"half an upl")
    (root / "releases" / f".{B2}.tmp-0123456789ab" / "app").mkdir(parents=True)  # half unpacked
    assert os.readlink(root / "current") == f"releases/{B1}"
    result = install(remote, second, B2)
    assert (result.state, result.previous, result.current) == ("verified", B1, B2)
    assert sorted(os.listdir(root)) == ["artifacts", "current", "releases"]
    assert sorted(os.listdir(root / "artifacts")) == sorted(f"{a.sha256}.tar.gz" for a in (first, second))
    assert sorted(os.listdir(root / "releases")) == [B1, B2]


def test_a_digest_mismatch_on_the_host_blocks_activation(host: HostFactory, remote_of: Opener,
                                                         artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    second = artifact(B2)
    uploaded = Path(spec.path, "artifacts", f"{second.sha256}.tar.gz")

    def corrupt(host: HostSpec, step: str, state: str) -> None:
        if step == "verify" and state == "uploading" and uploaded.exists():
            data = bytearray(uploaded.read_bytes())
            data[len(data) // 2] ^= 0xFF
            uploaded.write_bytes(bytes(data))
    result = install_host(remote, InstallJob(B2, second), on_step=corrupt)
    assert (result.state, result.failed_step, result.current) == ("failed", "verify", B1)
    assert "the uploaded artifact has sha256 " in (result.error or "")
    assert f"expected {second.sha256[:12]}…; the release was not activated" in (result.error or "")
    assert not uploaded.exists()  # removed, so the next attempt uploads it again
    assert os.listdir(Path(spec.path, "releases")) == [B1]
    assert install(remote, second, B2).ok


def test_a_failing_pre_activate_leaves_the_old_release_running(host: HostFactory, remote_of: Opener,
                                                               artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    result = install(remote, artifact(B2), B2, post_activate="touch post-ran",
                     pre_activate="echo migrating; echo 'migration 42 failed' >&2; exit 4")
    assert (result.state, result.failed_step) == ("failed", "pre-activate")
    assert (result.previous, result.current) == (B1, B1)
    assert result.error == (f"{spec.name}: the pre-activate command failed: `sh -c 'echo migrating; "
                            "echo '\"'\"'migration 42 failed'\"'\"' >&2; exit 4'` exited with 4: "
                            "migration 42 failed")
    assert os.readlink(Path(spec.path, "current")) == f"releases/{B1}"
    assert not Path(spec.path, "releases", B2, "post-ran").exists()
    assert result.switched is False


def test_a_failing_health_check_puts_the_previous_release_back(host: HostFactory, remote_of: Opener,
                                                               artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    shared = Path(spec.path, "shared")
    shared.mkdir()
    commands = {"post_activate": 'echo "$QUARTERDECK_BUILD $(basename "$PWD")" >> ../../shared/post.log',
                "health_check": f'test "$QUARTERDECK_BUILD" != {B2} '
                                '&& test "$QUARTERDECK_RELEASE_DIR" = "$(pwd)"'}
    assert install(remote, artifact(B1), B1, **commands).ok
    events: list[tuple[str, str]] = []
    result = install(remote, artifact(B2), B2, events=events, **commands)
    assert (result.state, result.failed_step) == ("rolled-back", "health-check")
    assert (result.previous, result.current) == (B1, B1)
    assert "the health-check command failed" in (result.error or "")
    assert os.readlink(Path(spec.path, "current")) == f"releases/{B1}"
    assert (shared / "post.log").read_text() == f"{B1} {B1}\n{B2} {B2}\n{B1} {B1}\n"
    assert [t.name for t in result.steps][-3:] == ["health-check", "rollback", "rollback-post-activate"]
    assert events[-1] == ("done", "rolled-back")


def test_a_first_install_that_fails_its_health_check_says_there_is_nothing_to_go_back_to(
        host: HostFactory, remote_of: Opener, artifact: MakeArtifact) -> None:
    spec = host()
    result = install(remote_of(spec), artifact(B1), B1, health_check="exit 1")
    assert (result.state, result.failed_step, result.current) == ("failed", "health-check", B1)
    assert result.error is not None and result.error.endswith(
        f"there is no earlier release to go back to, so current still points at {B1}")


def test_shared_paths_are_linked_into_the_release(host: HostFactory, remote_of: Opener,
                                                  artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    root = Path(spec.path)
    (root / "shared" / "uploads").mkdir(parents=True)
    (root / "shared" / "uploads" / "scan.pdf").write_text("pdf")
    (root / "shared" / "config").mkdir()
    (root / "shared" / "config" / "app.ini").write_text("[db]\n")
    built = artifact(B1, {"uploads/placeholder": b"", "config/app.ini": b"[defaults]\n"})
    result = install(remote, built, B1, shared=("uploads", "config/app.ini"),
                     health_check="test -f uploads/scan.pdf && grep -q db config/app.ini")
    assert result.ok, result.error
    release = root / "releases" / B1
    assert os.readlink(release / "uploads") == "../../shared/uploads"
    assert os.readlink(release / "config" / "app.ini") == "../../../shared/config/app.ini"
    assert install(remote, built, B1, shared=("uploads", "config/app.ini")).ok  # idempotent
    missing = install(remote, artifact(B2), B2, shared=("uploads", "logs"))
    assert (missing.state, missing.failed_step, missing.current) == ("failed", "link-shared", B1)
    assert f"the shared path {root}/shared/logs does not exist" in (missing.error or "")


def test_rollback_host_switches_to_a_release_still_on_disk(host: HostFactory, remote_of: Opener,
                                                           artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    assert install(remote, artifact(B2), B2).ok
    events: list[tuple[str, str]] = []
    back = rollback_host(remote, B1, commands=Commands(health_check="grep -q b1 VERSION"),
                         on_step=lambda h, step, state: events.append((step, state)))
    assert (back.state, back.previous, back.current, back.failed_step) == ("rolled-back", B2, B1, None)
    assert current_release(remote) == B1
    assert events[-1] == ("done", "rolled-back")
    gone = rollback_host(remote, "2026.3.0+b9")
    assert (gone.state, gone.failed_step, gone.current) == ("failed", "switch", B1)
    assert "release 2026.3.0+b9 is not on the host" in (gone.error or "")


def test_a_half_unpacked_release_never_gets_its_name(host: HostFactory, remote_of: Opener, tmp_path: Path,
                                                     artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    good = artifact(B2)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.path.read_bytes()[: good.size // 2])
    digest = hashlib.sha256(truncated.read_bytes()).hexdigest()
    broken = CheckedArtifact(truncated, digest, truncated.stat().st_size, good.entries, good.unpacked_bytes)
    result = install(remote, broken, B2)
    assert (result.state, result.failed_step, result.current) == ("failed", "unpack", B1)
    assert "unpacking the artifact failed: `tar --extract" in (result.error or "")
    assert os.listdir(Path(spec.path, "releases")) == [B1]  # no B2, no temporary directory


def test_a_cancelled_host_stops_before_activation(local_host: HostFactory, remote_of: Opener,
                                                  artifact: MakeArtifact) -> None:
    spec = local_host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    result = install_host(remote, InstallJob(B2, artifact(B2), (), Commands(pre_activate="touch ran")),
                          before_activation=lambda: False)
    assert (result.state, result.current, result.failed_step) == ("cancelled", B1, None)
    assert [t.name for t in result.steps] == ["connect", "upload", "verify", "unpack", "link-shared"]
    assert not Path(spec.path, "releases", B2, "ran").exists()


def test_a_missing_deploy_directory_is_refused(local_host: HostFactory, remote_of: Opener,
                                               artifact: MakeArtifact) -> None:
    spec = local_host()
    os.rmdir(spec.path)
    result = install(remote_of(spec), artifact(B1), B1)
    assert (result.state, result.failed_step) == ("failed", "connect")
    assert f"the deploy directory {spec.path} does not exist" in (result.error or "")
    assert not os.path.exists(spec.path)


def test_current_is_never_missing_while_releases_switch(host: HostFactory, remote_of: Opener,
                                                        artifact: MakeArtifact) -> None:
    spec = host()
    remote = remote_of(spec)
    assert install(remote, artifact(B1), B1).ok
    assert install(remote, artifact(B2), B2).ok
    current = Path(spec.path, "current")
    seen: set[str] = set()
    missing = reads = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal missing, reads
        while not done.is_set():
            try:
                seen.add(os.readlink(current))
            except FileNotFoundError:
                missing += 1
            reads += 1
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for index in range(30):
            remote.switch_symlink(str(current), f"releases/{(B1, B2)[index % 2]}")
            before, deadline = reads, time.monotonic() + 5
            while reads < before + 20 and time.monotonic() < deadline:
                time.sleep(0.0005)  # let the watcher look at each state
    finally:
        done.set()
        watcher.join()
    assert missing == 0
    assert seen == {f"releases/{B1}", f"releases/{B2}"}
    assert sorted(os.listdir(spec.path)) == ["artifacts", "current", "releases"]
