"""What the bot forgets stays forgotten, and what it keeps cannot be moved.

An attacker who can write to the database copies sealed rows from one place to another;
one who steals the server later reads old copies of rows. Each test does what they would
and sees it fail.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update

from emulator.client import LineUser
from store import outbox, repo, vault
from store.models import Case, Conversation, OutboxMessage, UpdateLink, VaultEpoch, VaultKey
from tests.conftest import Bot, Chat, Clock, texts_of
from tests.test_report_end_to_end import file_anonymous_thai_report_with_photo

SECRET_WORDS = "ผู้อำนวยการเขตเรียกเงินสามหมื่นบาท"


def _row(bot: Bot, model: Any, *where: Any) -> Any:
    with bot.runtime.db.transaction() as session:
        row = session.scalars(select(model).where(*where)).one()
        session.expunge(row)
        return row


def _start_draft(chat: Chat, words: str) -> None:
    chat.say("ร้องเรียน")
    chat.choose("v=ok")
    chat.choose("v=anonymous")
    chat.choose("v=registration")
    chat.choose("v=district")
    chat.say("เขตบางรัก")
    chat.say("นายสมมติ ตัวอย่าง")
    chat.choose("v=skip")
    chat.say(words)


def _state_of(bot: Bot, chat: Chat) -> str:
    """The reporter's conversation state as the bot reads it, as text."""
    with bot.runtime.db.transaction() as session:
        held = repo.lock_conversation(session, bot.runtime.keys, chat.user_id, bot.runtime.clock())
        return json.dumps(held.state, ensure_ascii=False)


def _conversation_of(bot: Bot, chat: Chat) -> Conversation:
    with bot.runtime.db.transaction() as session:
        day = vault.day_number(bot.runtime.clock())
        key = vault.day_digest(session, bot.runtime.keys, repo.REPORTER, chat.user_id, day)
        row = session.get(Conversation, key)
        assert row is not None, "the reporter has a conversation row"
        session.expunge(row)
        return row


def test_a_draft_copied_onto_another_reporter_is_not_theirs(bot: Bot, new_chat: Any) -> None:
    victim, attacker = new_chat(), new_chat()
    _start_draft(victim, SECRET_WORDS)
    attacker.say("ร้องเรียน")
    stolen = _conversation_of(bot, victim)
    mine = _conversation_of(bot, attacker)
    with bot.runtime.db.transaction() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.reporter_key == mine.reporter_key)
            .values(key_id=stolen.key_id, state_ct=stolen.state_ct)
        )
    shown = texts_of(attacker.say("ขอดูร่าง"))
    assert SECRET_WORDS not in shown
    assert SECRET_WORDS not in _state_of(bot, attacker), "the copied draft was not taken up"
    assert SECRET_WORDS in _state_of(bot, victim), "and the victim's draft was not destroyed"


def _two_pushes(bot: Bot, first: str, second: str) -> tuple[int, int]:
    with bot.runtime.db.transaction() as session:
        now = bot.runtime.clock()
        a = outbox.enqueue(
            session,
            bot.runtime.keys,
            kind="push",
            to=[first],
            messages=[{"type": "text", "text": SECRET_WORDS}],
            now=now,
        )
        b = outbox.enqueue(
            session,
            bot.runtime.keys,
            kind="push",
            to=[second],
            messages=[{"type": "text", "text": "ข้อความธรรมดา"}],
            now=now,
        )
    return a.id, b.id


def test_an_outbox_message_copied_onto_another_row_is_never_sent(
    bot: Bot, line: Any, new_chat: Any
) -> None:
    victim, attacker = new_chat(), new_chat()
    victim.follow()
    attacker.follow()
    first, second = _two_pushes(bot, victim.user_id, attacker.user_id)
    stolen = _row(bot, OutboxMessage, OutboxMessage.id == first)
    with bot.runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == second)
            .values(key_id=stolen.key_id, to_ct=stolen.to_ct, payload_ct=stolen.payload_ct)
        )
    bot.settle()
    moved = _row(bot, OutboxMessage, OutboxMessage.id == second)
    assert moved.state == "dead" and "does not open" in (moved.last_error or "")
    pushes = line.requests("/v2/bot/message/push")
    assert [p["body"]["to"] for p in pushes] == [victim.user_id], "only the genuine row went out"
    assert SECRET_WORDS in texts_of([m["message"] for m in victim.user.messages()])


def test_a_delivered_message_leaves_no_key_behind(bot: Bot, new_chat: Any) -> None:
    first, second = new_chat(), new_chat()
    first.follow()
    second.follow()
    ids = _two_pushes(bot, first.user_id, second.user_id)
    with bot.runtime.db.transaction() as session:
        key_ids = list(
            session.scalars(select(OutboxMessage.key_id).where(OutboxMessage.id.in_(ids)))
        )
    assert len(key_ids) == 2 and all(key_ids), "queued messages are sealed under keys"
    bot.settle()
    with bot.runtime.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
        assert all(r.state == "sent" and r.key_id is None and r.to_ct is None for r in rows)
        left = session.scalar(
            select(func.count()).select_from(VaultKey).where(VaultKey.id.in_(key_ids))
        )
    assert left == 0, "their keys were destroyed at delivery"


