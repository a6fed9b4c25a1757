"""A real PostgreSQL server on 127.0.0.1 for tests: a throwaway cluster, no mocks.

`start_server()` runs Debian's `initdb` and `postgres` (PostgreSQL refuses to run as root, so
as root, which CI is, the cluster belongs to the `postgres` system user the package creates)
on a free loopback port. Connections over TCP need the cluster owner's password (scram), as a
team's server would; each test gets a database of its own from `create_database()`. The
cluster runs without fsync: a test needs PostgreSQL's locking and its answers, not its
durability, and the suite must stay fast.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.sshd import free_port

OWNER = "quarterdeck"  # the cluster's superuser, the role every test ledger connects as


def find_bindir() -> Path | None:
    """Where initdb and postgres live: Debian keeps them out of PATH, per major version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bindir() -> Path:
    """The server's binaries; in CI a missing server FAILS the test, locally it skips it."""
    from tests.support.missing import missing

    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed: pip install -e '.[test]'", "the PostgreSQL ledger tests")
    if bindir is None:
        missing("PostgreSQL's initdb not found: apt-get install postgresql", "the PostgreSQL ledger tests")
    return bindir


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str, *, password: str | None = None) -> str:
        """The ledger URL a release manager would write (psycopg is the driver quarterdeck uses)."""
        secret = self.password if password is None else password
        return f"postgresql://{OWNER}:{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its name."""
        import psycopg

        name = f"ledger_{secrets.token_hex(6)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=OWNER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # smart shutdown would wait for clients; SIGTERM is "fast"
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _as_owner() -> dict[str, object]:
    """subprocess arguments that run the server as a non-root user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root and there is no `postgres` user to own the test cluster; "
                           "install Debian's postgresql package") from None
    return {"user": user.pw_uid, "group": user.pw_gid}


def start_server() -> PgServer:
    bindir = require_bindir()
    root = Path(tempfile.mkdtemp(prefix="qd-pg-"))
    owner = _as_owner()
    if owner:
        os.chown(root, owner["user"], owner["group"])  # type: ignore[arg-type]
    server = PgServer(bindir, root, free_port(), secrets.token_urlsafe(18))
    pwfile = root / "pw"
    pwfile.write_text(server.password + "\n", encoding="utf-8")
    if owner:
        os.chown(pwfile, owner["user"], owner["group"])  # type: ignore[arg-type]
    subprocess.run([str(bindir / "initdb"), "-D", str(root / "data"), "-U", OWNER, "-E", "UTF8",
                    "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}", "--no-sync"],
                   check=True, capture_output=True, **owner)  # type: ignore[call-overload]
    log = open(root / "server.log", "wb")  # noqa: SIM115 - the server writes to it until stop()
    server.process = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(server.port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", "max_connections=300"],
        stdout=log, stderr=subprocess.STDOUT, **owner)  # type: ignore[call-overload]
    _wait_ready(server)
    return server


def _wait_ready(server: PgServer) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=server.port, user=OWNER, password=server.password,
                            dbname="postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.process is None or server.process.poll() is not None or time.monotonic() > deadline:
                log = (server.root / "server.log").read_text(errors="replace")
                server.stop()
                raise RuntimeError(f"the test PostgreSQL server did not start:\n{log}") from None
            time.sleep(0.1)


def remove(server: PgServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
