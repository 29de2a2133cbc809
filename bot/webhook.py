"""LINE's webhook (`POST /callback`) and `GET /healthz`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, current_app
from linebot.v3 import SignatureValidator
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Request, Response

from bot import events as line_events
from bot.conversation import EventProcessor
from bot.logs import log_failure
from bot.runtime import Runtime
from store.outbox import Delivery

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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


class Webhook:
    """``/callback`` on plain WSGI, in front of Flask (``create_app`` mounts it).

    LINE's requests need none of what Flask does for the console (an app and request
    context, a signed session, CSRF and the other hooks): a signed request with no events
    costs 92 µs of CPU through Flask and 26 µs here (`python -m bench.micro`). Everything
    else goes on to ``next``."""

    def __init__(self, runtime: Runtime, following: WSGIApplication, *, hsts: str | None) -> None:
        settings = runtime.settings
        sqlite = settings.database_url.startswith("sqlite")
        self.runtime = runtime
        self.next = following
        self.hsts = hsts
        self.max_body = settings.max_body_bytes
        self.validator = SignatureValidator(settings.line_channel_secret)
        # LINE waits 2 s; past the wait a 503 makes it redeliver (webhook_db_wait).
        self.wait = settings.webhook_db_wait or (1.0 if sqlite else 0.5)
        self.busy = _Busy()
        # At most a few events in the database at once per process: more only queue on
        # the database's locks (SQLite has one writer), where a wait cannot be bounded
        # fairly and a flood of wrong tokens would starve a reporter's lookup.
        self.gate = threading.BoundedSemaphore(settings.webhook_concurrency or (2 if sqlite else 4))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/callback":
            return self.next(environ, start_response)
        request = Request(environ)
        request.max_content_length = self.max_body
        try:
            if request.method != "POST":
                raise MethodNotAllowed(valid_methods=["POST"])
            response = self.answer(request)
        except HTTPException as exc:  # 405, and 413 for a body over the limit
            response = exc.get_response(environ)
        except Exception as exc:  # noqa: BLE001 - a bug: 500, and LINE redelivers
            # Its message may quote what a reporter wrote: only its type and frames.
            log_failure(log, "webhook failed", exc)
            response = _plain("internal error", 500)
        if self.hsts:
            response.headers.setdefault("Strict-Transport-Security", self.hsts)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        # A body over the limit raises 413 before it is read.
        body = request.get_data(as_text=True)
        signature = request.headers.get("X-Line-Signature", "")
        # The SDK checks the signature; the events are read without its pydantic models
        # (bot/events.py): 41 → 12 µs of CPU per text event (`python -m bench.micro`).
        if not self.validator.validate(body, signature):
            log.warning("webhook refused: bad signature")
            return _plain("invalid signature", 400)
        try:
            events = line_events.parse(body)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # RecursionError: a validly signed body nested deeper than the JSON parser goes.
            # Only the type is logged, never the body.
            log.warning("webhook refused: malformed body (%s)", type(exc).__name__)
            return _plain("malformed body", 400)
        if not events:
            return _plain("OK", 200)
        if self.busy.now():
            return _plain("temporarily unavailable", 503)
        started = time.monotonic()
        if not self.gate.acquire(timeout=ANSWER_WITHIN / 2):
            log.warning("webhook queue full; LINE will redeliver")
            return _plain("temporarily unavailable", 503)
        try:
            return self._handle(events, started)
        finally:
            self.gate.release()

    def _handle(self, events: list[line_events.Event], started: float) -> Response:
        runtime = self.runtime
        processor = EventProcessor(runtime, wait=self.wait)
        to_send: list[Delivery] = []
        try:
            for event in events:
                left = ANSWER_WITHIN - (time.monotonic() - started)
                if left <= 0:
                    log.warning("webhook out of time; LINE will redeliver the rest")
                    return _plain("temporarily unavailable", 503)
                processor.wait = min(self.wait, left)
                to_send.extend(processor.process(event))
        except OperationalError:
            # The database is unreachable or locked past the wait: say so, so LINE
            # redelivers; nothing of the failed event was stored.
            self.busy.seen()
            log.error("webhook could not reach the database in time")
            return _plain("temporarily unavailable", 503)
        finally:
            # Whatever committed goes out now, in the background: LINE never waits on LINE.
            if to_send and runtime.settings.send_after_commit:
                runtime.start_dispatcher().submit_claimed(to_send)
        return _plain("OK", 200)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["krasip"]
    return runtime


def _plain(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.get("/healthz")
def healthz() -> Response:
    try:
        with _runtime().db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        return _plain("database unreachable", 503)
    return _plain("ok", 200)
