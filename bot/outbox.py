"""Delivering the outbox: right after commit from the web process, and by `krasip worker`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.line import LineGateway, SendOutcome
from bot.logs import log_failure
from store import outbox
from store.crypto import Keyring
from store.db import Database

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_REQUEST = 5  # LINE's limit for reply and push
MAX_MULTICAST_RECIPIENTS = 500
CLAIM_LEASE = timedelta(seconds=60)


def enqueue_replies(
    session: Session,
    keys: Keyring,
    settings: Settings,
    *,
    user_id: str,
    reply_token: str | None,
    messages: list[dict[str, Any]],
    now: datetime,
    purpose: str = "reply",
    claim: bool = False,
) -> list[outbox.Delivery]:
    """Queue an answer to one event: the first five messages as a reply, the rest as pushes.

    ``claim`` takes the rows for this process to send right after commit."""
    deliveries = []
    for start in range(0, len(messages), MAX_MESSAGES_PER_REQUEST):
        chunk = messages[start : start + MAX_MESSAGES_PER_REQUEST]
        use_reply = start == 0 and reply_token is not None
        deliveries.append(
            outbox.enqueue(
                session,
                keys,
                kind="reply" if use_reply else "push",
                to=[user_id],
                messages=chunk,
                now=now,
                purpose=purpose,
                reply_token=reply_token if use_reply else None,
                reply_ttl=settings.reply_ttl,
                claim_lease=CLAIM_LEASE if claim else None,
            )
        )
    return deliveries


def enqueue_push(
    session: Session,
    keys: Keyring,
    *,
    to: list[str],
    messages: list[dict[str, Any]],
    now: datetime,
    purpose: str,
) -> list[int]:
    """Queue a push to one or many LINE users (multicast in batches of 500)."""
    ids = []
    for start in range(0, len(messages), MAX_MESSAGES_PER_REQUEST):
        chunk = messages[start : start + MAX_MESSAGES_PER_REQUEST]
        if len(to) == 1:
            ids.append(
                outbox.enqueue(
                    session, keys, kind="push", to=to, messages=chunk, now=now, purpose=purpose
                ).id
            )
            continue
        for first in range(0, len(to), MAX_MULTICAST_RECIPIENTS):
            ids.append(
                outbox.enqueue(
                    session,
                    keys,
                    kind="multicast",
                    to=to[first : first + MAX_MULTICAST_RECIPIENTS],
                    messages=chunk,
                    now=now,
                    purpose=purpose,
                ).id
            )
    return ids


class Sender:
    """Claims outbox rows, sends them through the gateway, and records what happened."""

    def __init__(
        self,
        db: Database,
        keys: Keyring,
        gateway: LineGateway,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.db, self.keys, self.gateway, self.settings, self.clock = (
            db,
            keys,
            gateway,
            settings,
            clock,
        )

    def deliver(self, ids: list[int] | None = None, limit: int = 50) -> int:
        """Send what is due (or just ``ids``); returns how many rows were attempted."""
        with self.db.transaction() as session:
            deliveries = outbox.claim(session, self.keys, self.clock(), ids=ids, limit=limit)
        for delivery in deliveries:
            self.send(delivery)
        return len(deliveries)

    def send(self, delivery: outbox.Delivery) -> None:
        """Send one claimed delivery and record the outcome."""
        outcome = self._attempt(delivery)
        now = self.clock()
        with self.db.transaction() as session:
            if outcome.ok:
                outbox.mark_sent(session, delivery.id, now)
                return
            final = not outcome.retryable
            state = outbox.mark_failed(
                session,
                delivery.id,
                now,
                error=outcome.error,
                attempts=self.settings.outbox_max_attempts if final else delivery.attempts,
                max_attempts=self.settings.outbox_max_attempts,
                claimed_attempt=delivery.attempts,
                retry_after=outcome.retry_after,
            )
        log.warning(
            "outbox %s (%s) not delivered: %s; now %s",
            delivery.id,
            delivery.purpose,
            outcome.error,
            state,
        )

    def _attempt(self, delivery: outbox.Delivery) -> SendOutcome:
        if not delivery.messages or not delivery.to:
            return SendOutcome(ok=False, retryable=False, error="nothing to send")
        if delivery.kind == "multicast":
            return self.gateway.multicast(delivery.to, delivery.messages, delivery.retry_key)
        if delivery.kind == "reply":
            fresh = (
                delivery.reply_token is not None
                and delivery.reply_expires_at is not None
                and delivery.reply_expires_at > self.clock()
            )
            if fresh:
                assert delivery.reply_token is not None
                outcome = self.gateway.reply(delivery.reply_token, delivery.messages)
                if outcome.ok or (outcome.retryable and not outcome.reply_token_invalid):
                    return outcome
            # The reply token is spent or expired: the answer (a receipt may carry the
            # only copy of a token) must still arrive, so push it instead.
            with self.db.transaction() as session:
                outbox.switch_to_push(session, delivery.id)
        return self.gateway.push(delivery.to[0], delivery.messages, delivery.retry_key)


class Dispatcher:
    """Sends freshly committed outbox rows from the web process without holding the request.

    Whatever it cannot send (a crash, LINE down) stays in the outbox for `krasip worker`.
    """

    def __init__(self, sender: Sender, threads: int) -> None:
        self.sender = sender
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="krasip-send"
        )

    def submit(self, ids: list[int]) -> None:
        """Claim these committed rows and send them."""
        if ids:
            self._pool.submit(self._run, ids)

    def submit_claimed(self, deliveries: list[outbox.Delivery]) -> None:
        """Send rows this process claimed in the transaction that wrote them."""
        for delivery in deliveries:
            self._pool.submit(self._run_claimed, delivery)

    def _run_claimed(self, delivery: outbox.Delivery) -> None:
        try:
            self.sender.send(delivery)
        except Exception as exc:  # noqa: BLE001 - the lease runs out; the worker sends it
            log_failure(log, "sending right after commit failed; the worker will retry", exc)

    def _run(self, ids: list[int]) -> None:
        try:
            self.sender.deliver(ids=ids)
        except Exception as exc:  # noqa: BLE001 - the worker will retry
            log_failure(log, "sending right after commit failed; the worker will retry", exc)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
