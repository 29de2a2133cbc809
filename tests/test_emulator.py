"""The LINE emulator, exercised through the real line-bot-sdk v3 client.

A tiny fake bot (served like the emulator, in a thread) verifies every webhook signature with
the SDK's WebhookParser and answers through MessagingApi, exactly as the real bot would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

import pytest
import requests
from flask import Flask, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexMessage,
    FlexText,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from linebot.v3.webhooks import MessageEvent, TextMessageContent

from emulator import create_app
from emulator.client import Emulator, EmulatorError, LineUser
from emulator.server import EmulatorServer

SECRET = "emulator-test-channel-secret"
TOKEN = "emulator-test-access-token"
USER = "U" + "a" * 32
OTHER = "U" + "b" * 32
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeBot:
    """Records webhook deliveries; echoes text messages when ``echo`` is on."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.parser = WebhookParser(SECRET)
        self.deliveries: list[dict[str, Any]] = []
        self.echo = True
        self.status = 200
        self.errors: list[BaseException] = []
        self.app = Flask("fake-bot")
        self.app.add_url_rule("/callback", "callback", self.callback, methods=["POST"])

    def api(self, token: str = TOKEN) -> ApiClient:
        return ApiClient(Configuration(host=self.api_url, access_token=token))

    def callback(self) -> Any:
        body = request.get_data(as_text=True)
        signature = request.headers.get("X-Line-Signature", "")
        try:
            events = self.parser.parse(body, signature)
        except InvalidSignatureError:
            abort(400)
        self.deliveries.append(
            {
                "raw": request.get_data(),
                "signature": signature,
                "content_type": request.content_type,
                "events": events,
            }
        )
        if self.echo:
            for event in events:
                if isinstance(event, MessageEvent) and isinstance(
                    event.message, TextMessageContent
                ):
                    # Like the real bot: answer the webhook first, reply afterwards.
                    threading.Thread(target=self._reply, args=(event,), daemon=True).start()
        return "OK", self.status

    def _reply(self, event: MessageEvent) -> None:
        try:
            with self.api() as client:
                MessagingApi(client).reply_message(
                    ReplyMessageRequest(
                        reply_token=event.reply_token,
                        messages=[TextMessage(text=f"echo: {event.message.text}")],
                    )
                )
        except Exception as exc:  # noqa: BLE001 - surfaced through self.errors in tests
            self.errors.append(exc)


@pytest.fixture
def emu_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu_env(emu_clock: FakeClock):
    app = create_app(
        channel_secret=SECRET, access_token=TOKEN, reply_token_ttl=60.0, clock=emu_clock
    )
    emu_server = EmulatorServer(app).start()
    bot = FakeBot(emu_server.url)
    bot_server = EmulatorServer(bot.app).start()
    app.config["EMULATOR_WEBHOOK_URL"] = bot_server.url + "/callback"
    try:
        yield {"url": emu_server.url, "app": app, "bot": bot, "control": Emulator(emu_server.url)}
    finally:
        bot_server.stop()
        emu_server.stop()


@pytest.fixture
def emu_api(emu_env):
    with emu_env["bot"].api() as client:
        yield MessagingApi(client)


def api_error(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return json.loads(exc.value.body)


# ---------------------------------------------------------------- webhook delivery


def test_events_are_signed_and_shaped_like_line(emu_env):
    user = LineUser(emu_env["url"], USER)
    assert user.follow(display_name="สมชาย") == 200
    assert user.say("สวัสดีครับ\nบรรทัดสอง") == 200

    deliveries = emu_env["bot"].deliveries
    assert len(deliveries) == 2
    for delivery in deliveries:
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), delivery["raw"], hashlib.sha256).digest()
        ).decode()
        assert delivery["signature"] == expected
        assert delivery["content_type"].startswith("application/json")
    payload = json.loads(deliveries[1]["raw"].decode("utf-8"))
    assert payload["destination"].startswith("U") and len(payload["destination"]) == 33
    (event,) = payload["events"]
    assert event["type"] == "message" and event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": USER}
    assert len(event["webhookEventId"]) == 26
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert event["timestamp"] == int(1_760_000_000.0 * 1000)
    assert event["message"]["text"] == "สวัสดีครับ\nบรรทัดสอง"
    assert event["replyToken"] and event["message"]["id"] and event["message"]["quoteToken"]
    # Thai goes over the wire as UTF-8, not \u escapes, as LINE sends it.
    assert "สวัสดีครับ".encode() in deliveries[1]["raw"]
    follow = json.loads(deliveries[0]["raw"])["events"][0]
    assert follow["type"] == "follow" and follow["follow"] == {"isUnblocked": False}


