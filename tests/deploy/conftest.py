"""Fixtures for the deploy tests: real sshd servers (one cluster per session) and local hosts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from releases.hosts.hostspec import HostSpec, parse_host
from releases.hosts.remote import ConnectSettings, Remote, open_remote
from releases.hosts.unpack import CheckedArtifact, check_archive
from tests.support.sshd import SshdCluster, require_binaries, start_cluster

from .helpers import HostFactory, build_artifact

SSH_HOSTS = 3


@pytest.fixture(scope="session")
def sshd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdCluster]:
    sshd, keygen = require_binaries()
    with start_cluster(tmp_path_factory.mktemp("sshd"), SSH_HOSTS, sshd=sshd, keygen=keygen) as cluster:
        yield cluster


@pytest.fixture
def cluster(sshd_cluster: SshdCluster) -> Iterator[SshdCluster]:
    """The session's servers, all running at the start and at the end of each test."""
    sshd_cluster.ensure_running()
    yield sshd_cluster
    sshd_cluster.ensure_running()


@pytest.fixture
def connect(sshd_cluster: SshdCluster) -> ConnectSettings:
    """The throwaway client key, and strict checking against the throwaway host keys."""
    return ConnectSettings(identity_file=str(sshd_cluster.client_key),
                           known_hosts=str(sshd_cluster.known_hosts), strict_host_keys=True,
                           connect_timeout=5)


@pytest.fixture
def local_host(tmp_path: Path) -> HostFactory:
    def make(name: str = "local-1", role: str = "primary") -> HostSpec:
        root = tmp_path / "hosts" / name
        root.mkdir(parents=True)
        return parse_host(f"local:{root}", role=role)
    return make


@pytest.fixture
def ssh_host(cluster: SshdCluster, tmp_path: Path) -> HostFactory:
    """An ssh:// host on server `index`, with a fresh deploy directory for this test."""
    def make(index: int = 0, role: str = "primary", name: str | None = None) -> HostSpec:
        server = cluster.servers[index]
        root = tmp_path / "hosts" / (name or server.name)
        root.mkdir(parents=True)
        return parse_host(cluster.url(server, root), role=role)
    return make


@pytest.fixture(params=["local", "ssh"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def host(kind: str, request: pytest.FixtureRequest) -> HostFactory:
    """The same test against a local: host and an ssh:// host."""
    if kind == "local":
        return request.getfixturevalue("local_host")  # type: ignore[no-any-return]
    return request.getfixturevalue("ssh_host")  # type: ignore[no-any-return]


@pytest.fixture
def opener(connect: ConnectSettings) -> Callable[[HostSpec], Remote]:
    return lambda spec: open_remote(spec, connect)


@pytest.fixture
def remote_of(opener: Callable[[HostSpec], Remote]) -> Iterator[Callable[[HostSpec], Remote]]:
    """Open remotes that are closed after the test."""
    opened: list[Remote] = []

    def make(spec: HostSpec) -> Remote:
        remote = opener(spec)
        opened.append(remote)
        return remote
    yield make
    for remote in opened:
        remote.close()


@pytest.fixture
def artifact(tmp_path: Path) -> Callable[..., CheckedArtifact]:
    """A checked artifact holding VERSION (= the build id) and a small app."""
    def make(build_id: str, extra: dict[str, bytes] | None = None) -> CheckedArtifact:
        path = tmp_path / "artifacts" / f"{build_id}.tar.gz"
        path.parent.mkdir(exist_ok=True)
        files = {"VERSION": f"{build_id}\n".encode(), "app/index.html": b"<h1>hello</h1>\n",
                 "bin/healthy": b"#!/bin/sh\ntest -f VERSION\n", **(extra or {})}
        build_artifact(path, files, executable={"bin/healthy"})
        return check_archive(path)
    return make

