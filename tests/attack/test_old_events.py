"""Issue 13, finding 9: a signed webhook event stamped 2020 was accepted.

A signed body, once captured (a proxy log, a debugging dump), stays valid forever: the
signature covers the body, not the time. The bot remembers the ids of events it handled
for at least 24 hours (under day keys that are then destroyed), so a replay after that
was acted on again. Now events older than a configurable age (12 hours by default, never
more than those 24 hours) are answered 200 and dropped, and the log says only how old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bot.config import ConfigError, load_settings
from store.models import Case, Conversation, OutboxMessage, ProcessedEvent
from tests.conftest import CHANNEL_SECRET, Bot, Clock


def _text_event(text: str, at: datetime, user_id: str) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(at.timestamp() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
        "deliveryContext": {"isRedelivery": True},
        "replyToken": uuid.uuid4().hex,
        "message": {
            "type": "text",
            "id": str(uuid.uuid4().int)[:18],
            "quoteToken": uuid.uuid4().hex,
            "text": text,
        },
    }


def _post(bot: Bot, events: list[dict[str, Any]]) -> requests.Response:
    body = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
    digest = hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()
    return requests.post(
        bot.url + "/callback",
        data=body,
        headers={
            "X-Line-Signature": base64.b64encode(digest).decode(),
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def _count(bot: Bot, model: Any) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_signed_event_from_2020_is_answered_and_dropped_without_a_trace(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    stamped = datetime(2020, 3, 1, 9, 30, tzinfo=UTC)
    secret_words = "แจ้งเบาะแส ลับสุดยอด 2020"
    caplog.set_level(logging.INFO)
    response = _post(bot, [_text_event(secret_words, stamped, "U" + uuid.uuid4().hex)])
    assert response.status_code == 200, "LINE is told it arrived, so it is not sent again"
    bot.settle()
    for model in (Conversation, ProcessedEvent, OutboxMessage, Case):
        assert _count(bot, model) == 0, f"an event from 2020 left a {model.__name__} row"
    assert "minutes old" in caplog.text
    assert secret_words not in caplog.text and "2020" not in caplog.text


def test_a_captured_event_replayed_after_its_id_was_forgotten_does_nothing(
    bot: Bot, clock: Clock
) -> None:
    event = _text_event("แจ้งเบาะแส", clock(), "U" + uuid.uuid4().hex)
    assert _post(bot, [event]).status_code == 200
    bot.settle()
    assert _count(bot, ProcessedEvent) == 1 and _count(bot, Conversation) == 1, "it was live"

    # Two days on, the day keys that remembered its id are gone and the draft it began
    # has expired (the worker's cleaning). Before, the replay began a new draft.
    clock.advance(days=2, minutes=1)
    bot.run_worker()
    assert _count(bot, ProcessedEvent) == 0 and _count(bot, Conversation) == 0
    assert _post(bot, [event]).status_code == 200
    bot.settle()
    assert _count(bot, ProcessedEvent) == 0 and _count(bot, Conversation) == 0


def test_a_late_redelivery_within_the_age_is_still_handled(bot: Bot, clock: Clock) -> None:
    # LINE redelivers what our server failed to take: after an outage of hours, those
    # events must still count. The default age (12 hours) keeps them.
    assert bot.settings.webhook_max_event_age == timedelta(hours=12)
    late = _text_event(
        "แจ้งเบาะแส", clock() - timedelta(hours=11, minutes=50), "U" + uuid.uuid4().hex
    )
    assert _post(bot, [late]).status_code == 200
    bot.settle()
    assert _count(bot, ProcessedEvent) == 1 and _count(bot, Conversation) == 1


def test_the_age_cannot_be_set_beyond_what_event_ids_are_remembered_for(tmp_path: Path) -> None:
    dev = {"env": "development", "instance_path": tmp_path}
    assert load_settings(environ={}, overrides=dev).webhook_max_event_age == timedelta(hours=12)
    too_long = {"KRASIP_WEBHOOK_MAX_EVENT_AGE_MINUTES": "2880"}
    with pytest.raises(ConfigError, match="1440"):
        load_settings(environ=too_long, overrides=dev)
    with pytest.raises(ConfigError):
        load_settings(environ={}, overrides={**dev, "webhook_max_event_age": timedelta(0)})
    day = {"KRASIP_WEBHOOK_MAX_EVENT_AGE_MINUTES": "1440"}
    assert load_settings(environ=day, overrides=dev).webhook_max_event_age == timedelta(days=1)
