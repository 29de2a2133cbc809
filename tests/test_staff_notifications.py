"""Staff on LINE: linking with one-time codes, groups, what they are told, digests, and what
reporters who opted in are told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.notifications import Notifier
from emulator.client import LineUser
from store import notices, repo
from store.models import Case, Conversation, NotificationGroup, StaffUser
from store.staff import create_user
from tests.conftest import Bot, Chat, Clock, texts_of
from tests.test_report_end_to_end import (
    ENGLISH,
    THAI,
    file_anonymous_thai_report_with_photo,
    file_confidential_english_report,
)


def add_staff(bot: Bot, username: str, role: str = "staff", lang: str = "th") -> int:
    with bot.runtime.db.transaction() as session:
        user = create_user(
            session,
            username=username,
            display_name=username.title(),
            role=role,
            password="correct horse battery staple",
            now=bot.runtime.clock(),
            lang=lang,
        )
        return user.id


def link_code(bot: Bot, staff_id: int, kind: str = "staff") -> str:
    with bot.runtime.db.transaction() as session:
        return notices.issue_link_code(
            session, bot.runtime.keys, staff_id, kind, bot.runtime.clock()
        )


def linked_staff(
    bot: Bot, new_chat: Any, username: str, lang: str = "th", role: str = "staff"
) -> Chat:
    staff_id = add_staff(bot, username, role=role, lang=lang)
    phone = new_chat()
    answer = texts_of(phone.say(f"link {link_code(bot, staff_id)}"))
    assert username.title() in answer
    return phone


def test_a_staff_member_links_their_line_account_with_a_one_time_code(
    bot: Bot, new_chat: Any
) -> None:
    officer = linked_staff(bot, new_chat, "somsri")
    reporter = new_chat()
    filed = file_anonymous_thai_report_with_photo(reporter)
    bot.settle()
    told = officer.new_messages()
    assert len(told) == 1 and told[0]["type"] == "flex"
    card = texts_of(told)
    assert filed.case_number in card
    assert "ทะเบียน" in card and "บางรัก" in card and "ไม่ระบุตัวตน" in card
    assert told[0]["altText"] and filed.case_number in told[0]["altText"]
    for secret in (
        THAI["description"],
        THAI["witnesses"],
        THAI["official"],
        filed.token,
        reporter.user_id,
    ):
        assert secret not in str(told)


def test_a_used_code_and_an_expired_code_link_nothing(
    bot: Bot, new_chat: Any, clock: Clock
) -> None:
    staff_id = add_staff(bot, "wichai")
    code = link_code(bot, staff_id)
    first, second = new_chat(), new_chat()
    assert "Wichai" in texts_of(first.say(f"link {code}"))
    reused = texts_of(second.say(f"link {code}"))
    assert "Wichai" not in reused and reused

    late = link_code(bot, staff_id)
    clock.advance(minutes=11)
    expired = texts_of(second.say(f"link {late}"))
    assert expired == reused, "expired and used codes get the same answer"
    with bot.runtime.db.transaction() as session:
        assert notices.staff_for_line(session, bot.runtime.keys, second.user_id) is None
        assert notices.staff_for_line(session, bot.runtime.keys, first.user_id) is not None


def test_guessing_link_codes_is_throttled(bot: Bot, new_chat: Any) -> None:
    staff_id = add_staff(bot, "guess")
    guesser = new_chat()
    answers = [texts_of(guesser.say(f"link {n:06d}")) for n in range(5)]
    code = link_code(bot, staff_id)
    throttled = texts_of(guesser.say(f"link {code}"))
    assert throttled != answers[0] and "15" in throttled
    with bot.runtime.db.transaction() as session:
        assert notices.staff_for_line(session, bot.runtime.keys, guesser.user_id) is None


def test_staff_messages_never_enter_the_reporter_form(bot: Bot, new_chat: Any) -> None:
    officer = linked_staff(bot, new_chat, "anong", lang="en")
    answer = texts_of(officer.say("report"))
    assert "Anong" in answer and "notifications" in answer
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_a_group_is_registered_only_by_an_admins_code(bot: Bot, new_chat: Any, line: Any) -> None:
    admin_id = add_staff(bot, "admin1", role="admin")
    staff_id = add_staff(bot, "plain1")
    group = "C" + uuid.uuid4().hex
    member = LineUser(line.url, "U" + uuid.uuid4().hex)
    http = member.http

    def in_group(text: str) -> int:
        response = http.post(
            f"{line.url}/_emulator/groups/{group}/users/{member.user_id}/text",
            json={"text": text},
            timeout=10,
        )
        return int(response.json()["status"])

    # Being invited (a join event) grants nothing.
    assert (
        line.post_raw_events(
            [
                {
                    "type": "join",
                    "mode": "active",
                    "timestamp": int(bot.runtime.clock().timestamp() * 1000),
                    "webhookEventId": uuid.uuid4().hex,
                    "deliveryContext": {"isRedelivery": False},
                    "replyToken": uuid.uuid4().hex,
                    "source": {"type": "group", "groupId": group},
                }
            ]
        )
        == 200
    )
    assert in_group(f"link {link_code(bot, staff_id, 'group')}") == 200
    bot.settle()
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(NotificationGroup)) == 0

    assert in_group(f"link {link_code(bot, admin_id, 'group')}") == 200
    bot.settle()
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(NotificationGroup)) == 1

    filed = file_anonymous_thai_report_with_photo(new_chat())
    bot.settle()
    seen = http.get(f"{line.url}/_emulator/users/{group}/messages", timeout=10).json()
    assert filed.case_number in texts_of([m["message"] for m in seen["messages"]])


def test_reporter_messages_and_evidence_are_announced_without_their_content(
    bot: Bot, new_chat: Any
) -> None:
    officer = linked_staff(bot, new_chat, "kanya", lang="en")
    reporter = new_chat()
    filed = file_confidential_english_report(reporter)
    bot.settle()
    officer.new_messages()
    reporter.say(filed.token)
    reporter.say("The inspector came back today asking for more")
    reporter.choose("v=send")
    bot.settle()
    told = officer.new_messages()
    assert len(told) == 1
    assert filed.case_number in texts_of(told) and "new message" in texts_of(told).lower()
    assert "inspector came back" not in str(told)
    assert ENGLISH["name"] not in str(told)


def test_a_staff_member_on_a_daily_digest_gets_one_summary_after_8am(
    bot: Bot, new_chat: Any, clock: Clock
) -> None:
    bangkok = ZoneInfo("Asia/Bangkok")
    local = datetime.now(UTC).astimezone(bangkok)
    # Start the day at 09:00 Bangkok time, today.
    start = datetime.combine(local.date(), datetime.min.time(), bangkok) + timedelta(hours=9)
    clock.offset = start.astimezone(UTC) - datetime.now(UTC)
    officer = linked_staff(bot, new_chat, "digest1")
    assert "08:00" in texts_of(officer.say("สรุปรายวัน"))
    with bot.runtime.db.transaction() as session:
        # The first digest opens the window; what follows goes into tomorrow's.
        staff = session.scalars(select(StaffUser).where(StaffUser.username == "digest1")).one()
        assert notices.claim_digest(session, staff.id, clock() - timedelta(days=1), clock())
    filed = [file_anonymous_thai_report_with_photo(new_chat()) for _ in range(2)]
    bot.settle()
    assert officer.new_messages() == [], "no single pushes for a digest reader"

    notifier = Notifier(bot.runtime)
    clock.advance(hours=12)  # 21:00: not yet
    assert notifier.send_digests() == 0
    clock.advance(hours=11, minutes=30)  # 08:30 the next morning
    assert notifier.send_digests() == 1
    assert notifier.send_digests() == 0, "one digest a day"
    bot.settle()
    [digest] = officer.new_messages()
    summary = texts_of([digest])
    assert all(f.case_number in summary for f in filed)
    assert "2" in digest["altText"]


def test_an_opted_in_reporter_is_told_only_that_there_is_news_and_can_stop_it(
    bot: Bot, new_chat: Any
) -> None:
    reporter = new_chat()
    filed = file_anonymous_thai_report_with_photo(reporter)
    notifier = Notifier(bot.runtime)

    def staff_update(status: str, note: str) -> None:
        with bot.runtime.db.transaction() as session:
            case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
            repo.set_status(
                session, bot.runtime.keys, case.id, status, bot.runtime.clock(), public_note=note
            )
            notifier.reporter_update(session, case, bot.runtime.clock())
        bot.settle()

    staff_update("preliminary_review", "สำนักงาน ก.ก. กำลังตรวจสอบข้อเท็จจริง")
    [push] = reporter.new_messages()
    shown = texts_of([push])
    assert shown, "the reporter hears that there is news"
    for secret in (
        filed.case_number,
        "ก.ก.",
        "ตรวจสอบข้อเท็จจริง",
        THAI["description"],
        "preliminary",
        "registration",
        "ทะเบียน",
    ):
        assert secret not in str(push)

    reporter.say("หยุดแจ้งเตือน")
    staff_update("fact_finding", "แต่งตั้งคณะอนุกรรมการแล้ว")
    assert reporter.new_messages() == []
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
        assert not repo.has_update_link(session, case.id)
