"""Finding 9 (parts): the webhook and media downloads under hostile input.

* A validly signed body nested 100,000 deep made the JSON parser raise RecursionError and
  the webhook answer 500 (LINE would redeliver it forever). Now: 400, nothing stored, the
  log names the error type only, and the bot keeps answering.
* Media size was checked only after the whole download, so a content stream of any size
  (with no Content-Length, or a false one) was read into memory. Now the declared length
  refuses it before a byte is read, and a running count stops the read at the limit plus
  one chunk; the item is marked failed with a reason naming no content.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import pytest
import requests
import urllib3.response
from sqlalchemy import func, select

from bot.line import CONTENT_CHUNK
from emulator.client import Emulator
from store.models import Attachment, Conversation, OutboxMessage, ProcessedEvent
from tests.conftest import CHANNEL_SECRET, Bot, Chat
from tests.test_report_end_to_end import photo_with_gps, thai_report_up_to_the_evidence_step

DEPTH = 100_000
LIMIT = 256 * 1024
HUGE = 64 * 1024 * 1024


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"media_max_bytes": LIMIT}


def _count(bot: Bot, model: Any) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _signed_post(bot: Bot, body: bytes) -> requests.Response:
    digest = hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()
    return requests.post(
        bot.url + "/callback",
        data=body,
        headers={
            "X-Line-Signature": base64.b64encode(digest).decode(),
            "Content-Type": "application/json",
        },
        timeout=30,
    )


def _text_event(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": "U" + uuid.uuid4().hex},
        "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
        "message": {"type": "text", "id": str(time.time_ns()), "text": text, **extra},
    }


def _nothing_stored(bot: Bot) -> None:
    assert _count(bot, ProcessedEvent) == 0
    assert _count(bot, OutboxMessage) == 0
    assert _count(bot, Conversation) == 0


def test_a_signed_body_nested_100000_deep_gets_400_and_the_bot_keeps_working(
    bot: Bot, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "nested-marker-" + uuid.uuid4().hex
    body = ('{"destination":"' + marker + '","events":' + "[" * DEPTH + "]" * DEPTH + "}").encode()
    assert len(body) < bot.settings.max_body_bytes  # not the size limit that stops it
    with caplog.at_level(logging.INFO):
        answer = _signed_post(bot, body)
    assert answer.status_code == 400, answer.text[:200]
    _nothing_stored(bot)
    refused = [r.getMessage() for r in caplog.records if "webhook refused" in r.getMessage()]
    assert refused and "RecursionError" in refused[0]
    assert not [r for r in caplog.records if marker in r.getMessage() or r.exc_info]

    # Again, in an event's own field, and once more: the server still answers the reporter.
    deep = json.loads("[" * 500 + "]" * 500)
    shallow_enough = json.dumps({"destination": "x", "events": [_text_event("hi", extra=deep)]})
    assert _signed_post(bot, shallow_enough.encode()).status_code in (200, 400)
    nested_field = (
        json.dumps({"destination": "x", "events": [_text_event("hi")]})[:-4]
        + ', "extra": '
        + "[" * DEPTH
        + "]" * DEPTH
        + "}}]}"
    )
    assert _signed_post(bot, nested_field.encode()).status_code == 400
    assert chat.follow(), "the bot still greets a new reporter"


# --- media size enforced while streaming ------------------------------------------------


class ContentReads:
    """Counts the body bytes the bot reads from LINE's content endpoint (the client side):
    every read, plain or chunked, passes through one of these."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes = 0
        for name in ("read", "read_chunked"):
            monkeypatch.setattr(urllib3.response.HTTPResponse, name, self._counting(name))

    def _counting(self, name: str) -> Any:
        original = getattr(urllib3.response.HTTPResponse, name)
        reads = self

        if name == "read":

            def read(response: Any, *args: Any, **kwargs: Any) -> Any:
                data = original(response, *args, **kwargs)
                if "/content" in (response.url or ""):
                    reads.bytes += len(data or b"")
                return data

            return read

        def read_chunked(response: Any, *args: Any, **kwargs: Any) -> Any:
            for data in original(response, *args, **kwargs):
                if "/content" in (response.url or ""):
                    reads.bytes += len(data or b"")
                yield data

        return read_chunked


def _attachment(bot: Bot) -> Attachment:
    with bot.runtime.db.transaction() as session:
        [row] = session.scalars(select(Attachment)).all()
        session.expunge(row)
        return row


def _served_after_the_bot_stopped(line: Emulator) -> dict[str, Any]:
    time.sleep(0.5)  # let the server notice the closed connection
    return line.streamed()


@pytest.mark.parametrize("length", ["omit", "lie"])
def test_a_content_stream_without_a_true_length_is_cut_at_the_limit(
    bot: Bot, chat: Chat, line: Emulator, monkeypatch: pytest.MonkeyPatch, length: str
) -> None:
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    # LINE (or whoever answers in its place) sends 64 MiB, declaring nothing or 1 KiB.
    line.stream_content(HUGE, length=length, declared=1024 if length == "lie" else 0)
    reads = ContentReads(monkeypatch)
    bot.run_worker()
    if length == "omit":
        assert reads.bytes <= LIMIT + CONTENT_CHUNK, reads.bytes
        row = _attachment(bot)
        assert row.state == "failed" and row.blob_ct is None
        assert row.error == "content larger than the limit"
    else:
        # HTTP framing ends the body at the declared 1 KiB: the rest is never read.
        assert reads.bytes <= 1024, reads.bytes
        # Dealt with from that 1 KiB (kept behind a warning or refused), not left to retry.
        assert _attachment(bot).state in ("stored", "failed")
    served = _served_after_the_bot_stopped(line)
    assert not served["finished"] and served["served"] < HUGE // 4, served


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    bot: Bot, chat: Chat, line: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    line.stream_content(HUGE, length="declared")
    reads = ContentReads(monkeypatch)
    bot.run_worker()
    assert reads.bytes == 0
    row = _attachment(bot)
    assert row.state == "failed" and row.error == "content larger than the limit"
    served = _served_after_the_bot_stopped(line)
    assert not served["finished"] and served["served"] < HUGE // 4, served
    # Served as usual again, the next photo is fetched and kept: the worker keeps working.
    line.clear_streams()
    chat.send_image(photo_with_gps())
    bot.run_worker()
    with bot.runtime.db.transaction() as session:
        states = sorted(session.scalars(select(Attachment.state)).all())
    assert states == ["failed", "stored"]
