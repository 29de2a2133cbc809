"""Issue 13, finding 8: one tracking token flooded staff and storage.

The attacker holds one token. Looking the case up again and again, they sent 30 messages
and 20 files: every linked staff member got 50 pushes (a metered monthly quota), and the
10-file cap began afresh at each lookup, so files on one case had no bound. Now staff hear
of a case at most once per interval, with counts that add up to what was sent, and a case
holds at most so many files, bytes, and reporter messages a day over its whole life.
"""

from __future__ import annotations

import io
import math
import re
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from handlers.texts import t
from store import media
from store.models import Attachment, CaseActivity, CaseMessage
from tests.conftest import Bot, Chat, Clock, texts_of
from tests.console.consolekit import file_case
from tests.test_staff_notifications import linked_staff

INTERVAL = timedelta(minutes=10)
STEP = timedelta(seconds=15)  # the attacker's pace, on the bot's clock


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    # Production defaults, written out so the test says what it holds the bot to.
    return {
        "staff_notice_interval": INTERVAL,
        "case_max_files": 30,
        "case_max_messages_per_day": 20,
    }


def photo(n: int, side: int = 64) -> bytes:
    """A small JPEG, different for each ``n``."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (n * 7 % 256, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


class Attacker:
    """A reporter's chat driven as fast as the attacker likes; the worker runs between."""

    def __init__(self, bot: Bot, chat: Chat, clock: Clock, token: str) -> None:
        self.bot, self.chat, self.clock, self.token = bot, chat, clock, token

    def _then(self, answer: list[dict[str, Any]]) -> str:
        self.clock.advance(seconds=STEP.total_seconds())
        # What `krasip worker` does every pass: send what gathered on quiet cases.
        self.bot.worker.notifier.send_gathered_activity()
        self.bot.settle()
        return texts_of(answer)

    def look_up(self) -> str:
        return self._then(self.chat.say(self.token))

    def send_text(self, text: str) -> str:
        said = self._then(self.chat.say(text))
        if any("v=send" in a.get("data", "") for a in self.chat.quick_replies()):
            said += self._then(self.chat.choose("s=fu&v=send"))
        return said

    def send_photo(self, n: int, side: int = 64) -> str:
        said = self._then(self.chat.send_image(photo(n, side)))
        if any("v=send" in a.get("data", "") for a in self.chat.quick_replies()):
            said += self._then(self.chat.choose("s=fu&v=send"))
        return said


def _counts(told: list[dict[str, Any]]) -> tuple[int, int]:
    words = "\n".join(m.get("altText", "") for m in told)  # the card repeats it
    messages = sum(int(n) for n in re.findall(r"new messages: (\d+)", words))
    files = sum(int(n) for n in re.findall(r"new evidence files: (\d+)", words))
    return messages, files


def _thai_counts(told: list[dict[str, Any]]) -> tuple[int, int]:
    alts = "\n".join(m.get("altText", "") for m in told)
    messages = sum(int(n) for n in re.findall(r"ข้อความใหม่ (\d+) ข้อความ", alts))
    files = sum(int(n) for n in re.findall(r"ไฟล์หลักฐานใหม่ (\d+) ไฟล์", alts))
    return messages, files


def test_thirty_messages_and_twenty_files_reach_each_staff_member_once_per_interval(
    bot: Bot, new_chat: Any, clock: Clock
) -> None:
    officers = [
        linked_staff(bot, new_chat, "floodth", lang="th"),
        linked_staff(bot, new_chat, "flooden", lang="en"),
    ]
    case_id, _number, token = file_case(bot)
    attacker = Attacker(bot, new_chat(), clock, token)
    started = clock()
    attacker.look_up()
    refused = 0
    for n in range(30):
        if n in (10, 20):
            attacker.look_up()  # the old trick: a lookup began the file count afresh
        said = attacker.send_text(f"flood message {n}")
        refused += t("th", "err.case_messages_full", max=20) in said
    for n in range(20):
        if n % 10 == 0:
            attacker.look_up()
        attacker.send_photo(n)
    ended = clock()

    # Nothing is lost: the last gathered notice goes out when the interval ends.
    clock.advance(seconds=INTERVAL.total_seconds() + 60)
    bot.worker.notifier.send_gathered_activity()
    bot.settle()

    with bot.runtime.db.transaction() as session:
        kept_messages = session.scalar(
            select(func.count()).where(
                CaseMessage.case_id == case_id, CaseMessage.direction == "reporter"
            )
        )
        kept_files = media.case_usage(session, case_id).files
        assert session.scalar(select(func.count()).select_from(CaseActivity)) in (0, 1)
    assert kept_messages == 20, "at most 20 reporter messages a day on one case"
    assert refused == 10, "each message over the cap is refused, and the reporter told"
    assert kept_files == 20

    bound = math.ceil((ended - started) / INTERVAL) + 1
    for officer, counts in zip(officers, (_thai_counts, _counts), strict=True):
        told = officer.new_messages()
        assert 1 <= len(told) <= bound, f"{len(told)} pushes, at most {bound} allowed"
        assert counts(told) == (kept_messages, kept_files), "every message and file counted once"
        assert "flood message" not in str(told)


def test_files_on_a_case_stop_at_the_cap_however_often_it_is_looked_up(
    bot: Bot, new_chat: Any, clock: Clock
) -> None:
    case_id, _number, token = file_case(bot)
    attacker = Attacker(bot, new_chat(), clock, token)
    answers = []
    for n in range(40):
        if n % 10 == 0:
            attacker.look_up()
        answers.append(attacker.send_photo(n))
    with bot.runtime.db.transaction() as session:
        rows = session.scalar(select(func.count()).where(Attachment.case_id == case_id))
    assert rows == 30, "a case takes 30 files over its whole life, not 10 per lookup"
    refusal = t("th", "err.case_files_full", max=30)
    assert "ศปท.กทม." in refusal, "says whom to contact instead"
    assert all(refusal in a for a in answers[30:])
    assert not any(refusal in a for a in answers[:30])
    # A message still goes through: only files are full.
    assert "ยังไม่ถูกส่ง" not in attacker.send_text("ข้อความหลังไฟล์เต็ม")


# About two of these photos' worth (each stores about 830 bytes once cleaned).
BYTES_CAP = 2000


@pytest.mark.parametrize("bot_overrides", [{"case_max_bytes": BYTES_CAP}])
def test_stored_bytes_of_a_case_are_capped(bot: Bot, new_chat: Any, clock: Clock) -> None:
    case_id, _number, token = file_case(bot)
    attacker = Attacker(bot, new_chat(), clock, token)
    attacker.look_up()
    for n in range(5):
        attacker.send_photo(n, side=300)
    for _ in range(3):
        bot.run_worker()
    with bot.runtime.db.transaction() as session:
        rows = list(session.scalars(select(Attachment).where(Attachment.case_id == case_id)))
        stored = sum(r.size or 0 for r in rows if r.state == "stored")
        over = [r for r in rows if r.error == media.OVER_ALLOWANCE]
    assert 0 < stored <= BYTES_CAP
    assert over and all(r.state == "failed" and r.blob_ct is None for r in over)

    # Once full, the chat refuses further files at once and says what to do instead.
    attacker.look_up()
    refusal = attacker.send_photo(9, side=300)
    assert "MB" in refusal and "ศปท.กทม." in refusal
