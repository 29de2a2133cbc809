"""The webhook's statements run on the driver's cursor (issue 12) and lose nothing by it.

Each statement every event runs goes straight to the driver, compiled once; what it
stores and reads is what SQLAlchemy's own execution stores and reads (dates converted
as our column types convert them), its errors are SQLAlchemy's with the parameters
hidden, a connection found dead is dropped from the pool, and anyone listening for
every statement still hears every one.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, func, select, text
from sqlalchemy.exc import IntegrityError, NoResultFound, OperationalError

from store import hot, outbox, repo, vault
from store.db import Database
from store.models import (
    Attachment,
    Case,
    CaseEvent,
    OutboxMessage,
    StaffNotice,
    UpdateLink,
    VaultKey,
)
from tests.conftest import Bot, Chat, texts_of
from tests.test_db_unit import from_webhook
from tests.test_report_end_to_end import (
    THAI,
    _receipt,
    photo_with_gps,
    thai_report_up_to_the_evidence_step,
)
from tests.test_staff_notifications import linked_staff

NOW = datetime(2026, 12, 5, 9, 41, 27, 123456, tzinfo=UTC)


def _kept_key(database: Database, keys: Any) -> int:
    with database.transaction() as session:
        return vault.new_key(session, keys.material.keyring())[0]


def _outbox_values(key_id: int, row_ref: str) -> dict[str, Any]:
    return {
        "kind": "reply",
        "purpose": "reply",
        "key_id": key_id,
        "to_ct": b"\x00to",
        "payload_ct": b"\x00payload",
        "retry_key": row_ref,
        "state": "sending",
        "attempts": 1,
        "locked_until": NOW + timedelta(minutes=5),
        "claimed_by": "sender-1",
        "next_attempt_at": NOW,
        "created_at": NOW,
    }


def test_every_statement_of_an_event_goes_to_the_driver(database: Database) -> None:
    dialect = database.engine.dialect
    statements = hot.statements(database.sessions())
    per_event = {
        statements.claim_event: ("b_event_key", "b_day", "b_before", "b_line_key"),
        statements.lock_conversation: ("b_key", "b_expires"),
        statements.save_conversation: ("b_key", "b_key_id", "b_state", "b_expires"),
        statements.drop_conversation: ("b_key",),
        statements.add_outbox: tuple(_outbox_values(1, "r")),
        statements.add_vault_key: ("id", "wrapped"),
        statements.staff_for_line: ("b_line_key",),
        statements.vault_key: ("b_id",),
        statements.destroy_key: ("b_id",),
    }
    keyed = ("k_id", "k_wrapped")
    if database.engine.dialect.name == "postgresql":
        assert statements.add_outbox_keyed is not None
        assert statements.save_conversation_keyed is not None
        per_event[statements.add_outbox_keyed] = (*_outbox_values(1, "r"), *keyed)
        per_event[statements.save_conversation_keyed] = (
            *("b_key", "b_key_id", "b_state", "b_expires", "b_old"),
            *keyed,
        )
        assert statements.add_outbox_saving is not None
        assert statements.claim_and_lock is not None
        per_event[statements.claim_and_lock] = (
            *("b_event_key", "b_day", "b_before", "b_line_key", "b_key", "b_expires"),
        )
        per_event[statements.add_outbox_saving] = (
            *_outbox_values(1, "r"),
            *keyed,
            *("b_key", "b_state", "b_expires", "b_old", "s_id", "s_wrapped"),
        )
    else:
        # SQLite has no data-modifying WITH: these take two or three statements there.
        assert statements.add_outbox_keyed is None
        assert statements.save_conversation_keyed is None
        assert statements.add_outbox_saving is None
        assert statements.claim_and_lock is None
    for statement, keys in per_event.items():
        assert hot._driver(dialect, statement, keys) is not None, statement
    # Lists of ids are one parameter, so these too go as compiled once.
    per_ids = {
        statements.destroy_keys: ("b_ids",),
        statements.destroy_sent_keys: ("b_ids",),
        statements.mark_sent: ("b_ids", "b_now"),
    }
    if statements.mark_sent_keyed is not None:
        per_ids[statements.mark_sent_keyed] = ("b_ids", "b_now")
    for statement, keys in per_ids.items():
        assert hot._driver(dialect, statement, keys) is not None, statement
    # A list expanded into IN is worked out by SQLAlchemy at each execution.
    expanded = select(VaultKey.id).where(VaultKey.id.in_(bindparam("b_ids", expanding=True)))
    assert hot._driver(dialect, expanded, ("b_ids",)) is None
    # So is a column default computed in Python (``attempts`` left out).
    missing = tuple(k for k in _outbox_values(1, "r") if k != "attempts")
    assert hot._driver(dialect, statements.add_outbox, missing) is None


def test_what_the_driver_stores_reads_back_as_sqlalchemy_stores_it(
    database: Database, keys: Any
) -> None:
    key_id = _kept_key(database, keys)
    with database.transaction() as session:
        statements = hot.statements(session)
        row_id = hot.execute(
            session, statements.add_outbox, _outbox_values(key_id, "ref-1")
        ).scalar_one()
        # The same row through SQLAlchemy's own execution, for comparison.
        same = session.connection().execute(statements.add_outbox, _outbox_values(key_id, "ref-2"))
        other_id = same.scalar_one()
    with database.transaction() as session:
        ours, theirs = (session.get(OutboxMessage, i) for i in (row_id, other_id))
        assert ours is not None and theirs is not None
        for column in OutboxMessage.__table__.columns.keys():
            if column not in ("id", "retry_key"):
                assert getattr(ours, column) == getattr(theirs, column), column
        # The column types' own rules held: dates in UTC, creation kept to the minute.
        assert ours.next_attempt_at == NOW
        assert ours.created_at == NOW.replace(second=0, microsecond=0)
        assert ours.to_ct == b"\x00to"
        assert hot.execute(session, statements.vault_key, {"b_id": key_id}).scalar() == (
            session.scalar(select(VaultKey.wrapped).where(VaultKey.id == key_id))
        )
        assert hot.execute(session, statements.vault_key, {"b_id": -1}).first() is None
        with pytest.raises(NoResultFound):
            hot.execute(session, statements.vault_key, {"b_id": -1}).one()


def test_a_driver_error_is_sqlalchemys_and_shows_no_parameter(
    database: Database, keys: Any
) -> None:
    key_id = _kept_key(database, keys)
    wrapped = b"secret-wrapped-key-bytes"
    with pytest.raises(IntegrityError) as raised, database.transaction() as session:
        statement = hot.statements(session).add_vault_key
        hot.execute(session, statement, {"id": key_id, "wrapped": wrapped})
    assert "secret-wrapped-key-bytes" not in str(raised.value)
    assert "hidden" in str(raised.value).lower()
    with database.transaction() as session:
        assert session.scalar(select(VaultKey.wrapped).where(VaultKey.id == key_id)) != wrapped


def test_one_key_or_several_destroyed_are_counted(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        made = [vault.new_key(session, keyring)[0] for _ in range(3)]
    with database.transaction() as session:
        assert vault.destroy(session, [made[0]]) == 1
        assert vault.destroy(session, [made[0]]) == 0, "already gone"
        assert vault.destroy(session, made[1:]) == 2
        assert session.scalars(select(VaultKey.id).where(VaultKey.id.in_(made))).all() == []


def test_a_listener_for_every_statement_hears_the_webhooks_too(
    database: Database, keys: Any
) -> None:
    heard: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.append(statement)

    event.listen(database.engine, "before_cursor_execute", listen)
    try:
        with database.transaction() as session:
            vault.new_key(session, keys.material.keyring())
    finally:
        event.remove(database.engine, "before_cursor_execute", listen)
    assert any(s.startswith("INSERT INTO vault_key") for s in heard), heard


def test_a_connection_that_died_in_a_transaction_is_dropped(
    database_url: str, database: Database, keys: Any
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that ends a connection is PostgreSQL's (SQLite has none)")
    key_id = _kept_key(database, keys)
    with pytest.raises(OperationalError) as raised, database.transaction() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with database.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        hot.execute(session, hot.statements(session).vault_key, {"b_id": key_id})
    assert raised.value.connection_invalidated
    with database.transaction() as session:
        again = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert again != pid
        assert hot.execute(session, hot.statements(session).vault_key, {"b_id": key_id}).scalar()


def test_a_lock_held_past_the_wait_fails_the_transaction_as_sqlalchemys_error(
    database_url: str, database: Database, keys: Any
) -> None:
    """What every transaction begins with also runs on the driver: SQLite's ``BEGIN
    IMMEDIATE`` and PostgreSQL's timeouts still bound the wait, and a lock that does not
    come is SQLAlchemy's OperationalError (the webhook answers 503 on it)."""
    key_id = _kept_key(database, keys)
    holder = database.engine.connect()
    try:
        if database_url.startswith("sqlite"):
            # A writer outside the turns (as a migration is) holds SQLite's own lock.
            holder.connection.driver_connection.execute("BEGIN IMMEDIATE")
        else:
            holder.begin()
            holder.execute(select(VaultKey).where(VaultKey.id == key_id).with_for_update())
        started = time.monotonic()
        with pytest.raises(OperationalError), database.transaction(wait=0.2) as session:
            hot.execute(session, hot.statements(session).destroy_key, {"b_id": key_id})
        assert time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
    with database.transaction(wait=0.2) as session:
        assert vault.destroy(session, [key_id]) == 1


