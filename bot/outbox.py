"""Delivering the outbox: right after commit from the web process, and by `krasip worker`."""

from __future__ import annotations

import asyncio
import logging
import secrets
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.line import LineGateway, SendOutcome
from bot.logs import log_failure
from store import outbox
from store.crypto import Keyring
from store.db import Database
from store.repo import SealedState
from store.writers import QUIET

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_REQUEST = 5  # LINE's limit for reply and push
MAX_MULTICAST_RECIPIENTS = 500
CLAIM_LEASE = timedelta(seconds=60)  # the backstop for a claim whose sender is unknown
# A sending process renews its heartbeat this often; rows it holds are taken over once its
# heartbeat is this old. Long enough to ride out a database stall of a few seconds.
HEARTBEAT_EVERY = 2.0
SENDER_TTL = timedelta(seconds=7)  # plus up to one 5-second tick: gone within 12 s


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
    claimer: str | None = None,
    state: SealedState | None = None,
) -> list[outbox.Delivery]:
    """Queue an answer to one event: the first five messages as a reply, the rest as pushes.

    ``claimer`` (see :meth:`Sender.claimer`) takes the rows for this process to send right
    after commit; ``state``, the chat's next state, is written with the first row."""
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
                claim_lease=CLAIM_LEASE if claimer else None,
                claimer=claimer,
                state=state if start == 0 else None,
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
        # Random per process start: claims name the process, never a time or a reporter.
        self.id = secrets.token_hex(16)
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()

    def claimer(self, session: Session) -> str:
        """This sender's id, for rows it claims in ``session``'s transaction: registered in
        that same transaction the first time, then kept alive by a heartbeat thread."""
        if self._beating is None:
            with self._start_lock:
                if self._beating is None:
                    outbox.heartbeat(session, self.id, SENDER_TTL)
                    self._beating = threading.Thread(
                        target=self._beat, name="krasip-heartbeat", daemon=True
                    )
                    self._beating.start()
        return self.id

    def _beat(self) -> None:
        # The first beat at once: it registers the sender again should the transaction
        # that first named it have rolled back.
        while True:
            try:
                with self.db.transaction(wait=HEARTBEAT_EVERY) as session:
                    outbox.heartbeat(session, self.id, SENDER_TTL)
            except Exception as exc:  # noqa: BLE001 - tried again at the next beat
                log_failure(log, "outbox heartbeat failed; will try again", exc)
            if self._stop.wait(HEARTBEAT_EVERY):
                return

    def close(self) -> None:
        """Stop the heartbeat and retire: what this process still holds (sent but not
        recorded, or never sent) is taken over by a worker at once."""
        self._stop.set()
        if self._beating is None:
            return
        self._beating.join(timeout=5)
        try:
            with self.db.transaction(wait=2.0) as session:
                outbox.retire(session, self.id)
        except Exception as exc:  # noqa: BLE001 - the heartbeat simply runs out
            log_failure(log, "could not retire the outbox sender", exc)

    def deliver(self, ids: list[int] | None = None, limit: int = 50) -> int:
        """Send what is due (or just ``ids``); returns how many rows were attempted."""
        with self.db.transaction() as session:
            deliveries = outbox.claim(
                session,
                self.keys,
                self.clock(),
                ids=ids,
                limit=limit,
                claimer=self.claimer(session),
            )
        sent = [d.id for d in deliveries if self.send(d, record_sent=False)]
        self.mark_sent(sent)
        return len(deliveries)

    def send(
        self,
        delivery: outbox.Delivery,
        *,
        record_sent: bool = True,
        tried: SendOutcome | None = None,
    ) -> bool:
        """Send one claimed delivery; record a failure at once, a success unless told not to
        (the caller then records it with others in one transaction). True when delivered.
        ``tried`` is what the first call (:meth:`first_attempt`) already got from LINE."""
        outcome = tried if tried is not None and tried.ok else self._attempt(delivery, tried)
        if outcome.ok:
            if record_sent:
                self.mark_sent([delivery.id])
            return True
        final = not outcome.retryable
        with self.db.transaction() as session:
            state = outbox.mark_failed(
                session,
                delivery.id,
                self.clock(),
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
        return False

    def mark_sent(self, ids: list[int]) -> None:
        if ids:
            with self.db.one_write() as session:
                outbox.mark_sent(session, ids, self.clock())

    def _fresh_reply(self, delivery: outbox.Delivery) -> bool:
        return (
            delivery.reply_token is not None
            and delivery.reply_expires_at is not None
            and delivery.reply_expires_at > self.clock()
        )

    async def first_attempt(self, delivery: outbox.Delivery) -> SendOutcome | None:
        """The delivery's first call to LINE, on the asynchronous client; None when there is
        none to make without the database (nothing to send, a reply token past its time)."""
        if delivery.empty or not delivery.to:
            return None
        if delivery.kind == "multicast":
            return await self.gateway.multicast_async(
                delivery.to, delivery.messages, delivery.retry_key
            )
        if delivery.kind == "reply":
            if not self._fresh_reply(delivery):
                return None
            assert delivery.reply_token is not None
            return await self.gateway.reply_async(delivery.reply_token, delivery.messages)
        return await self.gateway.push_async(delivery.to[0], delivery.messages, delivery.retry_key)

    def _attempt(self, delivery: outbox.Delivery, tried: SendOutcome | None) -> SendOutcome:
        if delivery.empty or not delivery.to:
            return SendOutcome(ok=False, retryable=False, error="nothing to send")
        if delivery.kind == "multicast":
            return tried or self.gateway.multicast(
                delivery.to, delivery.messages, delivery.retry_key
            )
        if delivery.kind == "reply":
            failed = tried
            if failed is None and self._fresh_reply(delivery):
                assert delivery.reply_token is not None
                failed = self.gateway.reply(delivery.reply_token, delivery.messages)
                if failed.ok:
                    return failed
            # The reply failed, or its token is spent or expired: the answer (a receipt may
            # carry the only copy of a token) must still arrive, and soon, so it is pushed
            # now and from now on (a push has a retry key: retried, it arrives once). A reply
            # LINE took but answered with an error arrives twice; better than late.
            with self.db.transaction() as session:
                outbox.switch_to_push(session, delivery.id)
            if failed is not None and failed.retry_after is not None:
                return failed  # rate limited: the push waits as long as LINE asked
        elif tried is not None:
            return tried
        return self.gateway.push(delivery.to[0], delivery.messages, delivery.retry_key)


class _QuietSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The send loop's selector: what it woke for runs once this process holds no short
    write turn, or after ``QUIET.LONGEST`` at most (store.writers.QUIET)."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        QUIET.wait()
        return ready


class Dispatcher:
    """Sends freshly committed outbox rows from the web process without holding the request.

    Each row's first call to LINE goes out on one event loop thread (the SDK's asynchronous
    client): hundreds may wait for LINE at once, holding no thread, so a slow LINE costs no
    CPU and threads never contend for the interpreter. What needs the database besides
    recording a delivery (a failure, a reply turned into a push) runs on ``threads``
    threads. Deliveries are recorded in batches, one transaction every ``FLUSH_DELAY`` at
    most, rather than one per message. Whatever it cannot send or record (a crash, LINE or
    the database down) stays claimed until the lease runs out, and `krasip worker` takes it.
    """

    # Seconds a delivered row may wait to be recorded with others. Each record is a
    # transaction: at 75 replies a second per process, 20 ms made one per 1.5 replies
    # (RESULTS, fifteenth round). The price: after kill -9, what LINE took in the last
    # 100 ms is sent again.
    FLUSH_DELAY = 0.1
    FLUSH_RETRY = 1.0
    CLOSE_WAIT = 10.0  # seconds shutdown waits for sends LINE has not answered yet

    def __init__(self, sender: Sender, threads: int) -> None:
        self.sender = sender
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="krasip-send"
        )
        self._sent: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()  # ends a batch's wait: shutdown records at once
        self._closing = False
        self._in_flight: set[Future[None]] = set()
        self._loop = asyncio.SelectorEventLoop(_QuietSelector())
        self._sending = threading.Thread(target=self._serve, name="krasip-send-loop", daemon=True)
        self._sending.start()
        self._recorder = threading.Thread(target=self._record_loop, name="krasip-sent", daemon=True)
        self._recorder.start()

    def _serve(self) -> None:
        self._loop.run_forever()

    def submit(self, ids: list[int]) -> None:
        """Claim these committed rows and send them."""
        if ids:
            self._pool.submit(self._run, ids)

    def submit_claimed(self, deliveries: list[outbox.Delivery]) -> None:
        """Send rows this process claimed in the transaction that wrote them."""
        for delivery in deliveries:
            future = asyncio.run_coroutine_threadsafe(self._first(delivery), self._loop)
            with self._lock:
                self._in_flight.add(future)
            future.add_done_callback(self._landed)

    def _landed(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    async def _first(self, delivery: outbox.Delivery) -> None:
        try:
            outcome = await self.sender.first_attempt(delivery)
        except Exception as exc:  # noqa: BLE001 - the lease runs out; the worker sends it
            log_failure(log, "sending right after commit failed; the worker will retry", exc)
            return
        if outcome is not None and outcome.ok:
            self._delivered(delivery.id)
        else:
            self._pool.submit(self._run_claimed, delivery, outcome)

    def _delivered(self, outbox_id: int) -> None:
        with self._lock:
            self._sent.append(outbox_id)
        self._wake.set()

    def _run_claimed(self, delivery: outbox.Delivery, tried: SendOutcome | None = None) -> None:
        try:
            delivered = self.sender.send(delivery, record_sent=False, tried=tried)
        except Exception as exc:  # noqa: BLE001 - the lease runs out; the worker sends it
            log_failure(log, "sending right after commit failed; the worker will retry", exc)
            return
        if delivered:
            self._delivered(delivery.id)

    def _run(self, ids: list[int]) -> None:
        try:
            self.sender.deliver(ids=ids)
        except Exception as exc:  # noqa: BLE001 - the worker will retry
            log_failure(log, "sending right after commit failed; the worker will retry", exc)

    def _record_loop(self) -> None:
        while not (self._closing and not self._sent):
            self._wake.wait()
            self._closed.wait(self.FLUSH_DELAY)  # let the batch fill
            self._wake.clear()
            if not self.flush():
                time.sleep(self.FLUSH_RETRY)
                self._wake.set()

    def flush(self) -> bool:
        """Record what was delivered; False (keeping the ids) when the database refused."""
        with self._lock:
            ids, self._sent = self._sent, []
        try:
            self.sender.mark_sent(ids)
        except Exception as exc:  # noqa: BLE001 - kept, and tried again
            log_failure(log, "recording deliveries failed; will try again", exc)
            with self._lock:
                self._sent[:0] = ids
            return False
        return True

    def shutdown(self) -> None:
        if self._closing:
            return
        with self._lock:
            in_flight = list(self._in_flight)
        wait(in_flight, timeout=self.CLOSE_WAIT)
        try:
            asyncio.run_coroutine_threadsafe(self.sender.gateway.aclose(), self._loop).result(
                timeout=self.CLOSE_WAIT
            )
        except Exception as exc:  # noqa: BLE001 - the process is ending anyway
            log_failure(log, "closing LINE's connections failed", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._sending.join(timeout=self.CLOSE_WAIT)
        if not self._sending.is_alive():
            self._loop.close()
        self._pool.shutdown(wait=True)
        self._closing = True
        self._closed.set()
        self._wake.set()
        self._recorder.join(timeout=10)
