"""The database layer's per-event shortcuts (issue 12) keep their guarantees.

A PostgreSQL connection used a moment ago is not pinged, one idle longer is, and one that
died while idle is replaced before use; the vault's prebuilt destroy still destroys and
still tells the shredder (on PostgreSQL) that something was destroyed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from store import db as store_db
from store import migrate, vault
from store.db import Database, make_engine
from store.models import VaultKey


def _postgres(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("pings before reuse are PostgreSQL's (SQLite has no server to lose)")


def _counting_pings(engine: Any) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    engine.dialect.do_ping = ping
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged_one_idle_longer_is(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgres(database_url)
    engine = make_engine(database_url, pool_size=1)
    pings = _counting_pings(engine)
    try:
        for _ in range(3):
            with engine.begin() as connection:
                connection.execute(text("SELECT 1"))
        assert pings == [], "no round trip for a connection just used"
        monkeypatch.setattr(store_db, "PING_AFTER", 0.0)
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
        assert pings == [1], "an idle connection is pinged before use"
    finally:
        engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgres(database_url)
    engine = make_engine(database_url, pool_size=1)
    other = make_engine(database_url)
    try:
        with engine.begin() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with other.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(store_db, "PING_AFTER", 0.0)
        with engine.begin() as connection:
            again = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert again != pid
    finally:
        engine.dispose()
        other.dispose()


def test_destroyed_row_keys_are_gone_and_counted(database_url: str, keys: Any) -> None:
    migrate.upgrade(database_url)
    database = Database(database_url)
    keyring = keys.material.keyring()
    try:
        with database.transaction() as session:
            made = [vault.new_key(session, keyring)[0] for _ in range(3)]
        counter = "SELECT last_value + is_called::int FROM vault_destroyed"
        postgres = database_url.startswith("postgresql")
        with database.transaction() as session:
            before = session.execute(text(counter)).scalar_one() if postgres else 0
            assert vault.destroy(session, [made[0], None, made[1]]) == 2
            assert vault.destroy(session, [None]) == 0
            after = session.execute(text(counter)).scalar_one() if postgres else 2
        assert after - before == 2, "the shredder learns that two keys were destroyed"
        with database.transaction() as session:
            left = session.scalars(select(VaultKey.id).where(VaultKey.id.in_(made))).all()
            assert left == [made[2]]
            assert session.scalar(select(func.count()).select_from(VaultKey)) == 1
            assert vault.secret(session, keyring, made[2])
            with pytest.raises(vault.KeyDestroyed):
                vault.secret(session, keyring, made[0])
    finally:
        database.dispose()
