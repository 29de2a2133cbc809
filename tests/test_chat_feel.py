"""Issue 14, items 2-6, through the emulator and the real SDK: cancel asks once, a typed
agency is taken, sending to staff is confirmed and told truthfully, the language follows
the starting word and is remembered, and a relative date is shown back to confirm."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.texts import t
from store import repo
from store.models import Attachment, Case, Conversation
from tests.conftest import Bot, Chat, texts_of
from tests.test_report_end_to_end import (
    file_confidential_english_report,
    photo_with_gps,
    thai_report_up_to_the_evidence_step,
)


def _count(bot: Bot, model: type) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_cancel_asks_once_and_keep_going_keeps_the_draft_and_its_photo(
    bot: Bot, chat: Chat
) -> None:
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    asked = chat.say("ยกเลิก")
    assert t("th", "cancel.confirm") in texts_of(asked)
    assert [a["label"] for a in chat.quick_replies()][0] == "ทำต่อ"
    chat.choose("v=keep")
    assert _count(bot, Attachment) == 1 and _count(bot, Conversation) == 1
    chat.choose("s=cmd&v=cancel")  # the chip beside "เสร็จแล้ว"
    chat.choose("v=drop")
    assert _count(bot, Attachment) == 0 and _count(bot, Conversation) == 0


def test_a_typed_district_at_the_agency_step_and_a_relative_date_confirmed(chat: Chat) -> None:
    chat.say("แจ้งเบาะแส")
    assert "s=lang&v=en" in [a["data"] for a in chat.quick_replies()], "switch, not a question"
    chat.choose("v=ok")
    chat.choose("v=anonymous")
    chat.choose("v=registration")
    taken = texts_of(chat.say("เขตบางรัก"))
    assert "บางรัก" in taken and t("th", "err.choose") not in taken
    chat.say("นายสมมติ ตัวอย่าง")
    chat.choose("v=skip")
    chat.say("เจ้าหน้าที่เรียกเงินใต้โต๊ะ")
    chat.choose("v=done")
    shown = texts_of(chat.say("เมื่อวานซืน"))
    assert "เข้าใจว่าเป็น" in shown and "25" in shown, "a Thai date with a Buddhist-era year"
    asked_where = texts_of(chat.choose("v=ok"))
    assert t("th", "step.where") in asked_where


def test_after_a_lookup_thanks_are_not_filed_and_a_confidential_reply_is_told_truly(
    bot: Bot, chat: Chat
) -> None:
    filed = file_confidential_english_report(chat)
    chat.say(filed.token)
    chat.say("thank you")
    shown = texts_of(chat.say("The inspector came back today"))
    assert "The inspector came back today" in shown and "Send this to the centre?" in shown
    sent = texts_of(chat.choose("v=send"))
    assert t("en", "followup.sent.confidential") in sent
    assert "anonymously" not in sent
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
        bodies = [
            repo.message_text(bot.runtime.keys, case, m)
            for m in case.messages
            if m.direction == "reporter"
        ]
    assert bodies == ["The inspector came back today"], "the thanks was not filed"


def test_the_language_of_the_last_report_is_kept_for_the_next(chat: Chat) -> None:
    file_confidential_english_report(chat)
    # The rich menu's "report" carries Thai display text: the remembered English wins.
    again = texts_of(chat._after(chat.user.tap("s=cmd&v=report", "แจ้งเรื่อง")))
    assert t("en", "btn.intro.ok") in [a["label"] for a in chat.quick_replies()], again
    assert "s=lang&v=th" in [a["data"] for a in chat.quick_replies()]
