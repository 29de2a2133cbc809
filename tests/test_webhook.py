"""The webhook's edges: signatures, body limits, redeliveries, events we do not act on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

import flask
import requests
from sqlalchemy import func, select

from store.models import Conversation, OutboxMessage, ProcessedEvent
from tests.conftest import CHANNEL_SECRET, Bot, Chat


def _count(bot: Bot, model: Any) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _event(kind: str, user_id: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id or "U" + uuid.uuid4().hex},
        "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
        "deliveryContext": {"isRedelivery": False},
    }
    event.update(extra)
    return event


def _signed_post(bot: Bot, body: bytes, signature: str | None = None) -> requests.Response:
    if signature is None:
        digest = hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()
        signature = base64.b64encode(digest).decode()
    return requests.post(
        bot.url + "/callback",
        data=body,
        headers={"X-Line-Signature": signature, "Content-Type": "application/json"},
        timeout=10,
    )


def test_bad_signature_is_refused_and_nothing_is_stored(bot: Bot, line: Any) -> None:
    status = line.post_raw_events(
        [
            _event(
                "message",
                message={"type": "text", "id": "1", "text": "ร้องเรียน"},
                replyToken="r" * 32,
            )
        ],
        signature="bm90IGEgc2lnbmF0dXJl",
    )
    assert status == 400
    assert _count(bot, ProcessedEvent) == 0
    assert _count(bot, OutboxMessage) == 0
    assert _count(bot, Conversation) == 0


def test_missing_signature_is_refused(bot: Bot) -> None:
    response = requests.post(bot.url + "/callback", data=b'{"events": []}', timeout=10)
    assert response.status_code == 400


def test_oversized_body_is_refused_with_413(bot: Bot) -> None:
    body = json.dumps({"destination": "U0", "events": [], "pad": "x" * (2 * 1024 * 1024)})
    response = _signed_post(bot, body.encode())
    assert response.status_code == 413
    assert _count(bot, ProcessedEvent) == 0


def test_malformed_body_with_a_valid_signature_is_refused(bot: Bot) -> None:
    response = _signed_post(bot, b"{this is not json")
    assert response.status_code == 400


def test_empty_event_list_is_acknowledged(bot: Bot) -> None:
    """LINE's 'verify' button sends no events; the webhook must answer 200."""
    response = _signed_post(bot, b'{"destination": "U0", "events": []}')
    assert response.status_code == 200


def test_redelivered_event_changes_nothing(bot: Bot, chat: Chat, line: Any) -> None:
    first = chat.say("ร้องเรียน")
    assert first, "the bot should answer the first delivery"
    event = dict(chat.user.last_event)
    event["deliveryContext"] = {"isRedelivery": True}
    outbox_before = _count(bot, OutboxMessage)
    with bot.runtime.db.transaction() as session:
        state_before = session.scalar(select(Conversation.state_ct))

    assert line.post_raw_events([event]) == 200
    bot.settle()

    assert chat.new_messages() == []
    assert _count(bot, OutboxMessage) == outbox_before
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(Conversation.state_ct)) == state_before


def test_duplicate_deliveries_at_the_same_moment_are_acted_on_once(
    bot: Bot, chat: Chat, line: Any
) -> None:
    event = _event(
        "message",
        chat.user_id,
        message={"type": "text", "id": "4711", "text": "report", "quoteToken": "q1"},
        replyToken=uuid.uuid4().hex,
    )
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(line.post_raw_events([event])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bot.settle()
    assert statuses == [200, 200, 200, 200]
    assert _count(bot, ProcessedEvent) == 1
    assert _count(bot, OutboxMessage) == 1


def test_events_we_do_not_act_on_are_acknowledged_without_error(bot: Bot, line: Any) -> None:
    user = "U" + uuid.uuid4().hex
    group = {"type": "group", "groupId": "C" + uuid.uuid4().hex, "userId": user}
    room = {"type": "room", "roomId": "R" + uuid.uuid4().hex, "userId": user}
    events = [
        _event("unsend", user, unsend={"messageId": "123"}),
        _event("unfollow", user),
        _event(
            "postback", user, replyToken=uuid.uuid4().hex, postback={"data": "s=review&v=confirm"}
        ),
        _event("postback", user, replyToken=uuid.uuid4().hex, postback={"data": "garbage%%"}),
        _event(
            "message",
            user,
            replyToken=uuid.uuid4().hex,
            message={
                "type": "sticker",
                "id": "5",
                "packageId": "446",
                "stickerId": "1988",
                "stickerResourceType": "STATIC",
                "quoteToken": "q4",
            },
        ),
        _event(
            "message",
            user,
            replyToken=uuid.uuid4().hex,
            message={
                "type": "location",
                "id": "6",
                "latitude": 13.75,
                "longitude": 100.5,
                "address": "Bangkok",
            },
        ),
        _event("join", replyToken=uuid.uuid4().hex, source=group),
        _event("leave", source=group),
        _event(
            "memberJoined",
            replyToken=uuid.uuid4().hex,
            source=group,
            joined={"members": [{"type": "user", "userId": user}]},
        ),
        _event(
            "message",
            replyToken=uuid.uuid4().hex,
            source=group,
            message={"type": "text", "id": "7", "text": "hello everyone", "quoteToken": "q2"},
        ),
        _event(
            "message",
            replyToken=uuid.uuid4().hex,
            source=room,
            message={"type": "text", "id": "8", "text": "ร้องเรียน", "quoteToken": "q3"},
        ),
        _event(
            "videoPlayComplete",
            user,
            replyToken=uuid.uuid4().hex,
            videoPlayComplete={"trackingId": "t"},
        ),
        _event(
            "beacon",
            user,
            replyToken=uuid.uuid4().hex,
            beacon={"hwid": "d41d8cd98f", "type": "enter"},
        ),
        _event("thingsYetToBeInvented", user, somethingNew={"x": 1}),
    ]
    for event in events:
        assert line.post_raw_events([event]) == 200, event["type"]
    bot.settle()
    with bot.runtime.db.transaction() as session:
        dead = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "dead")
        )
    assert dead == 0


