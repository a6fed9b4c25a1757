"""The pre-flight check: can every host of a tier take the build, before any host is touched?

A first rollout that fails half-way can leave a host on the new build with
nothing to go back to. Most such failures are known before the first byte
moves: a host that cannot be reached, a deploy path that is missing or not
writable, a program the install needs that the host lacks, a disk too full
for the artifact and its unpacked release. `promote` asks every host these
questions first and changes nothing anywhere when one answers badly;
`quarterdeck check TIER` asks them on request.

Each host is asked with one shell command (one round trip on an SSH host);
the only thing it writes is an empty directory, made and removed again, to
prove that the deploy user may write there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from releases.artifacts.artifact import size_text
from releases.errors import ReleasesError
from releases.hosts.hostspec import HostSpec, deploy_directory_missing, labels
from releases.hosts.remote import ConnectSettings, Remote, open_remote
from releases.hosts.unpack import CheckedArtifact

HostOpener = Callable[[HostSpec], Remote]
AT_ONCE = 16  # hosts asked at the same time: each answer is one short command

# What the install runs on a host (releases.hosts.install and unpack): GNU tar to unpack, python3's
# zlib or gzip under it, openssl or sha256sum to hash, rm to clear leftovers. Each line the script
# prints is one finding: "missing WHAT", "nodir", "unwritable DIR", "free KB", "need KB".
_SCRIPT = r"""
root=$1 artifact=$2 release=$3 size_kb=$4 unpacked_kb=$5
has() { command -v "$1" >/dev/null 2>&1; }
has tar || echo "missing tar"
has tar && { tar --version 2>/dev/null | head -n 1 | grep -q 'GNU tar' || echo "missing GNU tar"; }
has rm || echo "missing rm"
has openssl || has sha256sum || echo "missing sha256sum (or openssl)"
python3 -E -S -c 'import zlib' >/dev/null 2>&1 || has gzip || echo "missing gzip (or python3)"
[ -d "$root" ] || { echo nodir; exit 0; }
for dir in "$root" "$root/artifacts" "$root/releases"; do
  [ -d "$dir" ] || continue
  probe="$dir/.quarterdeck-check-$$"
  if mkdir "$probe" 2>/dev/null; then rmdir "$probe"; else echo "unwritable $dir"; fi
done
need=0
[ -f "$artifact" ] || need=$((need + size_kb))
[ -d "$release" ] || need=$((need + unpacked_kb))
echo "need $need"
free=$(df -Pk "$root" 2>/dev/null | awk 'NR == 2 { print $4 }')
[ -n "$free" ] && echo "free $free"
exit 0
"""


@dataclass(frozen=True)
class HostCheck:
    """One host's answers: what stands in the way of installing (`problems`), and its free space."""

    host: HostSpec
    problems: tuple[str, ...]
    free_bytes: int | None = None
    needed_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"url": self.host.url, "role": self.host.role, "ok": self.ok, "problems": list(self.problems),
                "free_bytes": self.free_bytes, "needed_bytes": self.needed_bytes}


class PreflightFailed(ReleasesError):
    """A host of the tier cannot take the build; nothing was changed on any host. `checks` has every host."""

    def __init__(self, message: str, hint: str | None = None, checks: Sequence[HostCheck] = ()) -> None:
        super().__init__(message, hint)
        self.checks = tuple(checks)

    @classmethod
    def of(cls, tier: str, build_id: str, checks: Sequence[HostCheck]) -> PreflightFailed:
        names = labels(c.host for c in checks)
        bad = [c for c in checks if not c.ok]
        where = "; ".join(f"{names[c.host.url]}: {c.problems[0]}" + (f" (and {len(c.problems) - 1} more)"
                                                                      if len(c.problems) > 1 else "")
                          for c in bad)
        return cls(f"the pre-flight check of {tier} for {build_id} failed on {len(bad)} of {len(checks)} "
                   f"host{'s' if len(checks) != 1 else ''}, so nothing was changed on any host: {where}",
                   hint=f"fix what it names, then promote again (`quarterdeck check {tier}` asks the hosts "
                        "again); `--exclude HOST --reason TEXT` leaves a host out", checks=checks)


def _kb(size: int) -> int:
    return -(-size // 1024)


def check_host(remote: Remote, artifact: CheckedArtifact | None = None, build_id: str | None = None
               ) -> HostCheck:
    """Ask one host; never raises for what the host answers (or fails to answer)."""
    layout, host = remote.layout, remote.spec
    artifact_path = layout.artifact(artifact.sha256) if artifact else ""
    release = layout.release(build_id) if build_id else ""
    args = [layout.root, artifact_path, release, str(_kb(artifact.size) if artifact else 0),
            str(_kb(artifact.unpacked_bytes) if artifact else 0)]
    try:
        result = remote.run(["sh", "-c", _SCRIPT, "quarterdeck-check", *args], timeout=120)
    except Exception as err:  # unreachable, refused key, timeout: the host cannot be asked
        hint = getattr(err, "hint", None)
        text = str(err) or type(err).__name__
        return HostCheck(host, (f"cannot be reached: {text}" + (f" ({hint})" if hint else ""),))
    if not result.ok:
        return HostCheck(host, (f"the check could not run: {result.describe()}",))
    return findings(host, result.stdout.splitlines())


def findings(host: HostSpec, lines: Sequence[str]) -> HostCheck:
    """The script's lines as problems in the release manager's words (pure)."""
    problems: list[str] = []
    free = need = None
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "missing":
            problems.append(f"{rest} is not installed")
        elif word == "nodir":
            what, hint = deploy_directory_missing(host.path)
            problems.append(f"{what} ({hint})")
        elif word == "unwritable":
            problems.append(f"the deploy user cannot write to {rest}")
        elif word == "free" and rest.isdigit():
            free = int(rest) * 1024
        elif word == "need" and rest.isdigit():
            need = int(rest) * 1024
    if free is not None and need is not None and free < need:
        problems.append(f"{size_text(free)} free on the disk of {host.path}; the artifact and its release "
                        f"need {size_text(need)}")
    return HostCheck(host, tuple(problems), free, need or 0)


def preflight(hosts: Sequence[HostSpec], artifact: CheckedArtifact | None = None, build_id: str | None = None,
              *, connect: ConnectSettings | None = None, open_host: HostOpener | None = None
              ) -> tuple[HostCheck, ...]:
    """Check every host at once and report each, in the order given."""
    opener = open_host or (lambda h: open_remote(h, connect))

    def one(host: HostSpec) -> HostCheck:
        try:
            remote = opener(host)
        except Exception as err:
            return HostCheck(host, (f"cannot be reached: {err}",))
        try:
            return check_host(remote, artifact, build_id)
        finally:
            remote.close()

    if not hosts:
        return ()
    with ThreadPoolExecutor(max_workers=min(AT_ONCE, len(hosts)), thread_name_prefix="check") as pool:
        return tuple(pool.map(one, hosts))
