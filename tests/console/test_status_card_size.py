"""The status card stays within LINE's Flex size limits, measured on the bytes the bot
actually sends, whatever staff wrote in the console (issue 14, item 8)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consolekit import Account, Console, file_case

from handlers import flex
from handlers.messages import wire_json
from tests.conftest import Chat, texts_of

BUBBLE_LIMIT = 30_000  # LINE: a bubble at most 30 KB
CAROUSEL_LIMIT = 50_000  # LINE: a carousel at most 50 KB
CONSOLE_MAX = 2000  # the console's limit on a public note and on a message (maxlength)
# Thai that costs the most per character: every character 3 bytes in UTF-8, 6 as \uXXXX.
THAI = "ผู้ใหญ่ที่เขตเรียกเก็บเงินค่าที่ทุกวันจันทร์ไม่มีใบเสร็จ"


def _longest(seed: str, fill: str = THAI) -> str:
    text = (seed + fill * (CONSOLE_MAX // len(fill) + 1))[:CONSOLE_MAX]
    assert len(text) == CONSOLE_MAX
    return text


def _flex_containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m["contents"] for m in body["messages"] if m["type"] == "flex"]


def _bubbles(container: dict[str, Any]) -> list[dict[str, Any]]:
    return container["contents"] if container["type"] == "carousel" else [container]


@pytest.mark.parametrize(
    ("fill", "splits"),
    [(THAI, False), ("😀", True)],  # emoji: four bytes each, past one bubble
    ids=["thai", "thai-and-emoji"],
)
def test_the_largest_status_card_the_console_allows_is_sent_within_lines_limits(
    bot: Any,
    chat: Chat,
    line: Any,
    console: Console,
    make_account: Any,
    fill: str,
    splits: bool,
) -> None:
    account: Account = make_account("somsri")
    console.login(account)
    case_id, number, token = file_case(bot)
    note = _longest("หมายเหตุ ", fill)
    sent = console.post(
        f"/console/cases/{case_id}/status",
        {"status": "preliminary_review", "public_note": note},
    )
    assert sent.status_code == 302
    messages = [_longest(f"ข้อความที่ {i} ", fill) for i in range(1, 5)]  # one more than shown
    for message in messages:
        assert console.post(f"/console/cases/{case_id}/messages", {"body": message}).status_code
    bot.settle()

    chat.say(token)
    replies = [r for r in line.requests("/v2/bot/message/reply") if r["status"] == 200]
    request = replies[-1]
    body = request["body"]
    cards = [c for c in _flex_containers(body) if number in texts_of([{"contents": c}])]
    assert len(cards) == 1, "one status card in the reply"

    # The bytes on the wire are the compact UTF-8 JSON the limits are measured on,
    # not the SDK's \uXXXX-escaped form.
    assert request["size"] == len(wire_json(body))
    assert request["size"] < len(json.dumps(body).encode()) / 1.5

    card = cards[0]
    # As the SDK would have sent it (\uXXXX escapes), the same card was over the limit.
    assert len(json.dumps(card).encode()) > BUBBLE_LIMIT
    assert card["type"] == ("carousel" if splits else "bubble")
    assert len(wire_json(card)) <= CAROUSEL_LIMIT
    assert len(_bubbles(card)) <= 12
    for bubble in _bubbles(card):
        assert len(wire_json(bubble)) <= BUBBLE_LIMIT

    # Nothing the reporter should read was cut: the note and the three shown messages are
    # there whole (Thai without spaces is split between pieces, never shortened).
    shown = "".join("".join(texts_of([b["body"]]).split("\n")) for b in _bubbles(card))
    assert note.replace(" ", "") in shown.replace(" ", "")
    for message in messages[:3]:
        assert message.replace(" ", "") in shown.replace(" ", "")


@pytest.mark.parametrize(
    "content",
    [
        "\x01" * 50_000,  # control characters: 6 bytes each even in compact JSON
        "😀" * 50_000,  # four bytes each
        "ก้" * 100_000,  # far more than any console allows
        '"\\' * 40_000,  # escaped in JSON
    ],
    ids=["control", "emoji", "huge-thai", "escapes"],
)
def test_any_note_and_messages_fit_lines_limits(content: str) -> None:
    card = flex.status_bubble(
        "th",
        case_number="KS-2569-000123",
        category="เทศกิจ / หาบเร่แผงลอย",
        filed="1 มีนาคม 2569",
        status="ตรวจสอบข้อเท็จจริงเบื้องต้น",
        status_detail="สำนักงาน ก.ก. กำลังตรวจสอบ",
        updated="2 มีนาคม 2569 10:00 น.",
        public_note=content,
        staff_messages=[("2 มีนาคม 2569 10:00 น.", content)] * 3,
        more_waiting=True,
        notice="ไฟล์ 1 ไฟล์เก็บไว้ไม่ได้",
    )
    assert len(wire_json(card)) <= (CAROUSEL_LIMIT if card["type"] == "carousel" else BUBBLE_LIMIT)
    for bubble in _bubbles(card):
        assert bubble["type"] == "bubble"
        assert len(wire_json(bubble)) <= BUBBLE_LIMIT
    assert "KS-2569-000123" in texts_of([{"contents": card}])


def test_a_short_card_stays_one_bubble() -> None:
    card = flex.status_bubble(
        "en",
        case_number="KS-2569-000001",
        category="Other",
        filed="1 March 2026",
        status="Received",
        status_detail="",
        updated="1 March 2026 10:00",
        public_note="We are looking into it.",
        staff_messages=[("2 March 2026 10:00", "Thank you, could you say which market?")],
        more_waiting=False,
    )
    assert card["type"] == "bubble"
    assert "Thank you, could you say which market?" in texts_of([{"contents": card}])
