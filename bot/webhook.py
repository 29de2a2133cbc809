"""`POST /callback` and `GET /healthz`."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.conversation import EventProcessor
from bot.runtime import Runtime
from store.outbox import Delivery

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)


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
    parser: WebhookParser = current_app.extensions["krasip.parser"]
    try:
        payload = parser.parse(body, signature, as_payload=True)
    except InvalidSignatureError:
        log.warning("webhook refused: bad signature")
        return _plain("invalid signature", 400)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        # RecursionError: a validly signed body nested deeper than the JSON parser goes.
        # Only the type is logged, never the body.
        log.warning("webhook refused: malformed body (%s)", type(exc).__name__)
        return _plain("malformed body", 400)
    processor = EventProcessor(runtime)
    to_send: list[Delivery] = []
    try:
        for event in payload.events or []:
            to_send.extend(processor.process(event))
    except OperationalError:
        # The database is unreachable: say so, so LINE redelivers; nothing was stored.
        log.error("webhook could not reach the database")
        return _plain("temporarily unavailable", 503)
    finally:
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