def test_reply_reaches_the_user(emu_env):
    user = LineUser(emu_env["url"], USER)
    user.say("แจ้งเบาะแส")
    (got,) = user.wait_for_messages(1)
    assert got["via"] == "reply"
    assert got["message"]["type"] == "text" and got["message"]["text"] == "echo: แจ้งเบาะแส"
    assert user.last_text() == "echo: แจ้งเบาะแส"
    user.say("two")
    assert user.wait_for_messages(1)[0]["message"]["text"] == "echo: two"
    assert [m["message"]["text"] for m in user.messages()] == ["echo: แจ้งเบาะแส", "echo: two"]
    assert not emu_env["bot"].errors


def test_wait_for_messages_times_out(emu_env):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    user.say("nobody answers")
    with pytest.raises(TimeoutError):
        user.wait_for_messages(1, timeout=0.3)


def test_raw_events_with_bad_signature_are_refused(emu_env):
    control = emu_env["control"]
    user = LineUser(emu_env["url"], USER)
    emu_env["bot"].echo = False
    user.say("original")
    event = dict(user.last_event, deliveryContext={"isRedelivery": True})
    assert control.post_raw_events([event], signature="bm90IGEgc2lnbmF0dXJl") == 400
    assert control.post_raw_events([event]) == 200
    assert len(emu_env["bot"].deliveries) == 2
    assert emu_env["bot"].deliveries[-1]["events"][0].delivery_context.is_redelivery is True


def test_webhook_status_is_reported_and_unreachable_webhook_raises(emu_env):
    emu_env["bot"].status = 500
    user = LineUser(emu_env["url"], USER)
    assert user.say("hi") == 500
    emu_env["app"].config["EMULATOR_WEBHOOK_URL"] = "http://127.0.0.1:9/callback"
    with pytest.raises(EmulatorError):
        user.say("hi")


# ---------------------------------------------------------------- reply tokens


def test_reply_token_is_single_use(emu_env, emu_api):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    user.say("hello")
    token = user.last_event["replyToken"]
    request_ = ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="first")])
    response = emu_api.reply_message(request_)
    assert len(response.sent_messages) == 1 and response.sent_messages[0].id
    with pytest.raises(ApiException) as exc:
        emu_api.reply_message(
            ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="again")])
        )
    assert exc.value.status == 400
    assert api_error(exc) == {"message": "Invalid reply token"}
    assert [m["message"]["text"] for m in user.messages()] == ["first"]


def test_reply_token_expires(emu_env, emu_api, emu_clock):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    user.say("one")
    fresh = user.last_event["replyToken"]
    user.say("two")
    stale = user.last_event["replyToken"]
    emu_clock.now += 59
    emu_api.reply_message(ReplyMessageRequest(reply_token=fresh, messages=[TextMessage(text="ok")]))
    emu_clock.now += 2
    with pytest.raises(ApiException) as exc:
        emu_api.reply_message(
            ReplyMessageRequest(reply_token=stale, messages=[TextMessage(text="late")])
        )
    assert exc.value.status == 400 and api_error(exc)["message"] == "Invalid reply token"
    with pytest.raises(ApiException):
        emu_api.reply_message(
            ReplyMessageRequest(reply_token="made-up", messages=[TextMessage(text="x")])
        )
    assert [m["message"]["text"] for m in user.messages()] == ["ok"]


# ---------------------------------------------------------------- push, retry keys, multicast