def test_a_group_is_told_reports_belong_in_a_private_chat(bot: Bot, line: Any) -> None:
    group_id = "C" + uuid.uuid4().hex
    event = _event(
        "message",
        replyToken=uuid.uuid4().hex,
        source={"type": "group", "groupId": group_id, "userId": "U" + "1" * 32},
        message={"type": "text", "id": "9", "text": "ร้องเรียน", "quoteToken": "q3"},
    )
    assert line.post_raw_events([event]) == 200
    bot.settle()
    replies = [r for r in line.requests("/v2/bot/message/reply") if r["status"] == 200]
    assert len(replies) == 1
    assert _count(bot, Conversation) == 0


def test_healthz_answers_when_the_database_is_reachable(bot: Bot) -> None:
    response = requests.get(bot.url + "/healthz", timeout=10)
    assert response.status_code == 200
    assert response.text == "ok"


def test_follow_greets_and_explains_anonymity(chat: Chat) -> None:
    from tests.conftest import texts_of

    greeting = texts_of(chat.follow())
    assert "ไม่ระบุตัวตน" in greeting or "anonym" in greeting.lower()
    assert chat.quick_replies(), "the greeting offers ways to start"


def test_a_failure_inside_the_bot_keeps_the_draft_and_says_try_again(
    bot: Bot, chat: Chat, monkeypatch: Any, caplog: Any
) -> None:
    import handlers as conversation
    from tests.conftest import texts_of

    chat.say("ร้องเรียน")
    with bot.runtime.db.transaction() as session:
        before = session.scalar(select(Conversation.state_ct))
    real_handle = conversation.handle
    typed = "ข้อความลับของผู้แจ้ง"

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(typed)  # as a validation error quoting its input would

    monkeypatch.setattr(conversation, "handle", broken)
    answer = texts_of(chat.say(typed))
    assert answer, "the reporter is told something went wrong"
    assert typed not in caplog.text
    assert "ValueError" in caplog.text
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(Conversation.state_ct)) == before

    monkeypatch.setattr(conversation, "handle", real_handle)
    resumed = texts_of(chat._after(chat.user.tap("s=intro&v=ok")))
    assert "ไม่ระบุตัวตน" in resumed, "the form goes on from where it was"


def test_callback_answers_post_only(bot: Bot) -> None:
    response = requests.get(bot.url + "/callback", timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_line_requests_go_around_flask(bot: Bot, chat: Chat) -> None:
    """LINE's requests are answered in front of Flask (bot.webhook.Webhook): no request
    context, session or console hook of Flask's runs for them; the console's still do."""
    seen: list[str] = []

    def started(_sender: Any, **_extra: Any) -> None:
        seen.append(flask.request.path)

    flask.request_started.connect(started, bot.app)
    try:
        assert chat.follow(), "the webhook answered without Flask"
        assert requests.get(bot.url + "/healthz", timeout=10).status_code == 200
    finally:
        flask.request_started.disconnect(started, bot.app)
    assert seen == ["/healthz"]


def test_a_failure_around_the_events_is_a_500_that_logs_no_text(
    bot: Bot, chat: Chat, line: Any, monkeypatch: Any, caplog: Any
) -> None:
    """A bug outside an event's own handling (here the hand-off of the replies) answers
    500 and is logged as its type and frames, never its message. The reply stays in the
    outbox for the worker to take over."""
    typed = "ข้อความลับของผู้แจ้ง"

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise LookupError(typed)  # as an error quoting what the reporter wrote would

    monkeypatch.setattr(bot.runtime, "start_dispatcher", broken)
    event = _event(
        "message",
        chat.user_id,
        message={"type": "text", "id": "4712", "text": "report", "quoteToken": "q1"},
        replyToken=uuid.uuid4().hex,
    )
    assert line.post_raw_events([event]) == 500
    assert typed not in caplog.text
    assert "LookupError" in caplog.text
    assert _count(bot, OutboxMessage) == 1
