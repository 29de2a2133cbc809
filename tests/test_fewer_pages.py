"""What an event writes to the database, and the migration that made it less.

An event's transaction used to write fifteen pages on SQLite: the conversation's lock
rewrote the entry of its key index, every step the entry of its expiry index, and the
event hashes and vault keys each kept a table beside the index of their key. Each page
goes to SQLite's log whole and back into the database at a checkpoint (bench/RESULTS.md,
twenty-second round). Nothing is given up: the expiry still follows the last step, a
redelivery is still found (tests/attack/test_forgetting.py), and the migration keeps
every key and event hash, and leaves no copy of a key in the pages it freed.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import insert, inspect, select, text

from bench import pages
from store import migrate
from store.db import Database
from store.models import ProcessedEvent, VaultKey
from tests.attack.test_forgetting import _conversation_of
from tests.conftest import Bot, Chat, Clock

BEFORE = "0016"


def test_a_step_that_keeps_its_expiry_writes_no_page_of_the_conversations_indexes() -> None:
    figures = pages.measure(conversations=2, warmup=1)
    by_owner = figures["frames_per_event_by_owner"]
    assert figures["events"] >= 30 and figures["frames_per_event"] > 1, figures
    # A conversation's first step inserts its row and its last deletes it: the entries of
    # its indexes change then, and not in the steps between.
    for index in ("ix_conversation_expires_at", "sqlite_autoindex_conversation_1"):
        assert by_owner.get(index, 0) <= 0.25, (index, by_owner)
    assert by_owner[ProcessedEvent.__tablename__] > 0 and by_owner[VaultKey.__tablename__] > 0
    # The event hashes and the vault keys are their key's own b-tree: no index beside.
    for gone in (
        "sqlite_autoindex_processed_event_1",
        "ix_processed_event_day",
        "sqlite_autoindex_vault_key_1",
    ):
        assert gone not in by_owner, by_owner


def test_a_drafts_expiry_follows_its_last_step(bot: Bot, chat: Chat, clock: Clock) -> None:
    ttl = bot.settings.draft_ttl
    chat.say("ร้องเรียน")
    first = _conversation_of(bot, chat).expires_at
    chat.choose("v=ok")  # within the same ten minutes, most likely: the expiry is kept
    assert _conversation_of(bot, chat).expires_at in (first, first + timedelta(minutes=10))
    clock.advance(minutes=30)
    before = clock()
    chat.choose("v=anonymous")
    after = clock()
    later = _conversation_of(bot, chat).expires_at
    # Rounded up to ten minutes from the step's own time.
    assert before + ttl <= later <= after + ttl + timedelta(minutes=10), (before, later)
    assert later >= first + timedelta(minutes=20)


def _old_rows(url: str) -> tuple[list[tuple[int, bytes]], list[tuple[int, str]]]:
    keys = [(int.from_bytes(os.urandom(7), "big"), os.urandom(48)) for _ in range(40)]
    events = [(20400 + i % 2, os.urandom(32).hex()) for i in range(40)]
    database = Database(url)
    try:
        with database.transaction() as session:
            for key_id, wrapped in keys:
                session.execute(insert(VaultKey.__table__).values(id=key_id, wrapped=wrapped))
            for day, event_key in events:
                session.execute(
                    insert(ProcessedEvent.__table__).values(day=day, event_key=event_key)
                )
    finally:
        database.dispose()
    return keys, events


def _rows(url: str) -> tuple[list[tuple[int, bytes]], list[tuple[int, str]]]:
    database = Database(url)
    try:
        with database.reading() as session:
            keys = sorted(tuple(r) for r in session.execute(select(VaultKey.id, VaultKey.wrapped)))
            events = sorted(
                tuple(r)
                for r in session.execute(select(ProcessedEvent.day, ProcessedEvent.event_key))
            )
    finally:
        database.dispose()
    return keys, events  # type: ignore[return-value]


def _shape(url: str) -> tuple[list[str], list[str]]:
    """The event hashes' key and indexes, as the database reports them."""
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            found = inspect(connection)
            key = found.get_pk_constraint("processed_event")["constrained_columns"]
            indexes = [i["name"] for i in found.get_indexes("processed_event")]
    finally:
        database.dispose()
    return key, indexes


def _without_rowid(path: Path) -> dict[str, bool]:
    connection = sqlite3.connect(path)
    try:
        return {
            name: "WITHOUT ROWID" in sql.upper()
            for name, sql in connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE name IN ('vault_key', 'processed_event')"
            )
        }
    finally:
        connection.close()


def _file_bytes(path: Path) -> bytes:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_the_migration_keeps_every_key_and_event_and_goes_back(database_url: str) -> None:
    migrate.upgrade(database_url, BEFORE)
    keys, events = _old_rows(database_url)
    migrate.upgrade(database_url)
    assert _rows(database_url) == (sorted(keys), sorted(events))
    key, indexes = _shape(database_url)
    assert key == ["day", "event_key"] and "ix_processed_event_day" not in indexes
    sqlite_path = (
        Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite") else None
    )
    if sqlite_path is not None:
        assert _without_rowid(sqlite_path) == {"vault_key": True, "processed_event": True}
        # The old tables' pages were zeroed as they were freed: one copy of each key.
        stored = _file_bytes(sqlite_path)
        assert all(stored.count(wrapped) == 1 for _, wrapped in keys)
        database = Database(database_url)
        try:
            with database.transaction() as session:
                session.execute(text("DELETE FROM vault_key WHERE id = :id"), {"id": keys[0][0]})
        finally:
            database.dispose()
        assert _file_bytes(sqlite_path).count(keys[0][1]) == 0, "a destroyed key left a copy"
        keys = keys[1:]

    command.downgrade(migrate.alembic_config(database_url), BEFORE)
    assert _rows(database_url) == (sorted(keys), sorted(events))
    key, indexes = _shape(database_url)
    assert key == ["event_key"] and "ix_processed_event_day" in indexes
    if sqlite_path is not None:
        assert _without_rowid(sqlite_path) == {"vault_key": False, "processed_event": False}
    migrate.upgrade(database_url)
    assert _rows(database_url) == (sorted(keys), sorted(events))
