"""A sending process registers itself in the transaction that first claims a row, while its
heartbeat thread beats at once: the two registrations must not collide (on PostgreSQL an
update-then-insert let both insert, and one transaction died on the duplicate key)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store import migrate, outbox, vault
from store.db import Database
from store.models import OutboxMessage, OutboxSender, VaultKey
from tests.conftest import Keys


def test_a_heartbeat_racing_the_first_claim_neither_fails(database_url: str) -> None:
    migrate.upgrade(database_url)
    db = Database(database_url)
    failures: list[BaseException] = []

    def beat() -> None:
        try:
            with db.transaction() as session:
                outbox.heartbeat(session, "sender-1", timedelta(seconds=7))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    try:
        with db.transaction() as session:
            outbox.heartbeat(session, "sender-1", timedelta(seconds=7))
            beating = threading.Thread(target=beat)
            beating.start()
            time.sleep(0.3)  # the beat is now waiting on this transaction's row
        beating.join(timeout=10)
        assert not beating.is_alive()
        assert failures == []
        with db.transaction() as session:
            ids = list(session.scalars(select(OutboxSender.id)))
        # Other processes' senders may beat here too (the suite's earlier bots).
        assert ids.count("sender-1") == 1
    finally:
        db.dispose()


def test_a_sent_messages_key_is_destroyed_where_the_shredder_sees_it(
    database_url: str, keys: Keys
) -> None:
    """Delivered: the row's key is destroyed, and the vault's files forget it at the next
    shredding pass (on PostgreSQL that pass rewrites the vault only when its counter of
    destroyed keys moved, so sending must move it too)."""
    migrate.upgrade(database_url, keyring=keys.material.keyring())
    db = Database(database_url)
    keyring = keys.material.keyring()
    now = datetime.now(UTC)
    try:
        with db.transaction() as session:
            row = outbox.enqueue(
                session, keyring, kind="push", to=["U" + "1" * 32], messages=[], now=now
            )
        shredder = vault.Shredder(db)
        shredder.run()
        with db.transaction() as session:
            (key_id,) = session.scalars(
                select(OutboxMessage.key_id).where(OutboxMessage.id == row.id)
            )
            outbox.mark_sent(session, [row.id], now)
            assert session.get(VaultKey, key_id) is None
        rewritten = shredder._rewritten_at
        assert shredder.run()
        if db.engine.dialect.name == "postgresql":
            assert shredder._rewritten_at != rewritten, "the shredder saw the destroyed key"
    finally:
        db.dispose()