def test_push_retry_key_is_accepted_once(emu_env, emu_api):
    user = LineUser(emu_env["url"], USER)
    user.follow()
    key = str(uuid.uuid4())
    push = PushMessageRequest(to=USER, messages=[TextMessage(text="สถานะ: รับเรื่องแล้ว")])
    first = emu_api.push_message_with_http_info(push, x_line_retry_key=key)
    assert first.status_code == 200
    request_id = first.headers["x-line-request-id"]
    assert request_id
    with pytest.raises(ApiException) as exc:
        emu_api.push_message(push, x_line_retry_key=key)
    assert exc.value.status == 409
    body = api_error(exc)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"] == [m.to_dict() for m in first.data.sent_messages]
    assert exc.value.headers["x-line-accepted-request-id"] == request_id
    delivered = user.messages()
    assert len(delivered) == 1 and delivered[0]["via"] == "push"
    # A different key is a different request.
    emu_api.push_message(push, x_line_retry_key=str(uuid.uuid4()))
    assert len(user.messages()) == 2
    log = emu_env["control"].requests("/v2/bot/message/push")
    assert [(r["status"], r["retry_key"]) for r in log][:2] == [(200, key), (409, key)]
    assert log[0]["body"]["to"] == USER


def test_push_rejects_a_retry_key_that_is_not_a_uuid(emu_env, emu_api):
    push = PushMessageRequest(to=USER, messages=[TextMessage(text="x")])
    with pytest.raises(ApiException) as exc:
        emu_api.push_message(push, x_line_retry_key="not-a-uuid")
    assert exc.value.status == 400
    assert LineUser(emu_env["url"], USER).messages() == []


def test_push_to_invalid_recipient(emu_api):
    with pytest.raises(ApiException) as exc:
        emu_api.push_message(PushMessageRequest(to="nobody", messages=[TextMessage(text="x")]))
    assert exc.value.status == 400 and "'to'" in api_error(exc)["message"]


def test_multicast_and_loading_animation(emu_env, emu_api):
    a, b = LineUser(emu_env["url"], USER), LineUser(emu_env["url"], OTHER)
    a.follow()
    b.follow()
    emu_api.multicast(
        MulticastRequest(to=[USER, OTHER], messages=[TextMessage(text="news")]),
        x_line_retry_key=str(uuid.uuid4()),
    )
    for user in (a, b):
        assert [(m["via"], m["message"]["text"]) for m in user.messages()] == [
            ("multicast", "news")
        ]
    resp = emu_api.show_loading_animation_with_http_info(
        ShowLoadingAnimationRequest(chat_id=USER, loading_seconds=10)
    )
    assert resp.status_code == 202
    with pytest.raises(ApiException) as exc:
        emu_api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=USER, loading_seconds=7))
    assert exc.value.status == 400


def test_unfollowed_user_receives_no_push(emu_env, emu_api):
    user = LineUser(emu_env["url"], USER)
    user.follow()
    user.unfollow()
    emu_api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="x")]))
    assert user.messages() == []
    assert user.follow() == 200
    assert emu_env["bot"].deliveries[-1]["events"][0].follow.is_unblocked is True


# ---------------------------------------------------------------- auth and validation


def test_bad_bearer_token_is_401(emu_env):
    with emu_env["bot"].api(token="wrong") as client, pytest.raises(ApiException) as exc:
        MessagingApi(client).push_message(
            PushMessageRequest(to=USER, messages=[TextMessage(text="x")])
        )
    assert exc.value.status == 401
    assert api_error(exc)["message"].startswith("Authentication failed.")
    resp = requests.get(f"{emu_env['url']}/v2/bot/profile/{USER}", timeout=5)
    assert resp.status_code == 401


def _post(emu_env, path: str, body: Any, raw: bytes | None = None) -> requests.Response:
    return requests.post(
        emu_env["url"] + path,
        data=raw if raw is not None else json.dumps(body),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )


def _text(n: int = 1) -> list[dict[str, str]]:
    return [{"type": "text", "text": "x"}] * n


QR_ITEM = {"type": "action", "action": {"type": "postback", "label": "ok", "data": "d"}}


