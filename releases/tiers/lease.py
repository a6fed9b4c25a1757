"""A rollout under the tier's lock: the lease renewed for as long as it runs, and every host
step recorded only while the lock is still ours.

Each reported step becomes one short write transaction, so that a process killed half-way
leaves a ledger that tells the truth and can be resumed; once someone breaks the lock
(`unlock`), no step that would move a host forward starts.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from types import TracebackType

from sqlalchemy import Connection

from releases.errors import LockError, ReleasesError
from releases.hosts.hostspec import HostSpec
from releases.hosts.install import HostState, StepCallback
from releases.hosts.rollout import RolloutResult
from releases.records.ledger import Ledger
from releases.tiers.deployments import (
    KEEP,
    acquire_lock,
    current_lock,
    finish_deployment,
    record_host,
    release_lock,
    renew_lock,
)
from releases.tiers.tierview import Lock

LEASE = timedelta(minutes=2)


class LockLost(LockError):
    """This process's tier lock was broken while it deployed; it stops rather than race the new holder."""


# ---------------------------------------------------------------- the lock, held for the whole rollout

class TierLease:
    """The tier's deploy lock, with a thread renewing its lease until the rollout ends.

    A long step (migrations in pre-activate, a slow health check) reports
    nothing for minutes, so renewal cannot wait for step callbacks. If the
    lock turns out to be broken (`unlock`), `lost` is set and the recorder
    stops the rollout at its next step.
    """

    def __init__(self, ledger: Ledger, tier: str, lease: timedelta = LEASE) -> None:
        self.ledger, self.tier, self.lease = ledger, tier, lease
        self.lock: Lock | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def mark_lost(self) -> None:
        self._lost.set()

    def __enter__(self) -> TierLease:
        self.lock = acquire_lock(self.ledger, self.tier, self.lease)
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.tier}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        assert self.lock is not None
        while not self._stop.wait(max(self.lease.total_seconds() / 4, 0.05)):
            try:
                if not renew_lock(self.ledger, self.lock, self.lease):
                    self._lost.set()
                    return
            except ReleasesError:
                continue  # the ledger was busy; the lease still has three quarters to run

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.lock is not None and not self.lost:
            release_lock(self.ledger, self.lock)


# ---------------------------------------------------------------- doing, and recording as it happens

class LedgerRecorder:
    """The rollout's step callback: one short write transaction per reported step.

    Once the tier's lock is no longer ours (someone ran `unlock`), every step
    that would move forward fails before it starts, while the steps that put
    a host back and the final "done" still run and are recorded: the rollout
    then stops and returns the tier to where it was, as after any failure.
    """

    def __init__(self, ledger: Ledger, deployment_id: int, lease: TierLease | None,
                 also: StepCallback | None = None) -> None:
        self.ledger, self.deployment_id, self.lease, self.also = ledger, deployment_id, lease, also
        self._mutex = threading.Lock()

    def _still_ours(self, conn: Connection) -> bool:
        if self.lease is None or self.lease.lock is None:
            return True
        if not self.lease.lost:
            holder = current_lock(conn, self.lease.tier)
            if holder is None or holder.token != self.lease.lock.token:
                self.lease.mark_lost()
        return not self.lease.lost

    def __call__(self, host: HostSpec, step: str, state: HostState) -> None:
        forward = step != "done" and not step.startswith("rollback")
        with self._mutex:
            with self.ledger.write() as conn:
                if forward and not self._still_ours(conn):
                    assert self.lease is not None
                    raise LockLost(f"the deploy lock on {self.lease.tier} was broken while this rollout ran; "
                                   f"{step} was not started on {host.name}",
                                   hint="see `quarterdeck log` for who broke it and why")
                record_host(self.ledger, conn, deployment_id=self.deployment_id, host=host.url, state=state,
                            step=KEEP if step == "done" else step)
            if self.also is not None:
                self.also(host, step, state)

    def close(self, result: RolloutResult, state: str) -> None:
        """Correct each host's record with its own final report, and close the deployment."""
        with self._mutex, self.ledger.write() as conn:
            for host in result.hosts:
                record_host(self.ledger, conn, deployment_id=self.deployment_id, host=host.host.url,
                            state=host.state, step=host.failed_step or KEEP,
                            error=host.error, current=host.current or KEEP)
            finish_deployment(self.ledger, conn, self.deployment_id, state)
