"""A file that kills or hangs the cleaner is tried a bounded number of times, ends failed for
staff, is never claimed again, and the reporter hears of it once."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from evidencekit import attachments_of, console_as, file_report_with, send_image
from PIL import Image
from sqlalchemy import select

import bot.worker as worker_module
from store import media, sanitize
from store.models import Attachment
from tests.conftest import Bot, Chat, Clock, texts_of

ATTEMPTS = 3


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def few_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "MEDIA_MAX_ATTEMPTS", ATTEMPTS)


def memory_hungry_png() -> bytes:
    """36 MP, inside the pixel limit: about 330 MB to re-encode, 4 MB to send."""
    out = io.BytesIO()
    Image.new("1", (6000, 6000)).save(out, format="PNG")
    return out.getvalue()


def _row(bot: Bot, number: str) -> Attachment:
    _, [row] = attachments_of(bot, number)
    return row


def _passes(bot: Bot, clock: Clock, count: int) -> list[int]:
    """Run the media job ``count`` times, past every retry delay; the attempts after each."""
    seen = []
    for _ in range(count):
        bot.worker.fetch_media()
        clock.advance(minutes=1)
        with bot.runtime.db.transaction() as session:
            seen.append(session.scalars(select(Attachment.attempts)).one())
    return seen


def test_a_file_that_kills_the_cleaner_is_tried_n_times_then_failed(
    bot: Bot, chat: Chat, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cleaner allowed 200 MB cannot re-encode this picture: it dies every time.
    monkeypatch.setattr(
        worker_module, "MEDIA_CLEANING", sanitize.Limits(memory_bytes=200 * 1024 * 1024)
    )
    filed = file_report_with(chat, send_image(memory_hungry_png()))
    assert _passes(bot, clock, ATTEMPTS + 3) == [1, 2, 3, 3, 3, 3]
    row = _row(bot, filed.case_number)
    assert row.state == "failed" and row.blob_ct is None
    assert row.error is not None and row.error.startswith("cleaner stopped")
    assert row.line_message_ct is None and row.line_message_key is None


def test_a_file_that_hangs_the_cleaner_is_cut_off_by_the_clock(
    bot: Bot, chat: Chat, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "MEDIA_CLEANING", sanitize.Limits(wall_seconds=0.01))
    filed = file_report_with(chat, send_image(memory_hungry_png()))
    assert _passes(bot, clock, ATTEMPTS + 1) == [1, 2, 3, 3]
    row = _row(bot, filed.case_number)
    assert row.state == "failed" and row.error == "cleaning took longer than 0.01 s"


def test_an_item_a_dead_worker_left_fetching_is_not_claimed_past_the_cap(
    bot: Bot, chat: Chat, clock: Clock
) -> None:
    filed = file_report_with(chat, send_image(memory_hungry_png()))
    keys = bot.runtime.keys
    for attempt in range(1, ATTEMPTS + 1):
        # Claimed, then the worker process dies mid-clean: the row stays `fetching`.
        with bot.runtime.db.transaction() as session:
            [item] = media.claim_pending(
                session, keys, clock(), lease=timedelta(minutes=2), max_attempts=ATTEMPTS
            )
        assert item.attempts == attempt
        clock.advance(minutes=3)  # the lease runs out
    with bot.runtime.db.transaction() as session:
        assert media.claim_pending(session, keys, clock(), max_attempts=ATTEMPTS) == []
    assert bot.worker.fetch_media() == 1, "the give-up is the only work left"
    row = _row(bot, filed.case_number)
    assert (row.state, row.attempts) == ("failed", ATTEMPTS)
    assert row.error == f"gave up after {ATTEMPTS} attempts"
    assert bot.worker.fetch_media() == 0


def test_the_reporter_is_told_once_that_a_file_could_not_be_kept(
    bot: Bot, chat: Chat, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "MEDIA_CLEANING", sanitize.Limits(wall_seconds=0.01))
    filed = file_report_with(chat, send_image(memory_hungry_png()))
    _passes(bot, clock, ATTEMPTS)
    assert _row(bot, filed.case_number).state == "failed"

    first = texts_of(chat.say(filed.token))
    assert filed.case_number in first
    assert "ไฟล์หลักฐานที่คุณส่งมา 1 ไฟล์ ระบบเก็บไว้ไม่ได้" in first
    chat.choose("v=done")
    second = texts_of(chat.say(filed.token))
    assert filed.case_number in second
    assert "เก็บไว้ไม่ได้" not in second, "told once, not at every lookup"

    case_id, _ = attachments_of(bot, filed.case_number)
    page = console_as(bot, "somsri").get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert "This file could not be kept" in page
    assert "cleaning went over its memory or time limit" in page


def test_the_status_card_says_it_in_english_to_an_english_reporter() -> None:
    from handlers.texts import t

    assert "could not be kept" in t("en", "status.files_not_kept", count=1)
    assert "เก็บไว้ไม่ได้" in t("th", "status.files_not_kept", count=1)
