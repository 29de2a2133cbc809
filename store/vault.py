"""The vault: keys that can be destroyed for good, so deleted data stays deleted.

A stolen server holds the data keys and the pepper, and its database files keep old
versions of rows: SQLite's write-ahead log and free pages, PostgreSQL's dead tuples and
WAL segments. Whatever must become unreadable once its time is over — a conversation
state, an outbox message, a chosen update link, a LINE message id — is therefore sealed
under a key of its own kept here, and destroying that key is what forgetting means.

Two kinds of key:

* row keys (:func:`seal` / :func:`open` / :func:`destroy`): one per row version;
* day keys (:func:`day_digest`): HMAC keys for the hashes of LINE identifiers (the chat
  key of a conversation, webhook event ids). Only today's and yesterday's exist, so a
  hash found in an old copy can no longer be recomputed from a list of LINE users.

Keys are wrapped under the data key, so the database alone opens nothing. On PostgreSQL
the vault's tables are UNLOGGED: their rows never reach the write-ahead log, and
the :class:`Shredder` rewrites them so a destroyed key leaves no bytes in the data
directory (the price: a crash of the database server, not a clean restart, empties them, and
unfinished drafts and undelivered replies are lost with them). On SQLite every
connection deletes with ``secure_delete``, and the :class:`Shredder` writes the vault
again after a destruction and truncates the log.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Delete, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from store import hot
from store.crypto import CryptoError, Keyring, Pepper, bind, new_secret, row_decrypt, row_encrypt
from store.models import VaultEpoch

if TYPE_CHECKING:
    from store.db import Database

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out
# How long a rewrite or a truncation may wait for a reader: every writer waits behind it.
REWRITE_WAIT_MS = 100
DESTROYED = "vault_destroyed"  # a PostgreSQL sequence: how many keys were ever destroyed
ROW_KEY = "vault.key"
DAY_KEY = "vault.day"
DAYS_KEPT = 2  # today and yesterday: a draft lives 24 hours after its last step


class KeyDestroyed(CryptoError):
    """The key of this ciphertext was destroyed: what it protected is gone for good."""


def new_id() -> int:
    # Random, not sequential: the order of rows says nothing about the order of events.
    return secrets.randbits(62) + 1


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if hot.dialect_name(session) == "postgresql" else sqlite.insert


# --- row keys ------------------------------------------------------------------------


def seal(session: Session, keys: Keyring, plaintext: bytes, aad: str) -> tuple[int, bytes]:
    """Seal ``plaintext`` under a fresh key kept in the vault; returns (key id, ciphertext)."""
    key_id, secret = new_key(session, keys)
    return key_id, row_encrypt(secret, plaintext, aad)


def new_key(session: Session, keys: Keyring) -> tuple[int, bytes]:
    """A fresh row key, stored wrapped; for a row holding several ciphertexts."""
    key = unstored_key(keys)
    hot.execute(
        session, hot.statements(session).add_vault_key, {"id": key.id, "wrapped": key.wrapped}
    )
    return key.id, key.secret


@dataclass(frozen=True)
class RowKey:
    id: int
    secret: bytes
    wrapped: bytes


def unstored_key(keys: Keyring) -> RowKey:
    """A fresh row key for the caller to store with the row it seals, in one statement
    (``k_id``, ``k_wrapped`` of store.hot's keyed statements)."""
    key_id, secret = new_id(), new_secret()
    return RowKey(key_id, secret, keys.data.encrypt(secret, bind(ROW_KEY, key_id)))


def secret(session: Session, keys: Keyring, key_id: int | None) -> bytes:
    """The row key ``key_id``; :class:`KeyDestroyed` when it no longer exists."""
    wrapped = None
    if key_id is not None:
        wrapped = hot.execute(session, hot.statements(session).vault_key, {"b_id": key_id}).scalar()
    return unwrap(keys, key_id, wrapped)


def unwrap(keys: Keyring, key_id: int | None, wrapped: bytes | None) -> bytes:
    """The row key ``key_id`` from its stored form, read by the caller (None: no row)."""
    if key_id is None or wrapped is None:
        raise KeyDestroyed("the key of this record was destroyed")
    return keys.data.decrypt(wrapped, bind(ROW_KEY, key_id))


def open(session: Session, keys: Keyring, key_id: int | None, blob: bytes, aad: str) -> bytes:  # noqa: A001
    """Open what :func:`seal` sealed, where it was sealed (``aad``)."""
    return row_decrypt(secret(session, keys, key_id), blob, aad)


def destroy(session: Session, key_ids: Iterable[int | None]) -> int:
    """Destroy row keys; what they sealed can never be read again (after the
    :class:`Shredder`'s next pass)."""
    ids = [k for k in key_ids if k is not None]
    if not ids:
        return 0
    # Statements built once (store.hot): one key is destroyed on every webhook event, by
    # a statement that need not expand a list.
    statements = hot.statements(session)
    if len(ids) == 1:
        result = hot.execute(session, statements.destroy_key, {"b_id": ids[0]})
    else:
        result = hot.execute(session, statements.destroy_keys, {"b_ids": ids})
    if hot.dialect_name(session) != "postgresql":
        return result.rowcount
    return len(result.all())


def _count_destroyed(session: Session, stmt: Delete) -> int:
    if hot.dialect_name(session) != "postgresql":
        return session.execute(stmt).rowcount  # type: ignore[attr-defined, no-any-return]
    # Each destroyed key advances a counter, so the shredder rewrites the vault only
    # when something was destroyed since its last pass.
    return len(session.execute(stmt.returning(func.nextval(DESTROYED))).all())


# --- day keys ------------------------------------------------------------------------

_day_cache: dict[tuple[int, int], Pepper] = {}
# Days found to have no key (yesterday's, on a quiet register), so every event does not ask
# again; remembered briefly, since a process whose clock is a moment behind may create it.
_day_absent: dict[tuple[int, int], float] = {}
ABSENT_FOR = 30.0
_CREATED = "krasip_vault_days_created"
_day_lock = threading.Lock()


def day_number(now: datetime) -> int:
    return now.astimezone(UTC).date().toordinal()


def _day_pepper(session: Session, keys: Keyring, day: int, *, create: bool) -> Pepper | None:
    cache_key = (id(keys), day)
    with _day_lock:
        cached = _day_cache.get(cache_key)
        absent = time.monotonic() - _day_absent.get(cache_key, -ABSENT_FOR) < ABSENT_FOR
    if cached is not None:
        return cached
    if absent and not create:
        return None
    wrapped = session.scalar(select(VaultEpoch.wrapped).where(VaultEpoch.day == day))
    if wrapped is None:
        if not create:
            with _day_lock:
                _day_absent[cache_key] = time.monotonic()
            return None
        session.execute(
            _insert(session)(VaultEpoch)
            .values(day=day, wrapped=keys.data.encrypt(new_secret(), bind(DAY_KEY, day)))
            .on_conflict_do_nothing(index_elements=["day"])
        )
        wrapped = session.scalar(select(VaultEpoch.wrapped).where(VaultEpoch.day == day))
        assert wrapped is not None
        # Not cached until committed: a rolled-back key must not outlive its transaction.
        session.info.setdefault(_CREATED, set()).add(day)
    pepper = Pepper(keys.data.decrypt(wrapped, bind(DAY_KEY, day)))
    if day in session.info.get(_CREATED, ()):
        return pepper
    with _day_lock:
        # A process keeps at most the days still alive; older ones leave its memory too.
        for stale in [k for k in _day_cache if k[1] <= day - DAYS_KEPT]:
            del _day_cache[stale]
        for stale in [k for k in _day_absent if k[1] <= day - DAYS_KEPT]:
            del _day_absent[stale]
        _day_absent.pop(cache_key, None)
        _day_cache[cache_key] = pepper
    return pepper


def day_digest(
    session: Session, keys: Keyring, purpose: str, value: str, day: int, *, create: bool = True
) -> str | None:
    """HMAC of ``value`` under ``day``'s key; None when that day's key is gone."""
    pepper = _day_pepper(session, keys, day, create=create)
    return pepper.digest(purpose, value) if pepper else None


def destroy_days_before(session: Session, day: int) -> int:
    destroyed = _count_destroyed(session, delete(VaultEpoch).where(VaultEpoch.day < day))
    with _day_lock:
        for stale in [k for k in _day_cache if k[1] < day]:
            del _day_cache[stale]
    return destroyed


# --- making destruction final ----------------------------------------------------------


# The vault's tables on SQLite: read, clear, write again.
_REWRITES = (
    (
        "SELECT id, wrapped FROM vault_key",
        "DELETE FROM vault_key",
        "INSERT INTO vault_key (id, wrapped) VALUES (?, ?)",
    ),
    (
        "SELECT day, wrapped FROM vault_epoch",
        "DELETE FROM vault_epoch",
        "INSERT INTO vault_epoch (day, wrapped) VALUES (?, ?)",
    ),
)
# The vault's rows told apart by counts and sums of their keys' halves: a key destroyed
# (and another made) changes them, whatever the count.
_FINGERPRINT = text(
    "SELECT (SELECT count(*) FROM vault_key), (SELECT total(id >> 31) FROM vault_key), "
    "(SELECT total(id & 2147483647) FROM vault_key), (SELECT count(*) FROM vault_epoch), "
    "(SELECT total(day) FROM vault_epoch)"
)


def _fingerprint(session: Session) -> tuple[int, ...]:
    return tuple(int(value) for value in session.execute(_FINGERPRINT).one())


class Shredder:
    """Makes destroyed keys unrecoverable from the database files (one per worker).

    SQLite: deleted rows were already zeroed (``secure_delete``), but a page SQLite
    rebuilt while balancing its tree can keep an old copy of a cell in its unused space
    (found once in 322,000 destroyed keys, bench/RESULTS.md, twenty-second round). So
    when the vault changed since the last rewrite, its rows are written again into pages
    freed and zeroed for them; then the log is copied into the file and truncated, so no
    old page survives there. The truncation fails while a reader holds an old snapshot;
    the next pass tries again.
    PostgreSQL: rewrite the vault's tables (their old files are truncated at once), when
    a key was destroyed since the last rewrite.

    Either way a pass holds every writer while it waits (SQLite's truncating checkpoint
    blocks new writers until old readers end; PostgreSQL's queued ``VACUUM FULL`` blocks
    everyone queued behind it), so it waits at most ``REWRITE_WAIT_MS`` and is postponed:
    a pass that waited its connection's 30 s answered every reporter meanwhile with a 503.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        self._rewritten_at: int | None = None
        self._rewritten: tuple[int, ...] | None = None

    def run(self) -> bool:
        """One pass; True when nothing destroyed is left on disk."""
        if self.engine.dialect.name == "sqlite":
            self._rewrite_sqlite()
            return self._truncate_log()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # Read before the rewrite: a key destroyed meanwhile counts for the next pass.
            counter = connection.execute(
                text("SELECT last_value + is_called::int FROM vault_destroyed")
            ).scalar_one()
            if counter == self._rewritten_at:
                return True
            connection.execute(text(f"SET lock_timeout = {REWRITE_WAIT_MS}"))
            try:
                connection.execute(text("VACUUM FULL vault_key, vault_epoch"))
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                return False
            finally:
                connection.execute(text("RESET lock_timeout"))
            self._rewritten_at = counter
        return True

    def _rewrite_sqlite(self) -> None:
        with self.db.glance() as session:
            if _fingerprint(session) == self._rewritten:
                return  # nothing destroyed since: an idle server writes nothing
        with self.db.transaction() as session:
            # On the driver, rows as they are: the rewrite holds every writer.
            cursor = session.connection().connection.cursor()
            try:
                for read, clear, write in _REWRITES:
                    rows = cursor.execute(read).fetchall()
                    # Clearing a whole table frees its pages, zeroed with secure_delete: no
                    # balancing, so no stale copy is left; the rows then go into new pages.
                    cursor.execute(clear)
                    cursor.executemany(write, rows)
            finally:
                cursor.close()
            self._rewritten = _fingerprint(session)

    def _truncate_log(self) -> bool:
        # On the driver's connection: outside a transaction, which SQLAlchemy would begin.
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            # The copy first, without holding anyone; then the truncation, briefly.
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            (waited,) = cursor.execute("PRAGMA busy_timeout").fetchone()
            cursor.execute(f"PRAGMA busy_timeout={REWRITE_WAIT_MS}")
            try:
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                cursor.execute(f"PRAGMA busy_timeout={int(waited)}")
                cursor.close()
            return not busy
        finally:
            raw.close()
