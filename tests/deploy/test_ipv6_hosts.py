"""Hosts written as IPv6 addresses: parsed with and without a port, and a real rollout to sshd on ::1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releases.errors import ReleasesError
from releases.hosts.hostspec import parse_host
from tests.conftest import Project
from tests.support.sshd import SshdCluster, require_binaries, start_cluster

from .test_promote_support import NOW, Deploy


@pytest.mark.parametrize(
    ("url", "host", "user", "port", "path", "name"),
    [
        ("ssh://[::1]/srv", "::1", None, None, "/srv", "[::1]/srv"),
        ("ssh://deploy@[2001:db8::5]/srv", "2001:db8::5", "deploy", None, "/srv", "[2001:db8::5]/srv"),
        ("ssh://deploy@[2001:db8::5]:2222/srv/app", "2001:db8::5", "deploy", 2222, "/srv/app",
         "[2001:db8::5]:2222/srv/app"),
        ("ssh://[::ffff:192.0.2.7]:22/srv", "::ffff:192.0.2.7", None, 22, "/srv",
         "[::ffff:192.0.2.7]:22/srv"),
        ("ssh://deploy@db-1.example.org:2222/srv", "db-1.example.org", "deploy", 2222, "/srv",
         "db-1.example.org:2222/srv"),
        ("ssh://deploy@192.0.2.7/srv", "192.0.2.7", "deploy", None, "/srv", "192.0.2.7/srv"),
    ],
)
def test_ipv6_and_other_hosts_parse_with_and_without_a_port(url: str, host: str, user: str | None,
                                                            port: int | None, path: str, name: str) -> None:
    spec = parse_host(url)
    assert (spec.host, spec.user, spec.port, spec.path, spec.name) == (host, user, port, path, name)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://deploy@[::1/srv", "has no valid host name"),
        ("ssh://deploy@[2001:db8::zz]/srv", "has no valid host name"),
        ("ssh://deploy@[not-an-address]/srv", "has no valid host name"),
        ("ssh://deploy@[::1]:notaport/srv", "has an invalid port"),
        ("ssh://deploy@-bad-/srv", "has no valid host name"),
    ],
)
def test_bad_hosts_are_refused_with_the_reason(url: str, expected: str) -> None:
    with pytest.raises(ReleasesError) as caught:
        parse_host(url)
    assert expected in str(caught.value) and url in str(caught.value)


@pytest.fixture(scope="module")
def ipv6_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdCluster]:
    """One sshd listening on ::1 only (the machine's IPv6 loopback)."""
    sshd, keygen = require_binaries()
    with start_cluster(tmp_path_factory.mktemp("sshd6"), 1, sshd=sshd, keygen=keygen,
                       address="::1") as cluster:
        yield cluster


def test_a_rollout_reaches_a_host_written_as_an_ipv6_address(project: Project, ipv6_cluster: SshdCluster,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    deploy = Deploy(project, ipv6_cluster)
    deploy.configure([{"name": "dev", "channel": "internal", "hosts": [("ssh", 0, "primary")]}])
    [url] = deploy.urls["dev"]
    assert url.startswith(f"ssh://{ipv6_cluster.user}@[::1]:{ipv6_cluster.servers[0].port}/")
    project.ok("config", "check")
    build = deploy.build()
    done = project.ok("promote", build, "--to", "dev")
    assert f"promote {build} → dev: succeeded" in done.out
    assert deploy.current("dev") == [build]
    assert deploy.version("dev") == [f"BUILD={build}"]
    [host] = deploy.status("dev")["hosts"]
    assert (host["state"], host["build"]) == ("verified", build)
    assert Path(deploy.roots["dev"][0], "current").is_symlink()
