"""Uploads through OpenSSH's own client against real sshd: pinned to the control connection's host key,
no secrets handed over, failures named, and paramiko's SFTP when there is no `ssh` program."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from releases.errors import DeployError, HostUnreachableError
from releases.hosts import openssh
from releases.hosts.hostspec import HostSpec
from releases.hosts.install import Commands
from releases.hosts.remote import ConnectSettings, Remote, open_remote
from releases.hosts.rollout import DeployPlan, TierTarget, roll_out
from releases.hosts.ssh import SSHRemote
from releases.hosts.unpack import CheckedArtifact
from tests.support.sshd import SshdCluster

from .helpers import HostFactory

REAL_SSH = shutil.which("ssh")
needs_ssh = pytest.mark.skipif(REAL_SSH is None and os.environ.get("CI", "").lower() != "true",
                               reason="the OpenSSH client (ssh) is not installed")


@pytest.fixture(autouse=True)
def _fresh_client_lookup() -> Iterator[None]:
    """`openssh.client()` remembers where ssh is; these tests change PATH."""
    openssh.client.cache_clear()
    yield
    openssh.client.cache_clear()


@pytest.fixture
def logged_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real ssh behind a wrapper that writes down its arguments and environment first."""
    assert REAL_SSH is not None
    bin_dir, log = tmp_path / "ssh-bin", tmp_path / "ssh.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\necho ---ENV--- >> {log}\n'
                       f'env >> {log}\nexec {REAL_SSH} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def _payload(tmp_path: Path, size: int = 2_000_000) -> tuple[Path, bytes]:
    data = os.urandom(size)
    local = tmp_path / "payload.bin"
    local.write_bytes(data)
    return local, data


