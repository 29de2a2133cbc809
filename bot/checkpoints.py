"""Audit checkpoints leaving the database: a log file and the admins' LINE accounts.

Someone who can write to the database can delete the newest audit entries; a signed
checkpoint kept anywhere he cannot reach proves they existed (store/audit.py).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from bot.notifications import Notifier
from bot.runtime import Runtime
from store import audit
from store.keys import private_folder

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=10)  # how often the worker asks whether one is due


def log_path(runtime: Runtime) -> Path:
    configured = runtime.settings.audit_checkpoint_log
    return configured or runtime.settings.instance_path / "audit-checkpoints.log"


def append_to_log(path: Path, line: str) -> None:
    """Append one checkpoint line; the file is created 0600 in a private folder."""
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def from_log(runtime: Runtime) -> list[audit.Checkpoint]:
    """The checkpoints in this server's log file (none if it cannot be read)."""
    try:
        return audit.parse_checkpoints(log_path(runtime).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


def issue(
    runtime: Runtime, now: datetime, *, push: bool, every: timedelta | None = None
) -> audit.Checkpoint | None:
    """Sign a checkpoint now; keep it in the database, append it to the log file and (with
    ``push``) queue it for every linked admin, in one transaction so that it is pushed
    exactly when it is kept. With ``every``, nothing happens if another process issued
    one within that time (None is returned).

    The chain is walked in a read that holds no writer lock; the checkpoint is true of
    that snapshot. The file is written before the commit: a line whose commit then fails
    is still a true checkpoint of the chain as it was."""
    with runtime.db.reading() as session:
        checkpoint = audit.make_checkpoint(session, runtime.db.audit, now)
    with runtime.db.transaction() as session:
        audit.lock_chain(session)
        since = audit.checkpoint_due_since(session)
        if every is not None and (since is None or now - since < every):
            return None
        audit.keep_checkpoint(session, checkpoint)
        if push:
            Notifier(runtime).audit_checkpoint(session, checkpoint.count, checkpoint.line, now)
        append_to_log(log_path(runtime), checkpoint.line)
    return checkpoint


class CheckpointJob:
    """The worker's job: a checkpoint per interval (a day by default), or, when the chain
    does not verify, a warning to the admins (at most one per interval per worker)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._warned_at: datetime | None = None

    def run(self) -> int:
        now = self.rt.clock()
        every = self.rt.settings.audit_checkpoint_every
        with self.rt.db.reading() as session:
            since = audit.checkpoint_due_since(session)
        if since is None or now - since < every:
            return 0
        try:
            checkpoint = issue(self.rt, now, push=True, every=every)
        except audit.AuditBroken as exc:
            log.error("audit chain does not verify, no checkpoint issued: %s", exc)
            if self._warned_at is None or now - self._warned_at >= every:
                self._warned_at = now
                with self.rt.db.transaction() as session:
                    Notifier(self.rt).audit_broken(session, now)
            return 0
        except audit.AuditKeyMissing as exc:
            log.error("no audit checkpoint: %s", exc)
            return 0
        if checkpoint is None:
            return 0
        log.info("audit checkpoint issued: %s entries", checkpoint.count)
        return 1
