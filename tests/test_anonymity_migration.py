"""Upgrading a running register to the vault loses nothing a reporter is in the middle of.

A database at the revision before the vault holds a draft keyed by the pepper, a pending
outbox message, an opt-in address on a case and a processed event id; after the
migration (run with the server's keys, as `krasip init` does) the draft goes on, the
message is delivered, the address became an update link and the event is still known.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select, text, update

import handlers
from bot import create_app
from emulator.client import Emulator, LineUser
from emulator.server import EmulatorServer
from handlers.model import Context, Incoming
from store import migrate, repo
from store.crypto import Keyring, bind
from store.db import Database
from store.migrate import MigrationNeedsKeys
from store.models import Case, CaseMessage
from tests.conftest import Bot, Chat, Clock, Keys, make_settings, texts_of

BEFORE_VAULT = "0005"
EVENT_ID = "01OLDEVENTBEFORETHEVAULT0"


def _old_rows(url: str, keyring: Keyring, user_id: str) -> int:
    """Rows as the previous revision wrote them; returns the case id."""
    now = datetime.now(UTC)
    state = handlers.handle(None, Incoming(kind="text", text="ร้องเรียน"), Context(now, None))  # type: ignore[arg-type]
    db = Database(url)
    with db.transaction() as session:
        # Core inserts naming the old revision's columns: the models have moved on since.
        number = "KRS-2026-000001"
        content_ct, _ = repo.seal_case(keyring, number, {"description": "old case"}, None)
        case_id = session.execute(
            insert(Case.__table__)
            .values(
                number=number,
                channel="line",
                lang="th",
                category="money",
                district_code="1004",
                anonymous=True,
                meets_anonymous_bar=False,
                status="received",
                filed_at=now,
                updated_at=now,
                content_ct=content_ct,
                token_hash=keyring.token_hash("7KQ2-M9XD-4FRA-8PZT"),
            )
            .returning(Case.__table__.c.id)
        ).scalar_one()
        message_id = session.execute(
            insert(CaseMessage.__table__)
            .values(case_id=case_id, direction="staff", body_ct=b"", created_at=now)
            .returning(CaseMessage.__table__.c.id)
        ).scalar_one()
        body = keyring.data.encrypt_text(
            "ขอเอกสารเพิ่ม", bind(repo.MESSAGE_BODY, number, message_id, "staff")
        )
        session.execute(
            update(CaseMessage.__table__)
            .where(CaseMessage.__table__.c.id == message_id)
            .values(body_ct=body)
        )
        session.execute(
            text("UPDATE \"case\" SET notify_ct = :ct, notify_key = 'k' WHERE id = :id"),
            {"ct": keyring.data.encrypt(user_id.encode(), "case.notify"), "id": case_id},
        )
        session.execute(
            text(
                "INSERT INTO conversation (reporter_key, state_ct, updated_at) "
                "VALUES (:key, :state, :now)"
            ),
            {
                "key": keyring.pepper.digest("reporter", user_id),
                "state": keyring.data.encrypt_json(state.state, "conversation.state"),
                "now": now,
            },
        )
        session.execute(
            text(
                "INSERT INTO outbox_message (kind, purpose, to_ct, payload_ct, retry_key, state,"
                " attempts, next_attempt_at, created_at) VALUES ('push', 'update', :to,"
                " :payload, :retry, 'pending', 0, :now, :now)"
            ),
            {
                "to": keyring.data.encrypt(json.dumps([user_id]).encode(), "outbox.to"),
                "payload": keyring.data.encrypt(
                    json.dumps([{"type": "text", "text": "ข้อความก่อนอัปเกรด"}]).encode(),
                    "outbox.payload",
                ),
                "retry": str(uuid.uuid4()),
                "now": now,
            },
        )
        session.execute(
            text("INSERT INTO processed_event (webhook_event_id, received_at) VALUES (:e, :now)"),
            {"e": EVENT_ID, "now": now},
        )
    db.dispose()
    return int(case_id)


@pytest.fixture
def upgraded(
    tmp_path: Path, database_url: str, keys: Keys, line: Emulator, clock: Clock
) -> Iterator[tuple[Bot, LineUser, int]]:
    settings = make_settings(tmp_path, database_url, keys, line.url)
    keyring = keys.material.keyring()
    user = LineUser(line.url, "U" + uuid.uuid4().hex)
    migrate.upgrade(settings.database_url, BEFORE_VAULT)
    case_id = _old_rows(settings.database_url, keyring, user.user_id)
    with pytest.raises(MigrationNeedsKeys):
        migrate.upgrade(settings.database_url)
    migrate.upgrade(settings.database_url, keyring=keyring)
    app = create_app(settings, clock=clock)
    server = EmulatorServer(app).start()
    line.app.config["EMULATOR_WEBHOOK_URL"] = server.url + "/callback"  # type: ignore[attr-defined]
    running = Bot(app, server, settings)
    yield running, user, case_id
    server.stop()
    running.runtime.close()


def test_a_draft_pending_messages_and_update_addresses_survive_the_upgrade(
    upgraded: tuple[Bot, LineUser, int], line: Any
) -> None:
    bot, user, case_id = upgraded
    bot.settle()
    delivered = texts_of([m["message"] for m in user.messages()])
    assert "ข้อความก่อนอัปเกรด" in delivered, "the pending message went out after the upgrade"
    with bot.runtime.db.transaction() as session:
        assert repo.update_addresses(session, bot.runtime.keys, case_id) == [user.user_id]
        messages = session.scalars(select(CaseMessage).where(CaseMessage.case_id == case_id))
        assert len(messages.all()) == 1, "the case's messages survived the table change"
    # The draft from before the upgrade goes on: its language question is answered.
    Chat(user, bot)._after(user.tap("s=language&v=en", "English"))
    with bot.runtime.db.transaction() as session:
        held = repo.lock_conversation(session, bot.runtime.keys, user.user_id, bot.runtime.clock())
    assert held.state is not None
    assert (held.state["mode"], held.state["step"], held.state["lang"]) == ("form", "intro", "en")


def test_an_event_seen_before_the_upgrade_is_still_a_duplicate(
    upgraded: tuple[Bot, LineUser, int], line: Any
) -> None:
    bot, user, _ = upgraded
    bot.settle()
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": 1,
        "source": {"type": "user", "userId": user.user_id},
        "webhookEventId": EVENT_ID,
        "deliveryContext": {"isRedelivery": True},
        "message": {"type": "text", "id": "1", "quoteToken": "q", "text": "สถานะ"},
        "replyToken": uuid.uuid4().hex,
    }
    assert line.post_raw_events([event]) == 200
    bot.settle()
    assert line.requests("/v2/bot/message/reply") == []


def test_no_old_format_column_is_left(upgraded: tuple[Bot, LineUser, int]) -> None:
    bot, _, _ = upgraded
    engine = create_engine(bot.settings.database_url)
    with engine.connect() as connection:
        from sqlalchemy import inspect

        inspector = inspect(connection)
        case_columns = {c["name"] for c in inspector.get_columns("case")}
        outbox_columns = {c["name"] for c in inspector.get_columns("outbox_message")}
        event_columns = {c["name"] for c in inspector.get_columns("processed_event")}
    engine.dispose()
    assert not {"notify_ct", "notify_key"} & case_columns
    assert "reply_token" not in outbox_columns
    assert "webhook_event_id" not in event_columns