@needs_ssh
def test_the_upload_runs_ssh_pinned_to_the_accepted_key_without_our_secrets(
        ssh_host: HostFactory, connect: ConnectSettings, tmp_path: Path, logged_ssh: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_SMTP_PASSWORD", "hunter2")
    spec = ssh_host(0)
    local, data = _payload(tmp_path)
    target = f"{spec.path}/artifacts/payload.bin"
    with SSHRemote(spec, connect) as remote:
        remote.makedirs(f"{spec.path}/artifacts")
        remote.put(local, target)
        assert remote.listdir(f"{spec.path}/artifacts") == ["payload.bin"]  # no .part- left behind
    assert Path(target).read_bytes() == data
    argv, env = logged_ssh.read_text().split("---ENV---\n")
    args = argv.splitlines()
    assert f"HostKeyAlias={openssh.PIN_ALIAS}" in args and "StrictHostKeyChecking=yes" in args
    assert "BatchMode=yes" in args and "GlobalKnownHostsFile=/dev/null" in args
    assert args[-3:-1] == ["--", "127.0.0.1"] and args[-1].startswith("cat > ")
    assert str(connect.identity_file) in args
    assert "hunter2" not in argv + env and "QUARTERDECK_SMTP_PASSWORD" not in env
    pinned = next(a.split("=", 1)[1] for a in args if a.startswith("UserKnownHostsFile="))
    assert not os.path.exists(pinned)  # the one-line known-hosts file is removed afterwards


@needs_ssh
def test_without_strict_checking_the_pin_still_holds_and_no_known_hosts_file_is_written(
        ssh_host: HostFactory, connect: ConnectSettings, tmp_path: Path, logged_ssh: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    relaxed = ConnectSettings(identity_file=connect.identity_file, known_hosts=str(empty),
                              strict_host_keys=False, connect_timeout=5)
    spec = ssh_host(0)
    local, data = _payload(tmp_path)
    with SSHRemote(spec, relaxed) as remote:
        remote.put(local, f"{spec.path}/payload.bin")
    assert Path(spec.path, "payload.bin").read_bytes() == data
    assert logged_ssh.exists()
    assert empty.read_text() == ""


def test_without_an_ssh_program_paramiko_uploads(ssh_host: HostFactory, connect: ConnectSettings,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    assert openssh.client() is None
    spec = ssh_host(0)
    local, data = _payload(tmp_path)
    with SSHRemote(spec, connect) as remote:
        remote.put(local, f"{spec.path}/payload.bin")
        assert remote.listdir(spec.path) == ["payload.bin"]
    assert hashlib.sha256(Path(spec.path, "payload.bin").read_bytes()).hexdigest() == \
        hashlib.sha256(data).hexdigest()


@needs_ssh
def test_an_ssh_client_that_fails_on_its_own_falls_back_to_paramiko_for_that_host(
        ssh_host: HostFactory, connect: ConnectSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Like an old client that rejects an algorithm we ask for: ssh exits 255 while the host is fine."""
    bin_dir, calls = tmp_path / "old-ssh", tmp_path / "calls"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(f'#!/bin/sh\ntest "$1" = -Q || echo call >> {calls}\n'
                                 f'exec {REAL_SSH} -o KexAlgorithms=no-such-kex "$@"\n')
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    spec = ssh_host(0)
    local, data = _payload(tmp_path)
    with SSHRemote(spec, connect) as remote:
        remote.put(local, f"{spec.path}/first.bin")
        remote.put(local, f"{spec.path}/second.bin")
        assert remote.listdir(spec.path) == ["first.bin", "second.bin"]
    assert Path(spec.path, "first.bin").read_bytes() == data == Path(spec.path, "second.bin").read_bytes()
    assert calls.read_text() == "call\n"  # tried once on this host, then straight to SFTP


@needs_ssh
def test_a_failing_remote_write_is_named_and_leaves_nothing(ssh_host: HostFactory, connect: ConnectSettings,
                                                            tmp_path: Path) -> None:
    spec = ssh_host(0)
    local, _ = _payload(tmp_path, 1000)
    with SSHRemote(spec, connect) as remote, \
            pytest.raises(DeployError, match=f"{spec.name}: the upload to .*missing/.payload.bin.part-.* "
                                             "failed \\(exit status 1\\): .*No such file") as caught:
        remote.put(local, f"{spec.path}/missing/payload.bin")
    assert not isinstance(caught.value, HostUnreachableError)
    assert os.listdir(spec.path) == []


@needs_ssh
def test_a_host_gone_before_the_upload_is_unreachable(ssh_host: HostFactory, connect: ConnectSettings,
                                                      cluster: SshdCluster, tmp_path: Path) -> None:
    spec = ssh_host(1)
    local, _ = _payload(tmp_path, 1000)
    remote = SSHRemote(spec, connect)
    try:
        assert remote.kind(spec.path) == "dir"  # connected
        cluster.servers[1].stop()
        with pytest.raises(HostUnreachableError) as caught:
            remote.put(local, f"{spec.path}/payload.bin")
        assert spec.name in str(caught.value)
        assert "--exclude" in (caught.value.hint or "")
    finally:
        remote.close()


def test_the_client_argv_and_the_reading_of_failures() -> None:
    target = openssh.Target("db-1.example.org", 2222, "deploy", "ssh-ed25519", "AAAAC3Nza")
    settings = ConnectSettings(identity_file="/keys/100%/id key", connect_timeout=7.4)
    argv = openssh.client_argv("/usr/bin/ssh", target, settings, "/tmp/my dir/kh", "cat > x")
    assert argv[:4] == ["/usr/bin/ssh", "-T", "-x", "-a"]
    assert argv[-9:] == ["-i", "/keys/100%%/id key", "-p", "2222", "-l", "deploy", "--", "db-1.example.org",
                         "cat > x"]
    assert 'UserKnownHostsFile="/tmp/my dir/kh"' in argv and "ConnectTimeout=7" in argv
    assert "HostKeyAlgorithms=ssh-ed25519" in argv
    rsa = openssh.Target("db-1", 22, "deploy", "ssh-rsa", "AAAAB3")
    assert "HostKeyAlgorithms=rsa-sha2-512,rsa-sha2-256,ssh-rsa" in openssh.client_argv("ssh", rsa, settings,
                                                                                       "/kh", "true")
    assert "Ciphers=aes128-gcm@openssh.com" in " ".join(argv) and "ControlPath=none" in argv
    assert "KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org" in " ".join(argv)
    newer = openssh.client_argv("ssh", target, settings, "/kh", "true",
                                available=frozenset({"mlkem768x25519-sha256", "curve25519-sha256"}))
    assert "KexAlgorithms=mlkem768x25519-sha256,curve25519-sha256" in newer
    assert not any(a.startswith("Ciphers=") for a in newer)  # none of ours known: the client's defaults
    assert openssh.known_hosts_line(target) == f"{openssh.PIN_ALIAS} ssh-ed25519 AAAAC3Nza\n"
    env = openssh.client_env({"HOME": "/root", "SSH_AUTH_SOCK": "/run/agent", "LANG": "C.UTF-8",
                              "QUARTERDECK_SMTP_PASSWORD": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    assert env == {"HOME": "/root", "SSH_AUTH_SOCK": "/run/agent", "LANG": "C.UTF-8"}
    assert not openssh.Outcome(1, "cat: /x: No such file or directory").client_failed
    assert openssh.Outcome(255, "deploy@db-1: Permission denied (publickey).").client_failed
    assert openssh.stderr_tail(openssh.Outcome(255, "a\n\nb\nc\nd\n")) == "b | c | d"


def test_a_rollout_opens_one_connection_per_host_pruning_included(
        ssh_host: HostFactory, local_host: HostFactory, connect: ConnectSettings,
        artifact: Callable[..., CheckedArtifact]) -> None:
    hosts = (ssh_host(0), ssh_host(1), local_host())
    opened: list[str] = []

    def opener(spec: HostSpec) -> Remote:
        opened.append(spec.url)
        return open_remote(spec, connect)
    for build_id in ("2026.4.0+b1", "2026.4.0+b2", "2026.4.0+b3"):
        opened.clear()
        target = TierTarget("dev", hosts, parallel=3, keep=2, connect=connect,
                            commands=Commands(health_check="test -f VERSION", timeout=30))
        result = roll_out(DeployPlan(target, build_id, artifact(build_id)), open_host=opener)
        assert result.ok, [h.error for h in result.hosts]
        assert sorted(opened) == sorted(h.url for h in hosts)
    assert [(p.removed, p.error) for p in result.pruned] == [(("2026.4.0+b1",), None)] * 3
    for host in hosts:
        assert sorted(os.listdir(Path(host.path, "releases"))) == ["2026.4.0+b2", "2026.4.0+b3"]