def _destroyed_so_far(session: Any) -> int | None:
    """PostgreSQL's count of destroyed keys (the shredder's counter); None on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    taken = "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {}"
    return int(session.scalar(text(taken.format(vault.DESTROYED))))


def test_sent_rows_lose_their_keys_and_each_is_counted(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        rows = [
            outbox.enqueue(session, keyring, kind="push", to=["U" + "1" * 32], messages=[], now=NOW)
            for _ in range(3)
        ]
        key_ids = session.scalars(
            select(OutboxMessage.key_id).where(OutboxMessage.id.in_([r.id for r in rows]))
        ).all()
        before = _destroyed_so_far(session)
    with database.transaction() as session:
        outbox.mark_sent(session, [rows[0].id, rows[1].id], NOW)
    with database.transaction() as session:
        states = dict(session.execute(select(OutboxMessage.id, OutboxMessage.state)).all())
        assert [states[r.id] for r in rows] == ["sent", "sent", "pending"]
        kept = session.scalars(select(VaultKey.id).where(VaultKey.id.in_(key_ids))).all()
        assert kept == [key_ids[2]]
        if before is not None:
            assert _destroyed_so_far(session) == before + 2


def test_a_saved_state_replaces_its_key_and_the_old_one_is_counted(
    database: Database, keys: Any
) -> None:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, "U" + "2" * 32, NOW)
        repo.save_conversation(session, keyring, held, {"step": "one"}, NOW + timedelta(hours=1))
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, "U" + "2" * 32, NOW)
        assert held.state == {"step": "one"} and held.key_id is not None
        first_key, before = held.key_id, _destroyed_so_far(session)
        repo.save_conversation(session, keyring, held, {"step": "two"}, NOW + timedelta(hours=1))
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, "U" + "2" * 32, NOW)
        assert held.state == {"step": "two"} and held.key_id not in (None, first_key)
        assert session.get(VaultKey, first_key) is None
        if before is not None:
            assert _destroyed_so_far(session) == before + 1


def test_a_statement_after_one_that_failed_in_a_savepoint_still_runs(
    database: Database, keys: Any
) -> None:
    key_id = _kept_key(database, keys)
    with database.transaction() as session:
        statements = hot.statements(session)
        assert hot.execute(session, statements.vault_key, {"b_id": key_id}).scalar()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.connection()  # the savepoint begins (hot.execute asks for no connection)
            hot.execute(session, statements.add_vault_key, {"id": key_id, "wrapped": b"x"})
        assert hot.execute(session, statements.vault_key, {"b_id": key_id}).scalar()


def test_a_batch_of_sent_marks_is_planned_for_its_own_ids(database: Database, keys: Any) -> None:
    """PostgreSQL keeps the plan of a statement the driver prepared; one kept from while
    the outbox was small scans the whole table for every batch. The sent marks are never
    prepared, so each batch is planned for its ids; what else repeats still is."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("plans are kept by PostgreSQL's server (SQLite has none to keep)")
    keyring = keys.material.keyring()
    with database.transaction() as session:
        rows = [
            outbox.enqueue(session, keyring, kind="push", to=["U" + "1" * 32], messages=[], now=NOW)
            for _ in range(8)
        ]
    with database.transaction() as session:
        for row in rows:
            outbox.mark_sent(session, [row.id], NOW)
            hot.execute(session, hot.statements(session).vault_key, {"b_id": 0})
        prepared = session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
        states = session.scalars(select(OutboxMessage.state)).all()
    assert states == ["sent"] * len(rows)
    assert any("FROM vault_key" in each and "gone_sent" not in each for each in prepared)
    assert not any("gone_sent" in each for each in prepared)


