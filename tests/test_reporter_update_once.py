"""Issue 14, item 7: two identical "there is an update" pushes arrived seconds apart.

Staff changed the status with a public note and, a moment later, wrote to the reporter to
explain: each action pushed "there is an update", so the reporter got the same words twice
for what was, to them, one change. An update push now says only that there is news until
the reporter has looked: the next push goes out after they have read the case by token.
"""

from __future__ import annotations

import time
from typing import Any

from handlers import update_notice
from tests.attack.evidencekit import console_as
from tests.conftest import Bot, Chat, texts_of
from tests.console.consolekit import file_case

NOTICE = texts_of(update_notice("th"))


def _pushes(bot: Bot, reporter: Chat) -> int:
    """Update pushes the reporter has received since last asked, after the worker ran and
    a moment passed (a late duplicate would show here)."""
    for _ in range(3):
        bot.run_worker()
        bot.settle()
        time.sleep(0.3)
    return sum(NOTICE in texts_of([m]) for m in reporter.new_messages())


def test_one_change_told_in_two_steps_is_one_push_until_the_reporter_looks(
    bot: Bot, new_chat: Any
) -> None:
    reporter = new_chat()
    reporter.say("สวัสดี")  # the reporter's LINE account exists and has talked to the bot
    case_id, _number, token = file_case(bot, notify_user_id=reporter.user_id)
    console = console_as(bot, "update1", "admin")
    console.get(f"/console/cases/{case_id}")

    answer = console.post(
        f"/console/cases/{case_id}/status",
        {"status": "preliminary_review", "public_note": "เจ้าหน้าที่กำลังตรวจสอบข้อเท็จจริง"},
    )
    assert answer.status_code == 302
    console.post(f"/console/cases/{case_id}/messages", {"body": "ขอทราบวันที่จ่ายเงินครับ"})
    assert _pushes(bot, reporter) == 1, "one change, one push"

    card = texts_of(reporter.say(token))
    assert "ขอทราบวันที่จ่ายเงินครับ" in card and "เจ้าหน้าที่กำลังตรวจสอบข้อเท็จจริง" in card

    # Read: the next change is news again, and is told once.
    console.get(f"/console/cases/{case_id}")
    console.post(f"/console/cases/{case_id}/status", {"status": "fact_finding"})
    console.post(f"/console/cases/{case_id}/messages", {"body": "ตั้งคณะทำงานแล้ว"})
    assert _pushes(bot, reporter) == 1