@pytest.mark.parametrize(
    ("messages", "prop"),
    [
        ([], "messages"),
        (_text(6), "messages"),
        ([{"type": "file"}], "messages[0].type"),
        ([{"text": "no type"}], "messages[0].type"),
        ([{"type": "text", "text": ""}], "messages[0].text"),
        ([{"type": "text", "text": "ก" * 5001}], "messages[0].text"),
        ([{"type": "flex", "contents": {"type": "bubble"}}], "messages[0].altText"),
        (
            [{"type": "flex", "altText": "a" * 1501, "contents": {"type": "bubble"}}],
            "messages[0].altText",
        ),
        (
            [{"type": "flex", "altText": "a", "contents": {"type": "box"}}],
            "messages[0].contents.type",
        ),
        (
            [{"type": "text", "text": "x", "quickReply": {"items": [QR_ITEM] * 14}}],
            "messages[0].quickReply.items",
        ),
        (
            [
                {
                    "type": "text",
                    "text": "x",
                    "quickReply": {
                        "items": [
                            {
                                "type": "action",
                                "action": {"type": "postback", "label": "ok", "data": "d" * 301},
                            }
                        ]
                    },
                }
            ],
            "messages[0].quickReply.items[0].action.data",
        ),
        (
            [
                {
                    "type": "text",
                    "text": "x",
                    "quickReply": {
                        "items": [
                            {
                                "type": "action",
                                "action": {"type": "message", "label": "l" * 21, "text": "t"},
                            }
                        ]
                    },
                }
            ],
            "messages[0].quickReply.items[0].action.label",
        ),
    ],
)
def test_malformed_messages_get_lines_400_shape(emu_env, messages, prop):
    resp = _post(emu_env, "/v2/bot/message/push", {"to": USER, "messages": messages})
    assert resp.status_code == 400
    body = resp.json()
    assert body["message"] == f"The request body has {len(body['details'])} error(s)"
    assert prop in [d["property"] for d in body["details"]]
    assert LineUser(emu_env["url"], USER).messages() == []


def test_valid_flex_with_quick_reply_is_accepted(emu_env):
    flex = {
        "type": "flex",
        "altText": "สรุปเรื่อง",
        "contents": {
            "type": "carousel",
            "contents": [
                {
                    "type": "bubble",
                    "body": {
                        "type": "box",
                        "layout": "vertical",
                        "contents": [
                            {"type": "text", "text": "หัวข้อ", "weight": "bold"},
                            {"type": "separator"},
                            {
                                "type": "button",
                                "action": {"type": "postback", "label": "ยืนยัน", "data": "confirm"},
                            },
                        ],
                    },
                }
            ],
        },
        "quickReply": {"items": [QR_ITEM] * 13},
    }
    resp = _post(emu_env, "/v2/bot/message/push", {"to": USER, "messages": [flex]})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-line-request-id"]


def test_flex_built_with_the_sdk_is_delivered(emu_env, emu_api):
    bubble = FlexBubble(
        body=FlexBox(layout="vertical", contents=[FlexText(text="เลขเรื่อง KRS-2026-000123")])
    )
    emu_api.push_message(
        PushMessageRequest(to=USER, messages=[FlexMessage(alt_text="สรุป", contents=bubble)])
    )
    (got,) = LineUser(emu_env["url"], USER).messages()
    assert got["message"]["type"] == "flex" and got["message"]["altText"] == "สรุป"
    assert got["message"]["contents"]["body"]["contents"][0]["text"].endswith("000123")
    assert LineUser(emu_env["url"], USER).last_text() == "สรุป"


def test_invalid_json_is_400(emu_env):
    resp = _post(emu_env, "/v2/bot/message/reply", None, raw=b"{not json")
    assert resp.status_code == 400
    assert resp.json() == {"message": "The request body could not be parsed as JSON"}


def test_quick_reply_label_too_long_is_rejected_through_the_sdk(emu_env, emu_api):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    user.say("report")
    token = user.last_event["replyToken"]
    long_label = "ก" * 21
    message = TextMessage(
        text="เลือก",
        quick_reply=QuickReply(
            items=[QuickReplyItem(action=PostbackAction(label=long_label, data="x"))]
        ),
    )
    with pytest.raises(ApiException) as exc:
        emu_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[message]))
    assert exc.value.status == 400
    details = api_error(exc)["details"]
    assert details == [
        {
            "message": "Length must be between 1 and 20",
            "property": "messages[0].quickReply.items[0].action.label",
        }
    ]
    # A rejected request does not use up the reply token.
    message.quick_reply.items[0].action.label = "ก" * 20
    emu_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[message]))
    (got,) = user.wait_for_messages(1)
    assert got["message"]["quickReply"]["items"][0]["action"]["label"] == "ก" * 20


# ---------------------------------------------------------------- fault injection


