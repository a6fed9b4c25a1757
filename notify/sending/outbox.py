"""The Maildir outbox: where notices go when no SMTP server is configured.

Each message is one complete RFC 5322 file in `new/`, so any mail client
(or `mailbox.Maildir`) opens the outbox directly. The file name is derived
from the Message-ID, and the file is written in `tmp/` and hard-linked into
`new/`: the write is atomic, and storing the same message twice (a rerun
after a crash between the write and the ledger update) finds it already
there instead of adding a duplicate. That makes the outbox exactly-once,
something SMTP cannot promise.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Self

from notify.errors import OutboxError
from notify.mail.message import Outgoing, message_bytes
from notify.sending.transport import Delivery, Outcome, Phase, Withheld


class MaildirOutbox:
    """A Transport that files messages into a Maildir directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            # mailbox.Maildir(create=True) skips the subdirectories when the directory already exists
            for sub in ("tmp", "new", "cur"):
                (self.directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise OutboxError(f"cannot create the Maildir outbox {self.directory}: {err.strerror}",
                              hint="check notify.sending.outbox and the directory's permissions") from err

    def path_for(self, message: EmailMessage | Outgoing) -> Path:
        """Where this message lives in `new/` (the name depends only on its Message-ID)."""
        return self.directory / "new" / self._name(message)

    def send(self, message: EmailMessage | Outgoing, recipient: str, *,
             ready: Callable[[], bool] | None = None, idle: Callable[[], None] | None = None) -> Outcome:
        """File the message. `ready` is asked before it is written (if it says no: Withheld, no file);
        `idle` is never called, as nothing is awaited."""
        name = self._name(message)
        target = self.directory / "new" / name
        if target.exists() or self._in_cur(name):
            return Outcome(Delivery.SENT, Phase.OUTBOX, None, f"already in outbox as {target}")
        if ready is not None and not ready():
            raise Withheld(recipient)
        # LF line ends: the local convention for Maildir files; SMTP's CRLF is for the wire. (An
        # Outgoing has no bare CR or LF, so swapping its line ends gives what linesep="\n" writes.)
        data = (message.data.replace(b"\r\n", b"\n") if isinstance(message, Outgoing)
                else message_bytes(message, linesep="\n"))
        staging = self.directory / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            with open(staging, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(staging, target)
            except FileExistsError:
                pass  # a concurrent or earlier run stored the same message: still exactly one copy
            _fsync_dir(target.parent)
        except OSError as err:
            raise OutboxError(f"cannot write {target} for {recipient}: {err.strerror}",
                              hint="check free space and permissions of notify.sending.outbox") from err
        finally:
            try:
                staging.unlink()
            except FileNotFoundError:
                pass
        return Outcome(Delivery.SENT, Phase.OUTBOX, None, f"stored in outbox as {target}")

    def close(self) -> None:
        """Nothing to release; present so the outbox and SMTP are interchangeable."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @staticmethod
    def _name(message: EmailMessage | Outgoing) -> str:
        message_id = message.message_id if isinstance(message, Outgoing) else message.get("Message-ID")
        if not message_id:
            raise OutboxError("message has no Message-ID, so its outbox file cannot be named",
                              hint="build messages with notify.mail.message.build_message")
        return hashlib.sha256(str(message_id).strip().encode()).hexdigest()[:40] + ".quarterdeck"

    def _in_cur(self, name: str) -> bool:
        """A client that has read the message moved it to cur/ as `name:2,FLAGS`."""
        try:
            return any(entry == name or entry.startswith(name + ":") for entry in
                       os.listdir(self.directory / "cur"))
        except FileNotFoundError:
            return False


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable before the ledger says `sent`."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
