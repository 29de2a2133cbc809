"""`krasip worker`: named background jobs — delivery, media, deadlines, digests, cleaning.

Several workers may run at once: every job claims its rows, or records what it sent under
a unique key, so each message goes out once however many workers run and restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.checkpoints import CHECK_EVERY as CHECKPOINT_CHECK_EVERY
from bot.checkpoints import CheckpointJob
from bot.conversation import draft_key
from bot.line import ContentUnavailable
from bot.logs import log_failure
from bot.notifications import Notifier
from bot.runtime import Runtime
from store import media, notices, outbox, repo, retention, sanitize, staff, vault

log = logging.getLogger(__name__)

MEDIA_MAX_ATTEMPTS = 5  # counted when an item is claimed, however the attempt ends
MEDIA_BATCH = 10  # items per pass
# One cleaning's bounds: a child process with this much memory and time, or it is killed.
MEDIA_CLEANING = sanitize.Limits()
# How long a claimed item is left alone: the cleaning's wall clock plus a margin (the
# download's own timeout is added); a worker that dies leaves it to be claimed after this.
MEDIA_CLEANING_LEASE = timedelta(seconds=MEDIA_CLEANING.wall_seconds + 30)
CLEANING_EVERY = timedelta(minutes=1)
DIGEST_CHECK_EVERY = timedelta(minutes=1)
ORPHAN_AGE = timedelta(days=7)
DEAD_MEMORY = timedelta(days=7)  # time for staff to retry a dead letter; then it is shredded
SENT_MEMORY = timedelta(days=30)  # delivered rows hold no content; keep them for the record
RETENTION_EVERY = timedelta(days=1)


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.notifier = Notifier(runtime)
        self.shredder = vault.Shredder(runtime.db)
        self.checkpoints = CheckpointJob(runtime)
        self._last_run: dict[str, datetime] = {}

    def _due(self, job: str, every: timedelta, now: datetime) -> bool:
        last = self._last_run.get(job)
        if last is not None and now - last < every:
            return False
        self._last_run[job] = now
        return True

    def run_once(self) -> dict[str, int]:
        """One pass of every job that is due; returns how much each did."""
        done = {"delivery": 0, "media": 0, "deadlines": 0, "digests": 0, "cleaning": 0}
        done["media"] = self.fetch_media()
        now = self.rt.clock()
        if self._due("deadlines", self.rt.settings.deadline_check_every, now):
            done["deadlines"] = self.notifier.check_deadlines()
        # Every pass: a busy case's gathered notice goes out as its quiet interval ends.
        done["staff_notices"] = self.notifier.send_gathered_activity()
        if self._due("digests", DIGEST_CHECK_EVERY, now):
            done["digests"] = self.notifier.send_digests()
        if self._due("cleaning", CLEANING_EVERY, now):
            done["cleaning"] = self.cleaning()
        if self._due("audit_checkpoint", CHECKPOINT_CHECK_EVERY, now):
            done["audit_checkpoint"] = self.checkpoints.run()
        if self._due("retention", RETENTION_EVERY, now):
            done["retention"] = self.retention()
        # Last, so that what the other jobs queued goes out in this same pass.
        done["delivery"] = self.delivery()
        return done

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started")
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep the worker alive
                log_failure(log, "worker pass failed", exc)
                done = {}
            if not any(done.values()):
                stop.wait(self.rt.settings.worker_poll_seconds)
        log.info("worker stopped")

    # --- jobs ------------------------------------------------------------------------

    def delivery(self) -> int:
        total = 0
        while (count := self.rt.sender.deliver(limit=50)) > 0:
            total += count
            if count < 50:
                break
        return total

    def fetch_media(self) -> int:
        """Fetch, clean and store due evidence, one item per claim so no lease runs out
        while the items before it are cleaned; returns how many items were dealt with."""
        lease = MEDIA_CLEANING_LEASE + timedelta(seconds=6 * self.rt.settings.line_timeout_seconds)
        done = 0
        with self.rt.db.transaction() as session:
            done += media.give_up_exhausted(session, self.rt.clock(), MEDIA_MAX_ATTEMPTS)
        for _ in range(MEDIA_BATCH):
            with self.rt.db.transaction() as session:
                claimed = media.claim_pending(
                    session,
                    self.rt.keys,
                    self.rt.clock(),
                    limit=1,
                    lease=lease,
                    max_attempts=MEDIA_MAX_ATTEMPTS,
                )
            if not claimed:
                break
            self._fetch_one(claimed[0])
            done += 1
        return done

    def _fetch_one(self, item: media.PendingMedia) -> None:
        # Logs name the attachment row and a reason, never a message id or any content.
        final_try = item.attempts >= MEDIA_MAX_ATTEMPTS
        try:
            # What LINE says the type is, like the file's name, is never trusted.
            data, _declared = self.rt.gateway.content(
                item.line_message_id, self.rt.settings.media_max_bytes
            )
        except ContentUnavailable as exc:
            self._failed(item, str(exc), final=not exc.retryable or final_try)
            log.warning("attachment %s not fetched: %s", item.id, exc)
            return
        try:
            cleaned = media.clean_isolated(data, MEDIA_CLEANING)
        except sanitize.CleanerFailed as exc:
            self._failed(item, str(exc), final=final_try)
            log.warning("attachment %s not cleaned (attempt %s): %s", item.id, item.attempts, exc)
            return
        except media.MediaRejected as exc:
            self._failed(item, str(exc), final=True)
            log.warning("attachment %s refused: %s", item.id, exc)
            return
        with self.rt.db.transaction() as session:
            kept = media.store_content(
                session,
                self.rt.keys,
                item.id,
                cleaned,
                item.attempts,
                max_owner_bytes=self.rt.settings.case_max_bytes,
            )
        if not kept:
            log.info("attachment %s not kept (over allowance, or no longer ours)", item.id)
        elif cleaned.held_back:
            log.info("attachment %s held back (%s)", item.id, cleaned.held_back)
        else:
            log.info("attachment %s stored clean (%s bytes)", item.id, len(cleaned.content))

    def _failed(self, item: media.PendingMedia, error: str, *, final: bool) -> None:
        with self.rt.db.transaction() as session:
            media.mark_failed(
                session, item.id, self.rt.clock(), error=error, final=final, attempt=item.attempts
            )

    def cleaning(self) -> int:
        """Forget what has had its time: expired drafts and follow-up windows (and their
        files), update links of closed cases, old day keys, event hashes and failures;
        then shred, so nothing forgotten can be carved back from the database files."""
        now = self.rt.clock()
        with self.rt.db.transaction() as session:
            expired = repo.delete_expired_conversations(session, self.rt.keys, now)
            orphans = 0
            for state in expired:
                if state and state.get("draft_id"):
                    orphans += media.discard_draft(session, draft_key(str(state["draft_id"])))
            # A backstop for drafts whose conversation vanished some other way.
            orphans += media.discard_orphans(session, now - ORPHAN_AGE)
            links = repo.forget_closed_update_links(session)
            days = vault.destroy_days_before(session, vault.day_number(now) - vault.DAYS_KEPT + 1)
            repo.prune_events(session, now)
            repo.prune_lookup_failures(session, now - timedelta(hours=1))
            repo.prune_lookup_throttles(session, now)
            staff.prune_login_attempts(session, now - timedelta(days=1))
            notices.prune(session, now)
            outbox.prune_sent(session, now - SENT_MEMORY)
            outbox.prune_senders(session, timedelta(hours=1))
            outbox.expire_dead(session, now - DEAD_MEMORY)
        if not self.shredder.run():
            log.info("shredding postponed: a reader holds an old snapshot")
        if expired or orphans or links or days:
            log.info(
                "cleaning: %s conversations, %s orphaned attachments, %s update links, "
                "%s day keys forgotten",
                len(expired),
                orphans,
                links,
                days,
            )
        return len(expired) + orphans + links

    def retention(self) -> int:
        """Destroy identities and purge contents whose time is over (README, "Retention"),
        then make the database files forget them; returns how many cases were touched."""
        done = run_retention(self.rt)
        if any(done):
            log.info("retention: %s identities destroyed, %s cases purged", *done)
        if not self.shredder.run():
            log.info("shredding postponed: a reader holds an old snapshot")
        return sum(done)


def retention_policy(runtime: Runtime) -> retention.Policy:
    settings = runtime.settings
    return retention.Policy(settings.identity_retention_days, settings.content_retention_years)


RETENTION_PAUSE_MAX = 2.0  # seconds between two batches of a retention run, at most


def run_retention(
    runtime: Runtime,
    actor: str = "retention",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """One retention run, committed in batches and compacted: (identities destroyed, cases
    purged). ``progress`` hears (cases done, cases due) after each batch."""
    policy, now = retention_policy(runtime), runtime.clock()
    with runtime.db.reading() as session:
        due = retention.due_ids(session, policy, now)
    identities: set[str] = set()
    purges: set[str] = set()
    took = 0.0
    for start in range(0, len(due), retention.BATCH):
        if start:
            # As long again with the database free: a catch-up over years of closed cases
            # (0.4 s a batch on SQLite, holding the writer lock) must leave the webhook
            # its turn, or every reporter meanwhile is answered 503 (`python -m bench`).
            time.sleep(min(RETENTION_PAUSE_MAX, took))
        batch = due[start : start + retention.BATCH]
        began = time.monotonic()
        with runtime.db.transaction() as session:
            # Checked again under the batch's locks: a hold placed meanwhile still holds.
            done = retention.run(session, policy, now, actor=actor, only=batch)
        took = time.monotonic() - began
        identities.update(done.identities)
        purges.update(done.purges)
        if progress is not None:
            progress(start + len(batch), len(due))
    if identities or purges:
        retention.compact(runtime.db.engine)
    return len(identities - purges), len(purges)
