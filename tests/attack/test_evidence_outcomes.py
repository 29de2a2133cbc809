"""How a cleaning ends is recorded truthfully, and nothing the file says leaks with it.

A crafted file may make a parser raise, or make the cleaner print the file's own tags;
a slow worker may finish after its lease ran out and another worker took the item over.
"""

from __future__ import annotations

import io
import struct
from datetime import timedelta

import pytest
from PIL import Image

from store import media, sanitize
from store.models import Attachment
from tests.conftest import Bot, Clock


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def test_a_file_that_breaks_the_parser_is_held_back_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def breaks(*_: object) -> sanitize.Outcome:
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(sanitize, "_clean_image", breaks)
    outcome = sanitize.clean(_png())
    assert outcome.verdict == "held" and outcome.reason == "not_cleanable"
    assert outcome.content == _png(), "kept as sent, behind the warning"


def test_what_the_cleaner_prints_never_becomes_the_recorded_reason() -> None:
    tag = b"Title: Somchai Jaidee 081-234-5678"
    assert sanitize._why_stopped(3, tag) == "cleaner stopped: exit 3"
    assert sanitize._why_stopped(1, b"ValueError") == "cleaner stopped: exit 1"
    assert sanitize._why_stopped(3, b"ValueError") == "cleaner stopped: ValueError"


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_new_claim(
    bot: Bot, clock: Clock
) -> None:
    keys = bot.runtime.keys
    with bot.runtime.db.transaction() as session:
        item = media.add_pending(session, keys, line_message_id="1", kind="image", now=clock())
    with bot.runtime.db.transaction() as session:
        [slow] = media.claim_pending(session, keys, clock(), lease=timedelta(seconds=30))
    clock.advance(minutes=1)  # the slow worker's lease runs out; another takes the item
    with bot.runtime.db.transaction() as session:
        [fast] = media.claim_pending(session, keys, clock(), lease=timedelta(seconds=30))
    assert (slow.id, fast.id) == (item, item) and fast.attempts == slow.attempts + 1
    cleaned = media.CleanedMedia(_png(), "image/png", sha256="0" * 64)
    with bot.runtime.db.transaction() as session:
        media.store_content(session, keys, item, cleaned, fast.attempts)
        media.mark_failed(session, item, clock(), error="late", final=False, attempt=slow.attempts)
    with bot.runtime.db.transaction() as session:
        row = session.get(Attachment, item)
        assert row is not None
        assert row.state == "stored" and row.error is None, "the late failure changed nothing"