def test_an_update_link_moved_to_another_case_reaches_no_one(
    bot: Bot, new_chat: Any, clock: Clock
) -> None:
    chooser, other = new_chat(), new_chat()
    chosen = file_anonymous_thai_report_with_photo(chooser)  # asks for updates
    unrelated = file_anonymous_thai_report_with_photo(other)
    with bot.runtime.db.transaction() as session:
        first = session.scalars(select(Case).where(Case.number == chosen.case_number)).one()
        second = session.scalars(select(Case).where(Case.number == unrelated.case_number)).one()
        repo.stop_updates(session, bot.runtime.keys, other.user_id)
        session.execute(
            update(UpdateLink).where(UpdateLink.case_id == first.id).values(case_id=second.id)
        )
        assert repo.update_addresses(session, bot.runtime.keys, second.id) == []


def test_stop_updates_destroys_the_link_and_its_key(bot: Bot, chat: Chat) -> None:
    filed = file_anonymous_thai_report_with_photo(chat)
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
        [link] = session.scalars(select(UpdateLink).where(UpdateLink.case_id == case.id)).all()
        key_id, case_id = link.key_id, case.id
    chat.say("หยุดแจ้งเตือน")
    with bot.runtime.db.transaction() as session:
        assert not repo.has_update_link(session, case_id)
        assert session.get(VaultKey, key_id) is None


def test_closing_a_case_destroys_its_update_link_after_the_last_notice(
    bot: Bot, chat: Chat
) -> None:
    from bot.notifications import Notifier

    filed = file_anonymous_thai_report_with_photo(chat)
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
        for status in ("preliminary_review", "fact_finding", "consideration"):
            repo.set_status(session, bot.runtime.keys, case.id, status, bot.runtime.clock())
        case = repo.set_status(
            session,
            bot.runtime.keys,
            case.id,
            "closed",
            bot.runtime.clock(),
            outcome="no_merit",
        )
        Notifier(bot.runtime).reporter_update(session, case, bot.runtime.clock())
        assert not repo.has_update_link(session, case.id)
    bot.settle()
    pushes = [m for m in chat.user.messages() if m["via"] == "push"]
    assert pushes, "the reporter heard once more that there is news"


def test_day_keys_older_than_yesterday_are_destroyed(bot: Bot, chat: Chat, clock: Clock) -> None:
    chat.say("แจ้งเบาะแส")
    for _ in range(3):
        clock.advance(days=1)
        chat.say("สถานะ")
        bot.run_worker()
    today = vault.day_number(bot.runtime.clock())
    with bot.runtime.db.transaction() as session:
        days = sorted(session.scalars(select(VaultEpoch.day)))
    assert days and min(days) >= today - 1, f"days kept: {[today - d for d in days]} ago"


def _seconds_to_midnight(clock: Clock) -> float:
    now = clock()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds()


def test_a_draft_goes_on_across_midnight(bot: Bot, chat: Chat, clock: Clock) -> None:
    clock.advance(seconds=_seconds_to_midnight(clock) - 60)
    _start_draft(chat, SECRET_WORDS)
    clock.advance(minutes=5)  # the next UTC day: a new day key
    bot.run_worker()
    chat.choose("v=done")
    assert SECRET_WORDS in _state_of(bot, chat), "the draft was found under yesterday's key"
    with bot.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_a_redelivered_event_after_midnight_is_still_a_duplicate(
    bot: Bot, line: Any, clock: Clock
) -> None:
    user = LineUser(line.url, "U" + uuid.uuid4().hex)
    clock.advance(seconds=_seconds_to_midnight(clock) - 30)
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": int(clock().timestamp() * 1000),  # older events are dropped
        "source": {"type": "user", "userId": user.user_id},
        "webhookEventId": "01REDELIVEREDACROSSMIDNIGHT",
        "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": "1", "quoteToken": "q", "text": "สถานะ"},
        "replyToken": uuid.uuid4().hex,
    }
    assert line.post_raw_events([event]) == 200
    bot.settle()
    clock.advance(minutes=2)
    again = {**event, "deliveryContext": {"isRedelivery": True}, "replyToken": uuid.uuid4().hex}
    assert line.post_raw_events([again]) == 200
    bot.settle()
    assert len(line.requests("/v2/bot/message/reply")) == 1


def test_cleaning_shreds_what_was_deleted(bot: Bot, chat: Chat, clock: Clock) -> None:
    _start_draft(chat, SECRET_WORDS)
    chat.say("ยกเลิก")
    chat.choose("v=drop")  # asked once: "delete this draft?"
    clock.advance(days=2)
    bot.run_worker()
    url = bot.settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0, "the log was truncated"
        with bot.runtime.db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        return
    with bot.runtime.db.engine.connect() as connection:
        persistence = connection.execute(
            text("SELECT relpersistence FROM pg_class WHERE relname = 'vault_key'")
        ).scalar()
        before = connection.execute(text("SELECT pg_relation_filenode('vault_key')")).scalar()
    assert persistence == "u", "the vault never reaches PostgreSQL's write-ahead log"
    clock.advance(minutes=2)
    bot.run_worker()
    with bot.runtime.db.engine.connect() as connection:
        idle = connection.execute(text("SELECT pg_relation_filenode('vault_key')")).scalar()
    assert idle == before, "nothing was destroyed since, so nothing was rewritten"
    chat.say("ร้องเรียน")
    chat.choose("v=ok")  # a new state: the key of the one before is destroyed
    clock.advance(minutes=2)
    bot.run_worker()
    with bot.runtime.db.engine.connect() as connection:
        after = connection.execute(text("SELECT pg_relation_filenode('vault_key')")).scalar()
    assert after != before, "the vault's table was rewritten, leaving no destroyed key on disk"
