"""A thief searches a stolen SQLite file for the bytes of a destroyed row key.

With ``secure_delete`` SQLite zeroes the cells it deletes and the pages it frees, but a
page it rebuilds while balancing its tree can keep an old copy of a cell in the unused
space between its cell pointers and its cells (seen once in 322,000 destroyed keys,
bench/RESULTS.md, twenty-second round). That copy outlives the key's deletion, and with
the data key (which a stolen server holds) it opens whatever the key sealed. Such a copy
cannot be made to order through SQL, so the test writes one where SQLite leaves them,
and the shredder's next pass must leave none in the file or its log.

These tests always use a SQLite file of their own: the page layout is SQLite's.
PostgreSQL's vault is rewritten whole by ``VACUUM FULL`` (tests/test_shredder.py,
tests/attack/test_forgetting.py).
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from pathlib import Path

from sqlalchemy import select

from store import migrate, vault
from store.db import Database
from store.models import VaultKey
from tests.conftest import Keys

KEYS = 400  # several leaf pages of the vault's tree


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _leave_in_a_page(path: Path, stale: bytes) -> None:
    """Write ``stale`` into the unused space of one of the vault's leaf pages, as SQLite's
    balancing may leave it; the file stays a valid database."""
    with sqlite3.connect(path) as connection:
        size = connection.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            n
            for (n,) in connection.execute(
                "SELECT pageno FROM dbstat WHERE name = 'vault_key' AND pagetype = 'leaf'"
            )
        ]
    connection.close()
    with path.open("r+b") as file:
        for number in leaves:
            file.seek((number - 1) * size)
            page = file.read(size)
            header = 100 if number == 1 else 0
            cells, content = struct.unpack(">HH", page[header + 3 : header + 7])
            unused_from = header + 8 + 2 * cells
            if (content or 65536) - unused_from >= len(stale) + 8:
                file.seek((number - 1) * size + unused_from + 4)
                file.write(stale)
                break
        else:
            raise AssertionError("no leaf page of the vault has room for the copy")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()


def _stolen(path: Path) -> bytes:
    log = path.with_name(path.name + "-wal")
    return path.read_bytes() + (log.read_bytes() if log.exists() else b"")


def _database(tmp_path: Path, keys: Keys) -> tuple[Path, Database]:
    path = tmp_path / "krasip.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, keyring=keys.material.keyring())
    return path, Database(url)


def test_a_destroyed_keys_copy_left_in_a_page_is_gone_after_the_next_pass(
    tmp_path: Path, keys: Keys
) -> None:
    keyring = keys.material.keyring()
    path, db = _database(tmp_path, keys)
    shredder = vault.Shredder(db)
    try:
        with db.transaction() as session:
            made = [vault.new_key(session, keyring)[0] for _ in range(KEYS)]
        assert shredder.run()
        victim = made[KEYS // 2]
        with db.transaction() as session:
            wrapped = session.get(VaultKey, victim).wrapped  # type: ignore[union-attr]
            assert vault.destroy(session, [victim]) == 1
        db.dispose()
        _checkpoint(path)
        # Counts, not bytes, in what a failure prints: no key material in the output.
        found = _stolen(path).count(wrapped)
        assert found == 0, "secure_delete zeroed the deleted cell"
        _leave_in_a_page(path, wrapped)
        found = _stolen(path).count(wrapped)
        assert found == 1

        assert shredder.run()
        db.dispose()
        stolen = _stolen(path)
        found = stolen.count(wrapped)
        assert found == 0, "a destroyed key's copy survived the shredder's pass"
        with db.transaction() as session:
            kept = set(session.scalars(select(VaultKey.id)))
            assert kept == set(made) - {victim}
            for key_id in kept:
                vault.secret(session, keyring, key_id)  # every live key still opens
            live = list(session.scalars(select(VaultKey.wrapped)))
        copies = sorted({stolen.count(w) for w in live})
        assert copies == [1], "each live key is in the file exactly once"
    finally:
        db.dispose()


def test_a_pass_with_nothing_destroyed_since_writes_nothing(tmp_path: Path, keys: Keys) -> None:
    keyring = keys.material.keyring()
    path, db = _database(tmp_path, keys)
    shredder = vault.Shredder(db)
    try:
        with db.transaction() as session:
            for _ in range(KEYS):
                vault.new_key(session, keyring)
        assert shredder.run()
        db.dispose()
        before = hashlib.sha256(_stolen(path)).hexdigest()
        assert shredder.run()
        db.dispose()
        assert hashlib.sha256(_stolen(path)).hexdigest() == before, "an idle pass wrote pages"

        # A key destroyed (and another made: the count stays) is seen, and rewritten.
        with db.transaction() as session:
            (victim,) = session.scalars(select(VaultKey.id).limit(1))
            vault.destroy(session, [victim])
            vault.new_key(session, keyring)
        db.dispose()
        _checkpoint(path)
        changed = hashlib.sha256(_stolen(path)).hexdigest()
        assert shredder.run()
        db.dispose()
        assert hashlib.sha256(_stolen(path)).hexdigest() != changed, "the vault was rewritten"
    finally:
        db.dispose()