def test_fault_500_then_recovery(emu_env, emu_api):
    control = emu_env["control"]
    control.faults("/v2/bot/message/push", status=500, times=2)
    push = PushMessageRequest(to=USER, messages=[TextMessage(text="x")])
    key = str(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            emu_api.push_message(push, x_line_retry_key=key)
        assert exc.value.status == 500
    assert LineUser(emu_env["url"], USER).messages() == []
    emu_api.push_message(push, x_line_retry_key=key)  # the key was never accepted
    assert len(LineUser(emu_env["url"], USER).messages()) == 1
    log = control.requests("/v2/bot/message/push")
    assert [(r["status"], r["faulted"]) for r in log] == [(500, True), (500, True), (200, False)]


def test_fault_429_carries_retry_after(emu_env, emu_api):
    control = emu_env["control"]
    control.faults("/v2/bot/message/", status=429, times=1, retry_after=2)
    with pytest.raises(ApiException) as exc:
        emu_api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="x")]))
    assert exc.value.status == 429
    assert exc.value.headers["Retry-After"] == "2"
    control.faults("/v2/bot/profile", status=503, times=5)
    control.clear_faults()
    emu_api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="x")]))


def test_latency_does_not_block_other_requests(emu_env, emu_api):
    control = emu_env["control"]
    control.faults("/v2/bot/message/push", status=None, latency_ms=300, times=1)
    started = time.monotonic()
    emu_api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="slow")]))
    assert time.monotonic() - started >= 0.3
    control.config(latency_ms=400)
    results: list[int] = []

    def one() -> None:
        with emu_env["bot"].api() as client:
            resp = MessagingApi(client).push_message_with_http_info(
                PushMessageRequest(to=USER, messages=[TextMessage(text="p")])
            )
            results.append(resp.status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert results == [200] * 4
    assert 0.4 <= elapsed < 1.2  # parallel, not 4 x 0.4 s


# ---------------------------------------------------------------- content, profile, rich menu


def test_content_round_trip(emu_env):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    assert user.send_image(JPEG) == 200
    event = emu_env["bot"].deliveries[-1]["events"][0]
    assert event.message.type == "image"
    assert event.message.content_provider.type == "line"
    with emu_env["bot"].api() as client:
        blob = MessagingApiBlob(client)
        assert bytes(blob.get_message_content(event.message.id)) == JPEG
        resp = blob.get_message_content_with_http_info(event.message.id)
        assert resp.headers["Content-Type"] == "image/jpeg"
        user.send_file(b"%PDF-1.4 evidence", "หลักฐาน.pdf", content_type="application/pdf")
        file_event = emu_env["bot"].deliveries[-1]["events"][0]
        assert file_event.message.file_name == "หลักฐาน.pdf"
        assert file_event.message.file_size == len(b"%PDF-1.4 evidence")
        assert bytes(blob.get_message_content(file_event.message.id)) == b"%PDF-1.4 evidence"
        with pytest.raises(ApiException) as exc:
            blob.get_message_content("999")
        assert exc.value.status == 404


def test_other_user_actions_produce_events(emu_env):
    emu_env["bot"].echo = False
    user = LineUser(emu_env["url"], USER)
    user.tap("action=start", display_text="เริ่ม")
    user.send_location(title="ศาลาว่าการ")
    user.send_sticker()
    user.send_audio(b"audio-bytes", duration_ms=1200)
    user.send_video(b"video-bytes")
    user.unsend("123")
    events = [d["events"][0] for d in emu_env["bot"].deliveries]
    assert events[0].type == "postback" and events[0].postback.data == "action=start"
    assert events[1].message.type == "location" and events[1].message.title == "ศาลาว่าการ"
    assert events[2].message.type == "sticker"
    assert events[3].message.type == "audio" and events[3].message.duration == 1200
    assert events[4].message.type == "video"
    assert events[5].type == "unsend" and events[5].unsend.message_id == "123"
    raw_unsend = json.loads(emu_env["bot"].deliveries[-1]["raw"])["events"][0]
    assert "replyToken" not in raw_unsend  # LINE gives no reply token for unsend


def test_profile(emu_env, emu_api):
    LineUser(emu_env["url"], USER).follow(display_name="สมหญิง", language="th")
    profile = emu_api.get_profile(USER)
    assert (profile.user_id, profile.display_name, profile.language) == (USER, "สมหญิง", "th")
    with pytest.raises(ApiException) as exc:
        emu_api.get_profile(OTHER)
    assert exc.value.status == 404


def test_rich_menu_lifecycle(emu_env, emu_api):
    menu = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="main",
        chat_bar_text="เมนู",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=1250, height=843),
                action=PostbackAction(data="menu=report", label="ร้องเรียน"),
            )
        ],
    )
    menu_id = emu_api.create_rich_menu(menu).rich_menu_id
    with pytest.raises(ApiException) as exc:
        emu_api.set_default_rich_menu(menu_id)  # no image yet
    assert exc.value.status == 400
    with emu_env["bot"].api() as client:
        MessagingApiBlob(client).set_rich_menu_image(
            menu_id, body=JPEG, _headers={"Content-Type": "image/jpeg"}
        )
    emu_api.set_default_rich_menu(menu_id)
    assert emu_api.get_default_rich_menu_id().rich_menu_id == menu_id
    assert [m.rich_menu_id for m in emu_api.get_rich_menu_list().richmenus] == [menu_id]
    emu_api.delete_rich_menu(menu_id)
    assert emu_api.get_rich_menu_list().richmenus == []
    bad = _post(
        emu_env,
        "/v2/bot/richmenu",
        {
            "size": {"width": 2500, "height": 843},
            "selected": False,
            "name": "x",
            "chatBarText": "a" * 15,
            "areas": [],
        },
    )
    assert bad.status_code == 400
    assert [d["property"] for d in bad.json()["details"]] == ["chatBarText"]