def _names() -> str:
    return " <- ".join(f.name for f in reversed(traceback.extract_stack()))


@contextmanager
def _orm_at_work(bot: Bot) -> Iterator[list[str]]:
    """What the webhook set going of SQLAlchemy's own machinery meanwhile: a connection
    made (engine_connect), or rows added to a session for the ORM's flush to write. The
    test's own sender, delivering replies on another stack, is not counted."""
    found: list[str] = []

    def connected(_connection: Any) -> None:
        if from_webhook(traceback.extract_stack()):
            found.append(f"a connection ({_names()})")

    def before_flush(session: Any, _context: Any, _instances: Any) -> None:
        if from_webhook(traceback.extract_stack()):
            found.extend(f"{type(row).__name__} ({_names()})" for row in session.new)

    listeners: list[tuple[Any, str, Callable[..., None]]] = [
        (bot.runtime.db.engine, "engine_connect", connected),
        (bot.runtime.db.sessions, "before_flush", before_flush),
    ]
    for listener in listeners:
        event.listen(*listener)
    try:
        yield found
    finally:
        for listener in listeners:
            event.remove(*listener)


def test_a_receipt_and_a_lookup_run_on_the_driver_without_the_orm(
    bot: Bot, chat: Chat, new_chat: Any
) -> None:
    """The receipt's rows (the case, its first event, the update link, the files taken
    from the draft, the staff notice) and the status lookup's reads go as statements
    compiled once: SQLAlchemy's connection and the ORM's flush around them cost more than
    the rest of either (bench/RESULTS.md, sixteenth round). The rows are the ORM's."""
    staff = linked_staff(bot, new_chat, "somchai")
    thai_report_up_to_the_evidence_step(chat)
    chat.send_image(photo_with_gps())
    chat.choose("v=done")
    chat.say(THAI["witnesses"])
    chat.choose("v=yes")
    with _orm_at_work(bot) as filing:
        filed = _receipt(chat.choose("v=confirm"))
    assert filing == []  # the code before: a connection, Case, UpdateLink, CaseEvent, ...
    assert filed.case_number in texts_of(staff.new_messages())
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == filed.case_number)).one()
        assert (case.channel, case.lang, case.status) == ("line", "th", "received")
        assert case.deadline_look_at is not None, "the first deadline scan looks at it"
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert [(e.kind, e.status) for e in events] == [("filed", "received")]
        files = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        assert len(files) == 1 and files[0].draft_key is None
        assert session.scalar(select(func.count()).select_from(UpdateLink)) == 1
        notices_kept = session.scalars(
            select(StaffNotice.kind).where(StaffNotice.case_id == case.id)
        ).all()
        assert notices_kept == ["new_case"]
    with _orm_at_work(bot) as looking:
        status = texts_of(chat.say(filed.token))
    # The code before: a connection for the wrong-token check ahead of it (a read of its
    # own, off the writer's lock), and one for the case and its messages.
    assert looking == []
    assert filed.case_number in status
