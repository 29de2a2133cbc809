"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, ResourceClosedError
from sqlalchemy.orm import Session, sessionmaker

from store import audit as audit_log
from store import hot
from store.audit import AuditKeys
from store.keys import private_folder
from store.writers import TurnTimeout, WriterTurns

READ_ONLY = "krasip_read_only"
# Seconds a transaction may wait for a lock before failing (the webhook's is short: LINE
# waits 2 s for an answer, and a quick 503 makes it redeliver). Unset: SQLite waits 30 s.
WAIT = "krasip_wait"
BUSY_TIMEOUT_MS = 30000
# A PostgreSQL connection back in the pool longer than this is pinged before reuse.
PING_AFTER = 5.0
_LAST_USED = "krasip_last_used"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and writer-serialising transactions."""
    # SQL parameters can hold ciphertext and keyed hashes: keep them out of error messages.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    if "pool_pre_ping" not in kwargs:
        _ping_when_idle(engine)
    _tune_postgres(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for a connection idle past ``PING_AFTER``:
    the webhook takes a connection several times per event, and a round trip each time
    bought nothing for one used a moment ago. A dead one is replaced before use."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get(_LAST_USED)
        if used is None or time.monotonic() - used < PING_AFTER:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another.
            raise DisconnectionError("connection lost while idle") from exc


def _tune_postgres(engine: Engine) -> None:
    """Transactions begin as SQLite's do: the driver is left in autocommit, and the
    ``begin`` event sends ``BEGIN`` itself, with the transaction's wait in the same round
    trip. psycopg's own ``BEGIN`` went alone, and the wait's ``set_config`` cost a second
    round trip on every webhook event (`python -m bench.micro`, transactions)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        level = options.get("isolation_level")
        if level == "AUTOCOMMIT" or options.get(_BEGUN):
            return  # statements of their own (a glance, VACUUM), or begun on the driver
        begin = _postgres_begin(connection.connection.driver_connection, level, options.get(WAIT))
        hot.run(connection, begin)


def _postgres_begin(driver: Any, level: str | None, wait: float | None) -> str:
    """The SQL that begins a transaction on PostgreSQL, with its wait."""
    if not driver.autocommit:
        # SQLAlchemy turns it off again when a connection used in AUTOCOMMIT returns
        # to the pool; the connection is idle here, so it may change.
        driver.autocommit = True
    begin = "BEGIN" if level not in _PG_LEVELS else f"BEGIN ISOLATION LEVEL {level}"
    if wait is not None:
        # For this transaction only: a lock or a statement past the wait fails fast.
        ms = max(1, int(wait * 1000))
        begin += f"; SET LOCAL lock_timeout = {ms}; SET LOCAL statement_timeout = {ms}"
    return begin


