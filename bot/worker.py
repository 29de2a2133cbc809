"""`krasip worker`: named background jobs — delivery, media, deadlines, digests, cleaning.

Several workers may run at once: every job claims its rows, or records what it sent under
a unique key, so each message goes out once however many workers run and restart.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from bot.conversation import draft_key
from bot.line import ContentUnavailable
from bot.logs import log_failure
from bot.notifications import Notifier
from bot.runtime import Runtime
from store import media, notices, outbox, repo, staff

log = logging.getLogger(__name__)

MEDIA_MAX_ATTEMPTS = 5
EVENT_MEMORY = timedelta(days=7)  # LINE redelivers for a much shorter time than this
CLEANING_EVERY = timedelta(minutes=1)
DIGEST_CHECK_EVERY = timedelta(minutes=1)
ORPHAN_AGE = timedelta(days=7)
SENT_MEMORY = timedelta(days=30)  # delivered rows hold no content; keep them for the record


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.notifier = Notifier(runtime)
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
        if self._due("digests", DIGEST_CHECK_EVERY, now):
            done["digests"] = self.notifier.send_digests()
        if self._due("cleaning", CLEANING_EVERY, now):
            done["cleaning"] = self.cleaning()
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
        with self.rt.db.transaction() as session:
            pending = media.claim_pending(session, self.rt.clock())
        for item in pending:
            self._fetch_one(item)
        return len(pending)

    def _fetch_one(self, item: media.PendingMedia) -> None:
        settings = self.rt.settings
        try:
            data, content_type = self.rt.gateway.content(
                item.line_message_id, settings.media_max_bytes
            )
            cleaned = media.clean(item.kind, data, content_type)
        except ContentUnavailable as exc:
            final = not exc.retryable or item.attempts >= MEDIA_MAX_ATTEMPTS
            with self.rt.db.transaction() as session:
                media.mark_failed(session, item.id, self.rt.clock(), error=str(exc), final=final)
            log.warning("attachment %s not fetched: %s", item.id, exc)
            return
        except media.MediaRejected as exc:
            with self.rt.db.transaction() as session:
                media.mark_failed(session, item.id, self.rt.clock(), error=str(exc), final=True)
            log.warning("attachment %s rejected: %s", item.id, exc)
            return
        with self.rt.db.transaction() as session:
            media.store_content(session, self.rt.keys, item.id, cleaned)
        log.info("attachment %s stored (%s bytes)", item.id, len(cleaned.content))

    def cleaning(self) -> int:
        """Delete expired drafts and their attachments; forget old event ids and failures."""
        now = self.rt.clock()
        ttl = self.rt.settings.draft_ttl
        with self.rt.db.transaction() as session:
            stale = repo.delete_stale_conversations(session, self.rt.keys, now - ttl)
            orphans = 0
            for reporter_key, state in stale:
                if state and state.get("draft_id"):
                    orphans += media.discard_draft(
                        session, draft_key(reporter_key, str(state["draft_id"]))
                    )
            # A backstop for drafts whose conversation vanished some other way.
            orphans += media.discard_orphans(session, now - ORPHAN_AGE)
            repo.prune_events(session, now - EVENT_MEMORY)
            repo.prune_lookup_failures(session, now - timedelta(hours=1))
            staff.prune_login_attempts(session, now - timedelta(days=1))
            notices.prune(session, now)
            outbox.prune_sent(session, now - SENT_MEMORY)
        if stale or orphans:
            log.info("cleaning: %s expired drafts, %s orphaned attachments", len(stale), orphans)
        return len(stale) + orphans
