"""Issue 13, finding 9: staff link codes could be guessed across rooms and probed.

Six digits live ten minutes. Wrong guesses were counted per chat only, so 100 guesses
spread over 20 rooms went unthrottled; and a live group code sent in a 1:1 chat got its
own answer ("send it in the group") and stayed live, which told a guesser they had hit a
live code. Now wrong guesses from all chats share a ceiling, every refusal reads the
same, and a live code sent to the wrong place is spent.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from emulator.client import Emulator
from handlers.texts import t
from store import notices
from store.models import LinkAttempt, NotificationGroup, StaffLineLink
from tests.conftest import Bot, Clock, texts_of
from tests.test_staff_notifications import add_staff, link_code

INVALID = t("th", "staff.link_invalid")


class Room:
    """A LINE group with one member who types into it."""

    def __init__(self, line: Emulator) -> None:
        self.line = line
        self.group = "C" + uuid.uuid4().hex
        self.member = "U" + uuid.uuid4().hex
        self._seen = 0

    def say(self, bot: Bot, text: str) -> str:
        response = self.line.http.post(
            f"{self.line.url}/_emulator/groups/{self.group}/users/{self.member}/text",
            json={"text": text},
            timeout=10,
        )
        assert response.json()["status"] == 200
        bot.settle()
        seen = self.line.http.get(
            f"{self.line.url}/_emulator/users/{self.group}/messages", timeout=10
        ).json()["messages"]
        fresh, self._seen = seen[self._seen :], len(seen)
        return _once(texts_of([m["message"] for m in fresh]))


def _once(said: str) -> str:
    """The distinct lines of an answer. (Once the test moves the bot's clock on, the
    outbox may deliver an answer twice, by reply and push: not what is tested here.)"""
    return "\n".join(dict.fromkeys(said.splitlines()))


def _count(bot: Bot, model: Any) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_guesses_spread_over_twenty_rooms_hit_one_ceiling(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    admin = add_staff(bot, "roomadmin", role="admin")
    rooms = [Room(line) for _ in range(20)]
    answers = []
    guess = 100_000
    for room in rooms:
        for _ in range(5):  # within each room's own allowance of 5
            answers.append(room.say(bot, f"link {guess:06d}"))
            guess += 7919
    assert _count(bot, LinkAttempt) == notices.LINK_GLOBAL_CEILING, "the rest were not tried"
    throttled = t("th", "staff.link_throttled", minutes=15)
    assert answers.count(INVALID) == notices.LINK_GLOBAL_CEILING
    assert answers.count(throttled) == 100 - notices.LINK_GLOBAL_CEILING

    # While the ceiling holds, even a right code redeems nothing: it would end the search.
    right = link_code(bot, admin, "group")
    assert Room(line).say(bot, f"link {right}") == throttled
    assert _count(bot, NotificationGroup) == 0

    # The window passes; the admin asks for a new code and it works at once.
    clock.advance(minutes=16)
    assert "roomadmin" in Room(line).say(bot, f"link {link_code(bot, admin, 'group')}").lower()
    assert _count(bot, NotificationGroup) == 1


def test_every_refusal_reads_the_same_and_a_misplaced_code_is_spent(
    bot: Bot, new_chat: Any, line: Emulator, clock: Clock
) -> None:
    admin = add_staff(bot, "codeadmin", role="admin")
    plain = add_staff(bot, "codeplain")
    phone = new_chat()

    def one_to_one(code: str) -> str:
        return _once(texts_of(phone.say(f"link {code}")))

    used = link_code(bot, plain)
    assert "Codeplain" in texts_of(new_chat().say(f"link {used}"))
    expired = link_code(bot, plain)
    clock.advance(minutes=11)
    group_code = link_code(bot, admin, "group")
    in_private = [
        one_to_one("000000" if used != "000000" else "000001"),  # wrong
        one_to_one(used),  # used
        one_to_one(expired),  # expired
        one_to_one(group_code),  # a live group code, in a 1:1 chat
    ]
    assert in_private == [INVALID] * 4, "one answer for every refusal"

    # The group code tried in the wrong place is spent: in its group it now does nothing.
    room = Room(line)
    assert room.say(bot, f"link {group_code}") == INVALID
    assert _count(bot, NotificationGroup) == 0

    # In a group: a personal code, and a group code of someone who is not an admin.
    staff_code = link_code(bot, plain)
    assert room.say(bot, f"link {staff_code}") == INVALID
    assert room.say(bot, f"link {link_code(bot, plain, 'group')}") == INVALID
    # ...and that personal code, live before, is spent too.
    assert one_to_one(staff_code) == INVALID
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StaffLineLink)) == 1


def test_wrong_codes_are_kept_under_day_keys_not_the_lasting_pepper(
    bot: Bot, new_chat: Any
) -> None:
    phone = new_chat()
    phone.say("link 123456")
    with bot.runtime.db.transaction() as session:
        keys = session.scalars(select(LinkAttempt.chat_key)).all()
    assert len(keys) == 1
    assert keys[0] != bot.runtime.keys.pepper.digest("link-chat", phone.user_id)
