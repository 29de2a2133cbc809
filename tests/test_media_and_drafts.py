"""Evidence limits, media that cannot be kept, and drafts that expire."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from store import repo
from store.models import Attachment, Conversation
from tests.conftest import Bot, Chat, Clock, texts_of
from tests.test_report_end_to_end import photo_with_gps, thai_report_up_to_the_evidence_step
from tests.test_round_trips import one_waits_for_the_other


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"media_max_items": 2, "media_max_bytes": 40_000}


def _count(bot: Bot, model: Any, *where: Any) -> int:
    with bot.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_evidence_beyond_the_item_limit_is_refused_with_a_clear_message(
    bot: Bot, chat: Chat
) -> None:
    thai_report_up_to_the_evidence_step(chat)
    first = texts_of(chat.send_image(photo_with_gps()))
    second = texts_of(chat.send_image(photo_with_gps()))
    third = texts_of(chat.send_image(photo_with_gps()))
    assert "1" in first and "2" in second
    assert "2" in third and third != second, "the third item is refused, naming the limit"
    assert _count(bot, Attachment) == 2


def test_a_file_larger_than_the_limit_is_refused_before_it_is_fetched(bot: Bot, chat: Chat) -> None:
    thai_report_up_to_the_evidence_step(chat)
    refused = texts_of(chat.send_file(b"%PDF-1.4 " + b"x" * 60_000, "contract.pdf"))
    assert "MB" in refused or "KB" in refused or "40" in refused
    assert _count(bot, Attachment) == 0
    accepted = texts_of(chat.send_file(b"%PDF-1.4 small", "receipt.pdf"))
    assert "1" in accepted
    bot.run_worker()
    assert _count(bot, Attachment, Attachment.state == "stored") == 1


def test_an_image_too_large_to_keep_is_marked_failed_not_stored(bot: Bot, chat: Chat) -> None:
    import io
    import os

    from PIL import Image

    noise = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > 40_000
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(out.getvalue())
    bot.run_worker()
    with bot.runtime.db.transaction() as session:
        [attachment] = session.scalars(select(Attachment)).all()
        assert attachment.state == "failed" and attachment.blob_ct is None


def test_an_expired_draft_and_its_evidence_are_deleted(bot: Bot, chat: Chat, clock: Clock) -> None:
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    bot.run_worker()
    assert _count(bot, Attachment, Attachment.state == "stored") == 1
    assert _count(bot, Conversation) == 1

    clock.advance(hours=23)
    bot.worker.cleaning()
    assert _count(bot, Conversation) == 1, "a draft younger than 24 hours is kept"

    clock.advance(hours=2)
    bot.worker.cleaning()
    assert _count(bot, Conversation) == 0
    assert _count(bot, Attachment) == 0


def test_a_draft_interrupted_by_other_messages_resumes_where_it_stopped(
    bot: Bot, chat: Chat
) -> None:
    thai_report_up_to_the_evidence_step(chat)
    asked = texts_of(chat.last)
    chat.sticker()
    again = texts_of(chat.say("ร้องเรียน"))
    assert again, "the bot answers"
    resumed = texts_of(chat.choose("v=continue"))
    assert resumed.split("\n")[0] in asked or asked.split("\n")[0] in resumed


def test_cancel_leaves_the_form_and_discards_its_evidence(bot: Bot, chat: Chat) -> None:
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    assert _count(bot, Attachment) == 1
    chat.say("ยกเลิก")
    assert _count(bot, Attachment) == 1, "asked first: nothing deleted yet"
    chat.choose("v=drop")
    assert _count(bot, Attachment) == 0
    assert _count(bot, Conversation) == 0


def test_photos_sent_at_once_all_reach_the_draft(
    bot: Bot, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An album arrives as one event per photo, and LINE may deliver them side by side: the
    # second waits for the reporter's lock while the first is written. It must then go on
    # from the draft the first kept; on PostgreSQL it took that draft for unreadable and
    # started the form afresh.
    thai_report_up_to_the_evidence_step(chat)
    written, go_on = threading.Event(), threading.Event()
    real_save = repo.save_conversation

    def first_waits(*args: Any, **kwargs: Any) -> Any:
        saved = real_save(*args, **kwargs)
        if not written.is_set():
            written.set()
            go_on.wait(5)
        return saved

    monkeypatch.setattr(repo, "save_conversation", first_waits)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(chat.user.send_image(photo_with_gps()))

    one_waits_for_the_other(bot.runtime.db, send, send, written, go_on)
    assert statuses == [200, 200]
    bot.settle(record_now=True)
    assert _count(bot, Attachment) == 2
    received = texts_of(chat.new_messages())
    assert "รายการที่ 1 " in received and "รายการที่ 2 " in received, received
    assert chat.choose("v=done"), "the form goes on from the draft"
