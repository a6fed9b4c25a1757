"""Rollout fan-out: `quarterdeck promote` of a 50 MB build to a tier of 8 real sshd hosts on loopback
(parallel = 8) against the same promotion to a tier of one host.

Target at most 1.5x. The CLI is timed for the ratio; the per-step breakdown
(upload, verify, unpack, switch, health) comes from `releases.hosts.rollout.roll_out`
called directly, because the CLI reports only each host's total.

A reference with nothing of Quarterdeck in it is timed too: the same host work
(send the file with `ssh HOST 'cat > FILE'`, hash it, unpack it) done by OpenSSH
and shell commands alone, to one host and to all eight at once. Its ratio is what
this machine itself allows: the hosts are processes here, sharing the cores with
the client, so eight hosts' work takes eight times the CPU of one.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import WORK, Result, quarterdeck

HOSTS = 8
ARTIFACT_MIB = 50
ROUNDS = 2
SETTLE = 0.5  # seconds for sshd to reap a finished session before its CPU is read
STEPS = ("connect", "upload", "verify", "unpack", "switch", "health-check")


def make_repo(path: Path) -> Path:
    """A repository whose one commit holds a 50 MB incompressible file (so the artifact is ~50 MB)."""
    marker = path / ".git" / "bench-50mb"
    if marker.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Dev", "GIT_COMMITTER_NAME": "Dev",
           "GIT_AUTHOR_EMAIL": "dev@example.org", "GIT_COMMITTER_EMAIL": "dev@example.org"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / "data").mkdir()
    (path / "data" / "blob.bin").write_bytes(os.urandom(ARTIFACT_MIB * 1024 * 1024))
    (path / "index.html").write_text("<h1>clinical app</h1>\n")
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "feat: the big one"], check=True, env=env)
    marker.write_text("ok\n")
    return path


def _tier(name: str, urls: list[str], parallel: int) -> str:
    hosts = ", ".join(f'"{u}"' for u in urls)
    return (f'[[tiers]]\nname = "{name}"\nchannel = "internal"\nhosts = [{hosts}]\n'
            f'health_check = "test -f VERSION"\nkeep = 5\nparallel = {parallel}\n\n')


def write_config(config: Path, cluster: object, tier_hosts: list[str], parallel: int) -> None:
    """Replace the tiers with one internal tier (no gates, no confirmation) and point [ssh] at the
    throwaway key and known_hosts."""
    text = config.read_text()
    start, end = text.index("[[tiers]]"), text.index("# Gates")
    text = text[:start] + _tier("dev", tier_hosts, parallel) + text[end:]
    ssh = (f'[ssh]\nidentity_file = "{cluster.client_key}"\n'  # type: ignore[attr-defined]
           f'known_hosts = "{cluster.known_hosts}"\nstrict_host_keys = true\n')  # type: ignore[attr-defined]
    text = re.sub(r"(?ms)^\[ssh\]\n.*?\n\n", ssh + "\n", text)
    text = re.sub(r"(?ms)^\[gates\.production\]\n.*?\n\n", "", text)
    config.write_text(text)


def _prepare_template(root: Path) -> tuple[Path, str]:
    """A project with the 50 MB build made once; each timed run copies it (fresh ledger, fresh hosts)."""
    repo = make_repo(WORK / "rollout-repo")
    template = root / "template"
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    config = template / "quarterdeck.toml"
    subprocess.run([*quarterdeck(), "--config", str(config), "init", "--repo", str(repo)], check=True,
                   capture_output=True, cwd=template)
    out = subprocess.run([*quarterdeck(), "--config", str(config), "build", "--json"], check=True,
                         capture_output=True, text=True, cwd=template)
    import json

    build = json.loads(out.stdout)
    return template, str(build["id"])


def _timed_promote(root: Path, template: Path, cluster: object, servers: list[object], parallel: int,
                   label: str) -> tuple[float, float, float]:
    """Wall seconds of one `quarterdeck promote`, with the CPU seconds of its process tree (the
    client: quarterdeck and its ssh children) and of the sshd hosts (daemons and their sessions)."""
    project = root / label
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(template, project, symlinks=True)
    urls = []
    for server in servers:
        deploy = project / "hosts" / server.name  # type: ignore[attr-defined]
        deploy.mkdir(parents=True)
        urls.append(cluster.url(server, deploy))  # type: ignore[attr-defined]
    config = project / "quarterdeck.toml"
    write_config(config, cluster, urls, parallel)
    hosts_before, client_before = _hosts_cpu(cluster), _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([*quarterdeck(), "--config", str(config), "promote", "latest", "--to", "dev",
                           "--yes", "--json"], capture_output=True, text=True, cwd=project)
    elapsed = time.perf_counter() - start
    time.sleep(SETTLE)  # let the hosts' sessions end and be reaped, so that their CPU is counted
    client, hosts = _children_cpu() - client_before, _hosts_cpu(cluster) - hosts_before
    if done.returncode != 0:
        raise RuntimeError(f"promote ({label}) failed: {done.stderr[-1500:]} {done.stdout[-1500:]}")
    for server in servers:
        _check_blob(project / "hosts" / server.name / "current", label)  # type: ignore[attr-defined]
    shutil.rmtree(project / "hosts", ignore_errors=True)
    return elapsed, client, hosts


def _breakdown(root: Path, template: Path, cluster: object, servers: list[object],
               parallel: int) -> dict[str, float]:
    """Mean seconds per step over the hosts of one `roll_out` (called directly, for its StepTimings)."""
    from releases.hosts.hostspec import parse_host
    from releases.hosts.install import Commands
    from releases.hosts.remote import ConnectSettings
    from releases.hosts.rollout import DeployPlan, TierTarget, roll_out
    from releases.hosts.unpack import check_archive

    artifact_path = next((template / ".quarterdeck" / "artifacts").glob("*.tar.gz"))
    artifact = check_archive(artifact_path)
    hosts = []
    for server in servers:
        deploy = root / f"direct-{parallel}" / server.name  # type: ignore[attr-defined]
        shutil.rmtree(deploy, ignore_errors=True)
        deploy.mkdir(parents=True)
        hosts.append(parse_host(cluster.url(server, deploy)))  # type: ignore[attr-defined]
    connect = ConnectSettings(identity_file=str(cluster.client_key),  # type: ignore[attr-defined]
                              known_hosts=str(cluster.known_hosts),  # type: ignore[attr-defined]
                              strict_host_keys=True, connect_timeout=10)
    target = TierTarget("dev", tuple(hosts), parallel=parallel,
                        commands=Commands(health_check="test -f VERSION"), connect=connect)
    busy, client, hosts = _busy_seconds(), _own_cpu() + _children_cpu(), _hosts_cpu(cluster)
    result = roll_out(DeployPlan(target, "bench+b1", artifact), prune=False)
    busy = _busy_seconds() - busy
    time.sleep(SETTLE)
    client, hosts = _own_cpu() + _children_cpu() - client, _hosts_cpu(cluster) - hosts
    if not result.ok:
        raise RuntimeError(f"direct roll_out failed: {[h.error for h in result.hosts]}")
    steps: dict[str, float] = {"total": round(result.seconds, 3), "machine_cpu": round(busy, 2),
                               "client_cpu": round(client, 2), "hosts_cpu": round(hosts, 2)}
    for step in STEPS:
        steps[step] = round(statistics.mean(h.seconds(step) for h in result.hosts), 3)
    shutil.rmtree(root / f"direct-{parallel}", ignore_errors=True)
    return steps


def _check_blob(release: Path, label: str) -> None:
    """The unpacked release holds the whole 50 MB file: a run that deployed less is no measure."""
    blob = release / "data" / "blob.bin"
    if blob.stat().st_size != ARTIFACT_MIB * 1024 * 1024:
        raise RuntimeError(f"{label}: {blob} is not the 50 MB file")


def _bare_ssh(root: Path, cluster: object, servers: list[object], artifact: Path) -> float:
    """Wall seconds of the bare host work on every server at once: one `ssh` per host, nothing else."""
    from releases.hosts.unpack import extract_argv

    with contextlib.ExitStack() as stack:
        procs = []
        start = time.perf_counter()
        for server in servers:
            into = root / "bare" / server.name  # type: ignore[attr-defined]
            shutil.rmtree(into, ignore_errors=True)
            into.mkdir(parents=True)
            file = into / "build.tar.gz"
            command = (f"cat > {file} && openssl dgst -sha256 {file} >/dev/null && mkdir {into}/release && "
                       + shlex.join(extract_argv(str(file), f"{into}/release")))
            argv = ["ssh", "-T", "-x", "-a", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                    "-o", f"UserKnownHostsFile={cluster.known_hosts}",  # type: ignore[attr-defined]
                    "-o", "Ciphers=aes128-gcm@openssh.com", "-o", "ControlPath=none",
                    "-i", str(cluster.client_key), "-p", str(server.port),  # type: ignore[attr-defined]
                    "-l", cluster.user, "127.0.0.1", command]  # type: ignore[attr-defined]
            errors = stack.enter_context(tempfile.TemporaryFile())
            data = stack.enter_context(artifact.open("rb"))
            proc = subprocess.Popen(argv, stdin=data, stdout=subprocess.DEVNULL, stderr=errors)
            procs.append((proc, errors))
        codes = [proc.wait() for proc, _ in procs]
        elapsed = time.perf_counter() - start
        for code, (_, errors) in zip(codes, procs, strict=True):
            if code != 0:
                errors.seek(0)
                said = errors.read().decode(errors="replace")
                raise RuntimeError(f"bare ssh reference failed ({code}): {said[-800:]}")
    for server in servers:
        _check_blob(root / "bare" / server.name / "release", "bare ssh reference")  # type: ignore[attr-defined]
    shutil.rmtree(root / "bare", ignore_errors=True)
    return elapsed


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (every process, every core), from /proc/stat: the
    client, the sshd servers and their sha256sum/tar children all run here on loopback."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])
    return (sum(int(f) for f in fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    """CPU seconds of this process's finished, reaped children (and theirs): a promote run and its
    ssh clients once it has returned."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _hosts_cpu(cluster: object) -> float:
    """CPU seconds of the sshd daemons, with their finished sessions and what those ran (sha256,
    tar, python3), read from /proc/PID/stat (utime, stime, cutime, cstime). A session still
    running is not counted until it ends, so read this after the rollout."""
    ticks = 0
    for server in cluster.servers:  # type: ignore[attr-defined]
        process = server.process
        if process is None:
            continue
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def run() -> Result:
    from tests.support.sshd import find_binaries, start_cluster

    sshd, keygen = find_binaries()
    if not (sshd and keygen):
        raise RuntimeError("sshd / ssh-keygen not found: install openssh-server and openssh-client")
    root = WORK / "rollout"
    template, build_id = _prepare_template(root)
    size = next((template / ".quarterdeck" / "artifacts").glob("*.tar.gz")).stat().st_size
    cluster_dir = root / "sshd"
    shutil.rmtree(cluster_dir, ignore_errors=True)
    with start_cluster(cluster_dir, HOSTS, sshd=sshd, keygen=keygen) as cluster:
        servers: list[object] = list(cluster.servers)
        solo, fleet, bare_solo, bare_fleet = [], [], [], []
        artifact = next((template / ".quarterdeck" / "artifacts").glob("*.tar.gz"))
        for _ in range(ROUNDS):  # alternate, so drift on a noisy machine hits both
            solo.append(_timed_promote(root, template, cluster, servers[:1], 1, "solo"))
            fleet.append(_timed_promote(root, template, cluster, servers, HOSTS, "fleet"))
            bare_solo.append(_bare_ssh(root, cluster, servers[:1], artifact))
            bare_fleet.append(_bare_ssh(root, cluster, servers, artifact))
        one = _breakdown(root, template, cluster, servers[:1], 1)
        eight = _breakdown(root, template, cluster, servers, HOSTS)
    best_solo, best_fleet = min(solo), min(fleet)
    ratio = best_fleet[0] / best_solo[0]
    cores = os.cpu_count() or 1
    figures: dict[str, object] = {
        "artifact_mib": round(size / 2**20, 1), "build": build_id, "cores": cores,
        "promote_1_host_s": round(best_solo[0], 2), "promote_8_hosts_s": round(best_fleet[0], 2),
        "promote_1_host_client_cpu_s": round(best_solo[1], 2),
        "promote_1_host_hosts_cpu_s": round(best_solo[2], 2),
        "promote_8_hosts_client_cpu_s": round(best_fleet[1], 2),
        "promote_8_hosts_hosts_cpu_s": round(best_fleet[2], 2),
        # The least the 8-host run can take on this machine if every core were busy all along:
        "cpu_floor_8_hosts_s": round((best_fleet[1] + best_fleet[2]) / cores, 2),
        # The same host work by OpenSSH and the shell alone: what this machine allows at all.
        "bare_ssh_1_host_s": round(min(bare_solo), 2), "bare_ssh_8_hosts_s": round(min(bare_fleet), 2),
        "bare_ssh_ratio": round(min(bare_fleet) / min(bare_solo), 2)}
    figures.update({f"direct_1_{k}_s": v for k, v in one.items()})
    figures.update({f"direct_8_{k}_s": v for k, v in eight.items()})
    return Result("rollout", "<= 1.5x one host (8 hosts, parallel = 8, 50 MB)", ratio, 1.5, figures=figures)