# ---------------------------------------------------------------- groups, control API, page


def test_group_events_and_replies(emu_env):
    resp = requests.post(
        f"{emu_env['url']}/_emulator/groups/Cgroup1/users/{USER}/text",
        json={"text": "hi all"},
        timeout=10,
    )
    assert resp.json()["status"] == 200
    event = emu_env["bot"].deliveries[-1]["events"][0]
    assert event.source.type == "group" and event.source.group_id == "Cgroup1"
    group = LineUser(emu_env["url"], "Cgroup1")
    assert group.wait_for_messages(1)[0]["message"]["text"] == "echo: hi all"
    assert LineUser(emu_env["url"], USER).messages() == []


def test_reset_and_users(emu_env):
    control = emu_env["control"]
    user = LineUser(emu_env["url"], USER)
    user.follow(display_name="A")
    user.say("x")
    user.wait_for_messages(1)
    assert [u["userId"] for u in control.users()] == [USER]
    control.faults("/v2/", status=500, times=9)
    control.reset()
    assert control.users() == [] and control.requests() == []
    assert user.messages() == []
    assert (
        requests.post(
            f"{emu_env['url']}/_emulator/faults", json={"path": "/v2/"}, timeout=5
        ).status_code
        == 400
    )


def test_chat_page_is_served_with_thai_fonts_and_no_inner_html(emu_env):
    page = requests.get(emu_env["url"] + "/", timeout=5)
    assert page.status_code == 200 and "charset=utf-8" in page.headers["Content-Type"].lower()
    assert 'src="/static/chat.js"' in page.text
    script = requests.get(emu_env["url"] + "/static/chat.js", timeout=5).text
    css = requests.get(emu_env["url"] + "/static/chat.css", timeout=5).text
    assert "innerHTML" not in script and "_emulator/users" in script
    assert "Noto Sans Thai" in css and "Loma" in css


def test_a_long_poll_answers_when_the_reply_arrives(emu_env):
    user = LineUser(emu_env["url"], USER)
    assert user.messages_after(0, wait=0.2) == [], "nothing yet: an empty answer in time"
    started = time.monotonic()
    threading.Timer(0.3, lambda: user.say("ping")).start()
    (got,) = user.messages_after(0, wait=5.0)
    assert got["message"]["text"] == "echo: ping"
    assert 0.3 <= time.monotonic() - started < 3.0


def test_reply_tokens_made_by_a_load_generator_work_once(emu_env, emu_api):
    control: Emulator = emu_env["control"]
    control.register_reply_tokens([("made-by-load", USER)])
    emu_api.reply_message(
        ReplyMessageRequest(reply_token="made-by-load", messages=[TextMessage(text="hi")])
    )
    assert LineUser(emu_env["url"], USER).last_text() == "hi"
    with pytest.raises(ApiException):
        emu_api.reply_message(
            ReplyMessageRequest(reply_token="made-by-load", messages=[TextMessage(text="again")])
        )
    refused = requests.post(f"{emu_env['url']}/_emulator/reply_tokens", json={"tokens": "x"})
    assert refused.status_code == 400
