"""Attachment rows let no stolen server tie a LINE account to a case, and a stored file
copied onto another row does not open there."""

from __future__ import annotations

from pathlib import Path

import pytest
from evidencekit import (
    attachments_of,
    console_as,
    file_report_with,
    photo_with_gps,
    send_file,
    send_image,
)
from sqlalchemy import column, insert, inspect, select, table, update
from sqlalchemy.orm import Session

from store import media, migrate, vault
from store.crypto import MisplacedCiphertext
from store.db import make_engine
from store.models import Attachment, UTCDateTime, VaultKey
from tests.conftest import Bot, Chat, Clock, Keys


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _message_ids(chat: Chat, *sends) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for send in sends:
        send(chat)
        event = chat.user.last_event
        assert event is not None
        found.append(str(event["message"]["id"]))
    return found


def test_an_attachment_row_never_holds_the_line_message_id_in_the_clear(
    bot: Bot, chat: Chat
) -> None:
    from tests.test_report_end_to_end import THAI, _receipt, thai_report_up_to_the_evidence_step

    thai_report_up_to_the_evidence_step(chat)
    ids = _message_ids(chat, send_image(photo_with_gps()), send_file(b"\x7fELF binary", "tool.bin"))
    with bot.runtime.db.transaction() as session:
        pending = session.scalars(select(Attachment)).all()
        assert all(r.line_message_ct and r.line_message_key for r in pending)
        sealed_keys = [r.line_message_key for r in pending]
        assert session.scalar(select(VaultKey.id).where(VaultKey.id == sealed_keys[0]))
    raw = bot.stored_bytes()
    assert not any(i.encode() in raw for i in ids), "a message id LINE can map to its sender"

    chat.choose("v=done")
    chat.say(THAI["witnesses"])
    chat.choose("v=yes")
    filed = _receipt(chat.choose("v=confirm"))
    bot.run_worker()
    _, rows = attachments_of(bot, filed.case_number)
    assert [r.state for r in rows] == ["stored", "stored"]
    assert all(r.line_message_ct is None and r.line_message_key is None for r in rows)
    with bot.runtime.db.transaction() as session:
        gone = session.scalars(select(VaultKey).where(VaultKey.id.in_(sealed_keys))).all()
        assert gone == [], "the keys that sealed the message ids are destroyed"
        with pytest.raises(vault.KeyDestroyed):
            vault.open(session, bot.runtime.keys, sealed_keys[0], b"\x00" * 40, "x")
    for row in rows:
        # Times say the hour a file came, not the instant LINE could match to a sender.
        for at in (row.created_at, row.next_attempt_at):
            assert (at.minute, at.second, at.microsecond) == (0, 0, 0)
        assert row.locked_until is None


def test_a_stored_file_copied_onto_another_attachment_does_not_open(bot: Bot, chat: Chat) -> None:
    filed = file_report_with(
        chat, send_image(photo_with_gps()), send_file(photo_with_gps(), "second.jpg")
    )
    bot.run_worker()
    case_id, (first, second) = attachments_of(bot, filed.case_number)
    with bot.runtime.db.transaction() as session:
        session.execute(
            update(Attachment).where(Attachment.id == second.id).values(blob_ct=first.blob_ct)
        )
        moved = session.get(Attachment, second.id)
        assert moved is not None
        with pytest.raises(MisplacedCiphertext) as refused:
            media.read_content(bot.runtime.keys, moved)
    assert f"attachment {second.id}" in str(refused.value)
    staff = console_as(bot, "somsri")
    assert staff.get(f"/console/cases/{case_id}/attachments/{first.id}").status_code == 200
    assert staff.get(f"/console/cases/{case_id}/attachments/{second.id}").status_code == 409


def test_migration_0004_binds_old_files_holds_back_uncleaned_ones_and_drops_message_ids(
    database_url: str, keys: Keys, clock: Clock
) -> None:
    keyring = keys.material.keyring()
    migrate.upgrade(database_url, "0003")
    photo = photo_with_gps()
    engine = make_engine(database_url)
    now = clock()
    old = [
        (
            "image",
            "stored",
            "900000001",
            keyring.data.encrypt(b"re-encoded", media.ATTACHMENT_BLOB),
        ),
        ("file", "stored", "900000002", keyring.data.encrypt(photo, media.ATTACHMENT_BLOB)),
        ("video", "pending", "900000003", None),
    ]
    with engine.begin() as connection:
        for n, (kind, state, message, blob) in enumerate(old, start=1):
            connection.execute(_old_row(n, kind, state, message, blob, keyring, now))
    with pytest.raises(migrate.MigrationNeedsKeys):
        migrate.upgrade(database_url)
    migrate.upgrade(database_url, keyring=keyring)
    assert "line_message_id" not in {c["name"] for c in inspect(engine).get_columns("attachment")}
    with Session(engine) as session:
        rows = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert media.read_content(keyring, rows[0]) == b"re-encoded"
        assert rows[0].held_back is None
        assert media.read_content(keyring, rows[1]) == photo
        assert rows[1].held_back == "stored_uncleaned", "kept byte for byte: staff must not see"
        assert media.file_name(keyring, rows[1]) == "IMG_0001.jpg"
        assert rows[0].line_message_ct is None and rows[1].line_message_ct is None
        claimed = media.claim_pending(session, keyring, now)
        assert [(c.id, c.line_message_id, c.kind) for c in claimed] == [(3, "900000003", "video")]
    engine.dispose()
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"900000001" not in raw and b"900000002" not in raw, "not even in free pages"


def _old_row(n, kind, state, message, blob, keyring, now):  # type: ignore[no-untyped-def]
    """An attachment row as revision 0003 wrote it: message id in the clear, unbound."""
    old = table(
        "attachment",
        column("id"),
        column("line_message_id"),
        column("kind"),
        column("state"),
        column("attempts"),
        column("next_attempt_at", UTCDateTime),
        column("file_name_ct"),
        column("blob_ct"),
        column("created_at", UTCDateTime),
    )
    name = keyring.data.encrypt_text("IMG_0001.jpg", media.ATTACHMENT_NAME) if n == 2 else None
    return insert(old).values(
        id=n,
        line_message_id=message,
        kind=kind,
        state=state,
        attempts=0,
        next_attempt_at=now,
        file_name_ct=name,
        blob_ct=blob,
        created_at=now,
    )
