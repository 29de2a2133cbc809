"""The shredder makes destroyed keys leave the database files, but it must never hold the
webhook: while an old reader keeps it waiting, SQLite's truncating checkpoint blocks every
new writer and PostgreSQL's queued ``VACUUM FULL`` blocks everyone queued behind it. A pass
that waited its connection's 30 s answered every reporter meanwhile with a 503, which is
how the concurrency test once lost a reporter's step."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from sqlalchemy import func, select

from store import migrate, outbox, vault
from store.db import Database
from store.models import VaultKey
from tests.conftest import Keys


@contextmanager
def _old_reader(url: str) -> Iterator[None]:
    """A reader whose transaction began before the last write, still open."""
    if url.startswith("sqlite"):
        reader = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM vault_key").fetchone()
    else:
        reader = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
        reader.execute("SELECT count(*) FROM vault_key").fetchone()
    try:
        yield
    finally:
        reader.rollback()
        reader.close()


def _destroy_a_key(db: Database, keys: Keys) -> None:
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = outbox.enqueue(
            session, keys.material.keyring(), kind="push", to=["U" + "1" * 32], messages=[], now=now
        )
    with db.transaction() as session:
        outbox.mark_sent(session, [row.id], now)


def test_a_pass_behind_an_old_reader_is_postponed_and_holds_no_writer(
    database_url: str, keys: Keys
) -> None:
    migrate.upgrade(database_url, keyring=keys.material.keyring())
    db = Database(database_url)
    keyring = keys.material.keyring()
    shredder = vault.Shredder(db)
    passes: list[tuple[bool, float]] = []

    def shred() -> None:
        began = time.monotonic()
        passes.append((shredder.run(), time.monotonic() - began))

    try:
        shredder.run()
        with _old_reader(database_url):
            _destroy_a_key(db, keys)  # after the reader began: its snapshot is now old
            pass_ = threading.Thread(target=shred)
            pass_.start()
            time.sleep(0.05)
            # A webhook event's write, with the webhook's wait (bot.webhook).
            began = time.monotonic()
            with db.transaction(wait=1.0) as session:
                key_id, _ = vault.new_key(session, keyring)
            wrote_in = time.monotonic() - began
            pass_.join(timeout=5)
            assert not pass_.is_alive(), "the pass waited for the old reader"
        [(done, took)] = passes
        assert not done, "a pass behind an old reader says it is postponed"
        assert took < 1.0
        assert wrote_in < 0.5, f"a writer waited {wrote_in:.2f} s behind the shredder"
        with db.transaction() as session:
            assert session.get(VaultKey, key_id) is not None

        # The reader gone, the next pass does its work.
        assert shredder.run()
        if db.engine.dialect.name == "sqlite":
            log = database_url.removeprefix("sqlite:///") + "-wal"
            with open(log, "rb") as wal:
                assert wal.read() == b"", "the log was truncated"
        with db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(VaultKey)) >= 1
    finally:
        db.dispose()
