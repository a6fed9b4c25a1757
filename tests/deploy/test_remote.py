"""The host interface: the same contract on a local: directory and on a real sshd."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from releases.errors import DeployError, HostUnreachableError
from releases.hosts.hostspec import HostSpec
from releases.hosts.remote import ConnectSettings, Remote, command_line
from releases.hosts.ssh import SSHRemote

from .helpers import HostFactory

Opener = Callable[[HostSpec], Remote]


def test_command_line_quotes_every_value() -> None:
    line = command_line(["printf", "%s", "a b; rm -rf /"], cwd="/srv/my app",
                        env={"QUARTERDECK_BUILD": "2026.4.0+b7 $(id)"})
    assert line == ("cd -- '/srv/my app' && env 'QUARTERDECK_BUILD=2026.4.0+b7 $(id)' "
                    "printf %s 'a b; rm -rf /'")
    with pytest.raises(DeployError, match="environment variable name 'BAD NAME'"):
        command_line(["true"], env={"BAD NAME": "x"})


def test_arguments_reach_the_program_unchanged(host: HostFactory, remote_of: Opener, tmp_path: Path) -> None:
    remote = remote_of(host())
    marker = tmp_path / "pwned"
    values = ["a b", "'single'", '"double"', f"$(touch {marker})", "`id`", "; echo injected", "back\\slash",
              "*", "~", "line\nbreak", "ünïcode"]
    result = remote.run(["printf", "%s\\n", *values])
    assert result.ok, result.describe()
    assert result.stdout == "".join(v + "\n" for v in values)
    assert not marker.exists()


def test_cwd_and_environment(host: HostFactory, remote_of: Opener) -> None:
    spec = host()
    remote = remote_of(spec)
    odd = f"{spec.path}/dir with 'quotes' & spaces"
    remote.makedirs(odd)
    result = remote.run(["sh", "-c", 'pwd; printf "%s|%s" "$QUARTERDECK_BUILD" "$OTHER"'], cwd=odd,
                        env={"QUARTERDECK_BUILD": "2026.4.0+b7 $(id)", "OTHER": "x'y"})
    assert result.ok, result.describe()
    assert result.stdout == f"{odd}\n2026.4.0+b7 $(id)|x'y"


def test_commands_see_a_login_environment_not_ours(host: HostFactory, remote_of: Opener,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_SMTP_PASSWORD", "hunter2")
    result = remote_of(host()).run_shell('printf "%s|%s" "${QUARTERDECK_SMTP_PASSWORD-unset}" "$HOME"')
    assert result.stdout == f"unset|{os.path.expanduser('~')}"


def test_failures_are_results_with_their_output(host: HostFactory, remote_of: Opener) -> None:
    remote = remote_of(host())
    result = remote.run_shell("echo partial; echo 'it broke' >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "partial\n", "it broke\n")
    assert result.describe() == ("`sh -c 'echo partial; echo '\"'\"'it broke'\"'\"' >&2; exit 3'` "
                                 "exited with 3: it broke")
    assert remote.run(["quarterdeck-no-such-program"]).exit_code == 127


def test_a_command_that_hangs_times_out(host: HostFactory, remote_of: Opener) -> None:
    spec = host()
    remote = remote_of(spec)
    with pytest.raises(DeployError, match=r"did not finish within 0\.5s") as caught:
        remote.run(["sleep", "5"], timeout=0.5)
    assert spec.name in str(caught.value)


def test_put_is_atomic_and_hashed_on_the_host(host: HostFactory, remote_of: Opener, tmp_path: Path) -> None:
    spec = host()
    remote = remote_of(spec)
    data = os.urandom(300_000)
    local = tmp_path / "payload.bin"
    local.write_bytes(data)
    target = f"{spec.path}/artifacts/payload.bin"
    remote.makedirs(f"{spec.path}/artifacts")
    assert remote.sha256(target) is None
    remote.put(local, target)
    assert Path(target).read_bytes() == data
    assert remote.sha256(target) == hashlib.sha256(data).hexdigest()
    assert remote.listdir(f"{spec.path}/artifacts") == ["payload.bin"]  # no .part- file left behind
    assert remote.kind(target) == "file"
    assert remote.kind(f"{spec.path}/artifacts") == "dir"
    assert remote.kind(f"{spec.path}/nothing") is None


def test_text_links_and_listing(host: HostFactory, remote_of: Opener) -> None:
    spec = host()
    remote = remote_of(spec)
    root = spec.path
    remote.makedirs(f"{root}/releases/a/deep/er")
    remote.makedirs(f"{root}/releases/a/deep/er")  # again: no error
    remote.makedirs(f"{root}/releases/b")
    Path(root, "releases/a/VERSION").write_text("2026.4.0+b1\n")
    assert remote.read_text(f"{root}/releases/a/VERSION") == "2026.4.0+b1\n"
    assert remote.read_text(f"{root}/releases/a/missing") is None
    assert remote.listdir(f"{root}/releases") == ["a", "b"]
    assert remote.listdir(f"{root}/nowhere") == []
    remote.symlink("releases/a", f"{root}/current")
    assert remote.kind(f"{root}/current") == "symlink"
    assert remote.readlink(f"{root}/current") == "releases/a"
    assert remote.readlink(f"{root}/releases") is None
    assert remote.readlink(f"{root}/missing") is None
    assert remote.read_text(f"{root}/current/VERSION") == "2026.4.0+b1\n"
    remote.switch_symlink(f"{root}/current", "releases/b")
    assert os.readlink(f"{root}/current") == "releases/b"
    assert sorted(os.listdir(root)) == ["current", "releases"]  # the temporary link was renamed away
    remote.unlink(f"{root}/current")
    assert not os.path.lexists(f"{root}/current")


def test_remove_tree_stays_inside_the_deploy_root(host: HostFactory, remote_of: Opener,
                                                  tmp_path: Path) -> None:
    spec = host()
    remote = remote_of(spec)
    outside = tmp_path / "precious"
    outside.mkdir()
    for path in (str(outside), spec.path, f"{spec.path}/releases/../..", "/"):
        with pytest.raises(DeployError, match="outside the deploy root"):
            remote.remove_tree(path)
    assert outside.is_dir()
    remote.makedirs(f"{spec.path}/releases/old/sub")
    remote.symlink(str(outside), f"{spec.path}/releases/old/sub/link")
    remote.remove_tree(f"{spec.path}/releases/old")
    assert remote.listdir(f"{spec.path}/releases") == []
    assert outside.is_dir()  # links inside are removed, never followed


def test_an_unreachable_host_is_named(ssh_host: HostFactory, connect: ConnectSettings, cluster) -> None:  # type: ignore[no-untyped-def]
    spec = ssh_host(1)
    cluster.servers[1].stop()
    remote = SSHRemote(spec, connect)
    with pytest.raises(HostUnreachableError) as caught:
        remote.kind(spec.path)
    assert spec.name in str(caught.value)
    assert "--exclude" in (caught.value.hint or "")


def test_a_dropped_connection_is_named(ssh_host: HostFactory, connect: ConnectSettings, cluster) -> None:  # type: ignore[no-untyped-def]
    spec = ssh_host(1)
    remote = SSHRemote(spec, connect)
    assert remote.run(["true"]).ok
    cluster.servers[1].stop()
    with pytest.raises(HostUnreachableError, match=f"{spec.name}: .*(connection dropped|cannot reach)"):
        remote.run(["true"])
    remote.close()


def test_unknown_host_keys_are_refused_when_strict(ssh_host: HostFactory, connect: ConnectSettings,
                                                   tmp_path: Path) -> None:
    spec = ssh_host(0)
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = ConnectSettings(identity_file=connect.identity_file, known_hosts=str(empty))
    with pytest.raises(DeployError, match=f"{spec.name}: the host key is not in known_hosts") as caught:
        SSHRemote(spec, strict).run(["true"])
    assert "ssh-keyscan" in (caught.value.hint or "")
    relaxed = ConnectSettings(identity_file=connect.identity_file, known_hosts=str(empty),
                              strict_host_keys=False)
    trusting = SSHRemote(spec, relaxed)
    assert trusting.run(["true"]).ok
    trusting.close()
    assert empty.read_text() == ""  # trusting a key never writes to the user's file


def test_a_wrong_key_is_an_authentication_error(ssh_host: HostFactory, connect: ConnectSettings,
                                                tmp_path: Path) -> None:
    import subprocess
    spec = ssh_host(0)
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    settings = ConnectSettings(identity_file=str(other), known_hosts=connect.known_hosts)
    env = {k: os.environ.pop(k) for k in ("SSH_AUTH_SOCK",) if k in os.environ}
    try:
        with pytest.raises(DeployError, match=f"{spec.name}: SSH authentication failed"):
            SSHRemote(spec, settings).run(["true"])
    finally:
        os.environ.update(env)


def test_a_missing_sshd_fails_in_ci_and_only_skips_outside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import sshd

    monkeypatch.setattr(sshd, "find_binaries", lambda: (None, "/usr/bin/ssh-keygen"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"sshd not found: install openssh-server.*in CI"):
        sshd.require_binaries()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="sshd not found"):
        sshd.require_binaries()