_PG_LEVELS = frozenset({"READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"})
# An execution option of SQLAlchemy's connection on a transaction already begun on its
# driver connection (Database._unit): its ``begin`` sends nothing.
_BEGUN = "krasip_begun"


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for anything else, in memory or a URI
    (tests' shared in-memory databases)."""
    database = make_url(url).database
    if not url.startswith("sqlite") or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else database


def _private_sqlite_file(url: str) -> None:
    """Create the database file 0600 before SQLite does (it would make it 0644, and gives
    its -wal and -shm files the database file's mode), in a 0700 folder if it makes one.
    Beside them, ``-writers`` is the writers' turn lock (store.writers): empty, 0600."""
    database = _sqlite_file(url)
    if database is None:
        return
    path = Path(database)
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-writers")):
        try:
            if each.stat().st_mode & 0o077:
                os.chmod(each, 0o600)  # an instance made before this rule
        except OSError:
            pass  # absent, or not ours to change


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten with zeros, not left in free space for carving.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(_BEGUN):
            return
        _sqlite_wait(connection.connection, options.get(WAIT))
        if options.get(READ_ONLY):
            hot.run(connection, "BEGIN")  # a snapshot; writers go on meanwhile
            return
        hot.run(connection, SQLITE_WRITE)


# Taking the write lock up front is SQLite's row lock: two processes never interleave one
# reporter's steps, and no transaction fails half-way on upgrade.
SQLITE_WRITE = "BEGIN IMMEDIATE"


def _sqlite_wait(pooled: Any, wait: float | None) -> None:
    """SQLite's busy timeout for the transaction about to begin on ``pooled``."""
    busy = BUSY_TIMEOUT_MS if wait is None else max(1, int(wait * 1000))
    if pooled.info.get("busy_ms", BUSY_TIMEOUT_MS) != busy:
        # On the driver's connection: a pragma that never waits, set most transactions
        # (the webhook's and the sender's waits differ), need not pay SQLAlchemy's
        # statement machinery.
        pooled.driver_connection.execute(f"PRAGMA busy_timeout={busy}")
        pooled.info["busy_ms"] = busy


def _writer_turns(url: str) -> WriterTurns | None:
    database = _sqlite_file(url)
    return None if database is None else WriterTurns(f"{database}-writers")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


_UNIT = "krasip.unit"


class UnitSession(Session):
    """A session that, in a transaction begun on the driver (``Database._unit``), takes
    SQLAlchemy's connection on that driver connection when the ORM first needs one."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        unit: _Unit | None = self.info.get(_UNIT)
        if unit is not None and kwargs.get("bind") is None:
            return unit.connection()
        return super().get_bind(*args, **kwargs)


class _Unit:
    """A write transaction begun and ended on a pooled driver connection; SQLAlchemy's
    connection around it is made on first need and joins it (its ``begin`` sends
    nothing). Taken from and given back to the engine's pool as any connection, so an
    idle PostgreSQL connection is pinged first and a dead one is replaced."""

    def __init__(self, engine: Engine, wait: float | None) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.wait = wait
        try:
            self.pooled = engine.raw_connection()
        except self.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy's own connect raises it: an unreachable database is an
            # OperationalError, which the webhook answers with 503.
            Connection._handle_dbapi_exception_noconnection(exc, self.dialect, engine)
            raise
        self.driver: Any = self.pooled.driver_connection
        self.cursor = self.pooled.cursor()
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._closed = False

    def connection(self) -> Connection:
        if self._closed:
            raise ResourceClosedError("this transaction is over")
        if self._connection is None:
            connection = Connection(self.engine, connection=self.pooled)
            options: dict[str, Any] = {_BEGUN: True}
            if self.wait is not None:
                options[WAIT] = self.wait
            connection.execution_options(**options)
            self._transaction = connection.begin()
            self._connection = connection
        return self._connection

    def begin(self) -> None:
        if self.dialect.name == "postgresql":
            begin = _postgres_begin(self.driver, None, self.wait)
        else:
            _sqlite_wait(self.pooled, self.wait)
            begin = SQLITE_WRITE
        hot.run_driver(self.dialect, self.cursor, begin, self.connection)

    def commit(self) -> None:
        if self._transaction is not None:
            self._transaction.commit()
            return
        try:
            self.driver.commit()
        except self.dialect.loaded_dbapi.Error as exc:
            self.connection()._handle_dbapi_exception(exc, "COMMIT", (), None, None)
            raise  # not reached: the handler raises

    def rollback(self) -> None:
        if self._transaction is not None:
            if self._transaction.is_active:
                self._transaction.rollback()
            return
        try:
            self.driver.rollback()
        except self.dialect.loaded_dbapi.Error:
            # Nothing is kept either way; the pool drops a connection that cannot roll back.
            self.pooled.invalidate()

    def close(self) -> None:
        """Back to the pool (which rolls back whatever is left)."""
        self._closed = True
        try:
            self.cursor.close()
        except self.dialect.loaded_dbapi.Error:
            pass  # the connection is gone: the pool drops it
        if self._connection is not None:
            self._connection.close()
        else:
            self.pooled.close()


class Database:
    """One engine and its session factory, shared by the web app, the worker and the CLI."""

    def __init__(self, url: str, *, audit: AuditKeys | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        # Its sessions carry the audit keys, so every audit entry is linked under the key.
        self.audit = audit or AuditKeys()
        self.sessions = sessionmaker(
            self.engine,
            class_=UnitSession,
            expire_on_commit=False,
            info={audit_log.SESSION_INFO: self.audit},
        )
        self.turns = _writer_turns(url)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}),
            info={audit_log.SESSION_INFO: self.audit},
        )

    @contextmanager
    def transaction(self, *, wait: float | None = None) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on error.

        With ``wait``, a lock not had within that many seconds fails the transaction
        (``OperationalError``) instead of waiting."""
        if self.turns is None:
            with self._unit(wait) as session:
                yield session
            return
        with self._turn(wait) as left, self._unit(left) as session:
            yield session

    @contextmanager
    def _unit(self, wait: float | None) -> Iterator[Session]:
        """A session in a transaction this block begins and ends on the driver's connection.

        ``store.hot``'s statements run on the driver's cursor at once. SQLAlchemy's
        connection is made around the same driver connection only when the ORM is used
        (the console, the worker, the rarer events) or a statement fails; the session then
        joins its transaction (``conservative_savepoint``: its commit only flushes). The
        webhook's events mostly use neither, and SQLAlchemy's connection and transaction
        around each were 7 % of a web worker's CPU (bench/RESULTS.md, thirteenth round).
        Whatever listens for every statement gets them all through SQLAlchemy, as before."""
        if hot.watched(self.engine):
            with self._unit_on_connection(wait) as session:
                yield session
            return
        unit = _Unit(self.engine, wait)
        try:
            unit.begin()
            with self.sessions() as session:
                session.info[_UNIT] = unit
                session.info[hot.DIALECT] = unit.dialect.name
                hot.hold_driver(session, unit.dialect, unit.cursor, unit.connection)
                try:
                    yield session
                    if session.in_transaction():
                        session.commit()  # flushes; the unit's commit is the block's
                except BaseException:
                    session.close()
                    unit.rollback()
                    raise
            unit.commit()
        finally:
            unit.close()

    @contextmanager
    def _unit_on_connection(self, wait: float | None) -> Iterator[Session]:
        """:meth:`_unit` with SQLAlchemy's connection from the start."""
        with self.engine.connect() as connection:
            if wait is not None:
                connection.execution_options(**{WAIT: wait})
            with connection.begin(), self.sessions(bind=connection) as session:
                hot.hold(session, connection)
                yield session
                if session.in_transaction():
                    session.commit()  # flushes; the connection's own commit is the block's

    @contextmanager
    def _turn(self, wait: float | None) -> Iterator[float]:
        """SQLite: this thread's turn among the database's writers (store.writers);
        yields what is left of the wait for SQLite's own lock."""
        assert self.turns is not None
        try:
            # A transaction that bounds its wait is a short one (the webhook's, the
            # sender's): no collection inside it (store.writers).
            with self.turns.turn(
                BUSY_TIMEOUT_MS / 1000 if wait is None else wait, hold_collections=wait is not None
            ) as left:
                yield left
        except TurnTimeout as exc:
            # What SQLite raises for a lock held past the wait: every caller handles one kind.
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", None, locked) from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent read that never holds SQLite's writer lock: for long scans that
        must not stall the webhook. Nothing written in it is kept."""
        with self._readers() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def glance(self) -> Iterator[Session]:
        """For a read of one statement on the webhook's path, without a transaction
        around it (a statement sees one snapshot anyway; on PostgreSQL one round trip, not
        three). ``store.hot``'s statements run on the driver's cursor, as in
        :meth:`_unit`; SQLAlchemy's connection is made only if the ORM is used. Nothing
        written in it is meant to be kept."""
        if hot.watched(self.engine):
            with self._glance_on_connection() as session:
                yield session
            return
        unit = _Unit(self.engine, None)
        try:
            if unit.dialect.name == "sqlite":
                _sqlite_wait(unit.pooled, None)  # a read in WAL mode seldom waits at all
            with self.sessions() as session:
                session.info[_UNIT] = unit
                session.info[hot.DIALECT] = unit.dialect.name
                hot.hold_driver(session, unit.dialect, unit.cursor, unit.connection)
                yield session
        finally:
            unit.close()  # the pool rolls back whatever is left

    @contextmanager
    def _glance_on_connection(self) -> Iterator[Session]:
        """:meth:`glance` through SQLAlchemy's connection, for whoever listens for every
        statement."""
        if not is_postgres(self.engine):
            with self.reading() as session:
                yield session
            return
        with self._each_statement_alone() as session:
            yield session

    @contextmanager
    def one_write(self) -> Iterator[Session]:
        """For a write that is one statement on PostgreSQL (marking deliveries sent): there
        the statement is its own transaction, in one round trip, not three; on SQLite a
        transaction as any other (the writers' turn, ``BEGIN IMMEDIATE``)."""
        if not is_postgres(self.engine):
            with self.transaction() as session:
                yield session
            return
        with self._each_statement_alone() as session:
            yield session
            session.commit()  # flushes what the ORM holds; nothing else is left to commit

    @contextmanager
    def _each_statement_alone(self) -> Iterator[Session]:
        """PostgreSQL: a session whose every statement is its own transaction."""
        with (
            self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
            self.sessions(bind=connection) as session,
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.turns is not None:
            self.turns.close()
