"""`POST /callback` and `GET /healthz`."""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Response, current_app, request
from linebot.v3 import SignatureValidator
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot import events as line_events
from bot.conversation import EventProcessor
from bot.runtime import Runtime
from store.outbox import Delivery

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

# LINE waits 2 s for an answer: past this, the events not yet handled are left to its
# redelivery (those handled are recorded, so a redelivery does not repeat them).
ANSWER_WITHIN = 1.5
# After the database kept a lock past the wait, the webhook answers 503 at once for this
# long instead of queueing every request behind the lock (one request probes per period).
BUSY_BACKOFF = 0.5


class _Busy:
    """When this app last found the database locked past the wait."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    def now(self) -> bool:
        return time.monotonic() < self.until

    def seen(self) -> None:
        with self.lock:
            self.until = time.monotonic() + BUSY_BACKOFF


def _busy() -> _Busy:
    busy: _Busy = current_app.extensions.setdefault("krasip.busy", _Busy())
    return busy


def _gate() -> threading.BoundedSemaphore:
    """At most a few events in the database at once per process: more only queue on the
    database's locks (SQLite has one writer), where a wait cannot be bounded fairly and a
    flood of wrong tokens would starve a reporter's lookup."""
    gate = current_app.extensions.get("krasip.gate")
    if gate is None:
        settings = _runtime().settings
        size = settings.webhook_concurrency or (
            2 if settings.database_url.startswith("sqlite") else 4
        )
        gate = current_app.extensions.setdefault("krasip.gate", threading.BoundedSemaphore(size))
    return gate


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["krasip"]
    return runtime


def _plain(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.post("/callback")
def callback() -> Response:
    runtime = _runtime()
    # Flask refuses bodies over MAX_CONTENT_LENGTH with 413 before we read them.
    body = request.get_data(as_text=True)
    signature = request.headers.get("X-Line-Signature", "")
    # The SDK checks the signature; the events are read without its pydantic models
    # (bot/events.py): 41 → 12 µs of CPU per text event (`python -m bench.micro`).
    validator: SignatureValidator = current_app.extensions["krasip.signature"]
    if not validator.validate(body, signature):
        log.warning("webhook refused: bad signature")
        return _plain("invalid signature", 400)
    try:
        events = line_events.parse(body)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        # RecursionError: a validly signed body nested deeper than the JSON parser goes.
        # Only the type is logged, never the body.
        log.warning("webhook refused: malformed body (%s)", type(exc).__name__)
        return _plain("malformed body", 400)
    busy = _busy()
    if events and busy.now():
        return _plain("temporarily unavailable", 503)
    started = time.monotonic()
    wait = runtime.settings.webhook_db_wait or (
        1.0 if runtime.settings.database_url.startswith("sqlite") else 0.5
    )
    processor = EventProcessor(runtime, wait=wait)
    to_send: list[Delivery] = []
    gate = _gate()
    if events and not gate.acquire(timeout=ANSWER_WITHIN / 2):
        log.warning("webhook queue full; LINE will redeliver")
        return _plain("temporarily unavailable", 503)
    try:
        for event in events:
            left = ANSWER_WITHIN - (time.monotonic() - started)
            if left <= 0:
                log.warning("webhook out of time; LINE will redeliver the rest")
                return _plain("temporarily unavailable", 503)
            processor.wait = min(wait, left)
            to_send.extend(processor.process(event))
    except OperationalError:
        # The database is unreachable or locked past the wait: say so, so LINE redelivers;
        # nothing of the failed event was stored.
        busy.seen()
        log.error("webhook could not reach the database in time")
        return _plain("temporarily unavailable", 503)
    finally:
        if events:
            gate.release()
        # Whatever committed goes out now, in the background: LINE never waits on LINE.
        if to_send and runtime.settings.send_after_commit:
            runtime.start_dispatcher().submit_claimed(to_send)
    return _plain("OK", 200)


@bp.get("/healthz")
def healthz() -> Response:
    try:
        with _runtime().db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        return _plain("database unreachable", 503)
    return _plain("ok", 200)
