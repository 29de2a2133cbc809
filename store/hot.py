"""The statements every webhook event runs, built once per dialect.

A statement built anew for each call is compiled from its cache only after SQLAlchemy has
walked it to compute the cache key; one built once keeps its key, and the webhook runs
these on every event (`python -m bench.webhook_cost` shows the difference).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Delete,
    Dialect,
    Engine,
    Executable,
    Integer,
    LargeBinary,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningDelete

from store.models import Conversation, OutboxMessage, ProcessedEvent, StaffLineLink, VaultKey

# A statement's execution option: PostgreSQL plans it for each execution's values instead of
# keeping one plan for the connection's life. For a batch by a list of ids on a table that
# grows, a plan kept from while the table was small scans all of it every time
# (auto_explain: 1.2-1.3 ms per batch of sent marks once the outbox held 2,000-3,000 rows).
PLAN_EACH_TIME = "krasip_plan_each_time"


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Statements:
    # b_event_key, b_day, b_before, b_line_key; returns the staff id linked to b_line_key
    claim_event: Executable
    # PostgreSQL only: claim_event, and lock_conversation (b_key, b_expires) when the sender
    # is not staff, in one round trip; returns the staff id, then lock_conversation's row
    # (None when it was not locked). No row: the event was claimed before.
    claim_and_lock: Executable | None
    # b_key, b_expires; returns key_id, state_ct, wrapped, expires_at
    lock_conversation: Executable
    save_conversation: Executable  # b_key, b_key_id, b_state, b_expires
    # save_conversation for a row whose expiry stays: b_key, b_key_id, b_state
    save_conversation_kept: Executable
    drop_conversation: Executable  # b_key
    add_outbox: Executable  # the outbox row's columns
    # PostgreSQL only (None on SQLite, which has no data-modifying WITH): one round trip
    # for what takes two or three statements. k_id, k_wrapped: the new row key; b_old:
    # the key destroyed (may be None); the row's own parameters as above.
    add_outbox_keyed: Executable | None
    save_conversation_keyed: Executable | None
    # PostgreSQL only: save_conversation_keyed's work in add_outbox_keyed, for the reply of
    # the step that saves the state (its new key s_id, s_wrapped); returns the row's id.
    add_outbox_saving: Executable | None
    add_vault_key: Executable  # id, wrapped
    destroy_sent_keys: Executable  # b_ids
    mark_sent: Executable  # b_ids, b_now
    # PostgreSQL only: mark_sent with destroy_sent_keys; returns the count of keys destroyed
    mark_sent_keyed: Executable | None
    staff_for_line: Executable  # b_line_key
    vault_key: Executable  # b_id
    destroy_keys: Executable  # b_ids (PostgreSQL: returns one counter value per key)
    destroy_key: Executable  # b_id (PostgreSQL: returns the counter value)


def _counted(dialect: str, destroy: Delete) -> Delete | ReturningDelete[Any]:
    """A deletion of vault keys; on PostgreSQL each key destroyed advances the shredder's
    counter (see store.vault), so its next pass rewrites the vault. The caller reads the
    returned rows."""
    return (
        destroy.returning(func.nextval("vault_destroyed")) if dialect == "postgresql" else destroy
    )


class _IdList(TypeDecorator[list[int]]):
    """Row ids as one JSON parameter, for SQLite's ``json_each``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return json.dumps([int(each) for each in value])


def _among_ids(dialect: str, column: Any) -> Any:
    """``column`` is one of the ids in ``b_ids`` (a list), bound as one parameter rather
    than a list expanded into ``IN`` at each execution: the statement then goes to the
    driver as compiled once."""
    if dialect == "postgresql":
        return column == any_(bindparam("b_ids", type_=postgresql.ARRAY(BigInteger)))
    ids = func.json_each(bindparam("b_ids", type_=_IdList())).table_valued("value")
    return column.in_(select(ids.c.value))


@cache
def _build(dialect: str) -> Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    events, conversations = table(ProcessedEvent), table(Conversation)
    outbox, links, keys = table(OutboxMessage), table(StaffLineLink), table(VaultKey)
    upsert = insert(conversations).values(
        reporter_key=bindparam("b_key"),
        key_id=None,
        state_ct=None,
        expires_at=bindparam("b_expires"),
    )
    destroy_keys = _counted(dialect, delete(keys).where(_among_ids(dialect, keys.c.id)))
    destroy_sent_keys = _counted(
        dialect,
        delete(keys).where(
            keys.c.id.in_(select(outbox.c.key_id).where(_among_ids(dialect, outbox.c.id)))
        ),
    )
    mark_sent = (
        update(outbox)
        .where(_among_ids(dialect, outbox.c.id))
        .values(
            state="sent",
            sent_at=bindparam("b_now"),
            locked_until=None,
            claimed_by=None,
            key_id=None,
            to_ct=None,
            payload_ct=None,
            last_error=None,
        )
    )
    # Not yet seen today, nor yesterday under yesterday's key (a redelivery at midnight).
    day = bindparam("b_day", type_=Integer)
    new_event = select(bindparam("b_event_key", type_=String), day).where(
        ~exists().where(
            events.c.day == day - 1, events.c.event_key == bindparam("b_before", type_=String)
        )
    )
    # An indexed column set, even to its own value, rewrites its index entry on SQLite:
    # a save that keeps the expiry leaves it out.
    save_conversation_kept = (
        update(conversations)
        .where(conversations.c.reporter_key == bindparam("b_key"))
        .values(
            key_id=bindparam("b_key_id", type_=BigInteger),
            state_ct=bindparam("b_state", type_=LargeBinary),
        )
    )
    save_conversation = save_conversation_kept.values(expires_at=bindparam("b_expires"))
    add_outbox = outbox.insert().returning(outbox.c.id)
    postgres = dialect == "postgresql"
    new_key = keys.insert().values(_key_values("k_id", "k_wrapped")).cte("new_key")
    # PostgreSQL's counted destruction (_counted), as a part of a statement.
    gone = (
        delete(keys)
        .where(keys.c.id == bindparam("b_old", type_=BigInteger))
        .returning(func.nextval("vault_destroyed"))
        .cte("gone")
    )
    # The staff check every event makes rides on the claim: one statement, not two.
    claim_event = (
        insert(events)
        .from_select(["event_key", "day"], new_event)
        .on_conflict_do_nothing(index_elements=["day", "event_key"])
        .returning(
            events.c.event_key,
            select(links.c.staff_id)
            .where(links.c.line_key == bindparam("b_line_key", type_=String))
            .scalar_subquery()
            .label("staff_id"),
        )
    )
    # Updating the row it may have just inserted takes the row lock on PostgreSQL. The
    # state's key comes back with it.
    lock_returning = (
        conversations.c.key_id,
        conversations.c.state_ct,
        # Written out: SQLAlchemy does not correlate a subquery in RETURNING.
        select(keys.c.wrapped)
        .where(keys.c.id == literal_column("conversation.key_id"))
        .scalar_subquery()
        .label("wrapped"),
        conversations.c.expires_at,
    )
    lock_conversation = upsert.on_conflict_do_update(
        index_elements=["reporter_key"], set_=_unchanged(conversations)
    ).returning(*lock_returning)
    return Statements(
        claim_event=claim_event,
        claim_and_lock=_claim_and_lock(claim_event, lock_returning) if postgres else None,
        lock_conversation=lock_conversation,
        save_conversation=save_conversation,
        save_conversation_kept=save_conversation_kept,
        drop_conversation=delete(conversations).where(
            conversations.c.reporter_key == bindparam("b_key")
        ),
        add_outbox=add_outbox,
        add_vault_key=keys.insert(),
        add_outbox_keyed=add_outbox.add_cte(new_key) if postgres else None,
        save_conversation_keyed=(
            save_conversation.add_cte(new_key)
            .add_cte(gone)
            .returning(select(func.count()).select_from(gone).scalar_subquery())
            if postgres
            else None
        ),
        add_outbox_saving=(
            add_outbox.add_cte(
                keys.insert()
                .values([_key_values("k_id", "k_wrapped"), _key_values("s_id", "s_wrapped")])
                .cte("new_keys")
            )
            .add_cte(gone)
            .add_cte(
                save_conversation.values(key_id=bindparam("s_id", type_=BigInteger)).cte("saved")
            )
            .returning(select(func.count()).select_from(gone).scalar_subquery())
            if postgres
            else None
        ),
        destroy_sent_keys=destroy_sent_keys,
        mark_sent=mark_sent,
        mark_sent_keyed=(
            # One statement sees one snapshot: the keys are found before the rows drop them.
            mark_sent.add_cte(sent_keys := destroy_sent_keys.cte("gone_sent"))
            .returning(select(func.count()).select_from(sent_keys).scalar_subquery())
            .execution_options(**{PLAN_EACH_TIME: True})
            if postgres
            else None
        ),
        staff_for_line=select(links.c.staff_id).where(links.c.line_key == bindparam("b_line_key")),
        vault_key=select(keys.c.wrapped).where(keys.c.id == bindparam("b_id", type_=BigInteger)),
        destroy_keys=destroy_keys,
        destroy_key=_counted(
            dialect, delete(keys).where(keys.c.id == bindparam("b_id", type_=BigInteger))
        ),
    )


def _key_values(key_id: str, wrapped: str) -> dict[str, Any]:
    """A new vault key's row, from two parameters."""
    return {
        "id": bindparam(key_id, type_=BigInteger),
        "wrapped": bindparam(wrapped, type_=LargeBinary),
    }


def _unchanged(conversations: Any) -> dict[str, Any]:
    """What the lock's upsert sets on a row that exists: a column no index holds, to
    itself. SQLite then writes no page (an indexed column set, even to its own value,
    rewrites its index entry); PostgreSQL still locks the row."""
    return {"key_id": conversations.c.key_id}


def _claim_and_lock(claim_event: Any, lock_returning: tuple[Any, ...]) -> Executable:
    """PostgreSQL: the claim, and the conversation's lock only for an event claimed now
    whose sender is not staff (a data-modifying WITH runs whatever the outer query reads)."""
    conversations = table(Conversation)
    claimed = claim_event.cte("claimed")
    mine = select(
        bindparam("b_key", type_=String),
        null(),
        null(),
        bindparam("b_expires", type_=conversations.c.expires_at.type),
    ).where(claimed.c.staff_id.is_(None))
    upsert = postgresql.insert(conversations).from_select(
        ["reporter_key", "key_id", "state_ct", "expires_at"], mine
    )
    locked = (
        upsert.on_conflict_do_update(
            index_elements=["reporter_key"], set_=_unchanged(conversations)
        )
        .returning(*lock_returning)
        .cte("locked")
    )
    return select(
        claimed.c.staff_id,
        locked.c.key_id,
        locked.c.state_ct,
        locked.c.wrapped,
        locked.c.expires_at,
    ).select_from(claimed.outerjoin(locked, true()))


def statements(session: Session) -> Statements:
    return _build(dialect_name(session))


# Where a session of a transaction begun on the driver (store.db) keeps its dialect's name:
# asking the session for its bind would set SQLAlchemy's connection going.
DIALECT = "krasip.dialect"


def dialect_name(session: Session) -> str:
    name = session.info.get(DIALECT)
    return name if name is not None else session.get_bind().dialect.name


_HELD = "krasip.hot.connection"


def execute(session: Session, statement: Executable, params: dict[str, Any]) -> Result:
    """Run one of these statements on the session's connection, bypassing the ORM's
    execution path (none of them is ORM-enabled, so nothing is flushed either way). The
    connection and a driver cursor are taken once per transaction.

    A statement SQLAlchemy need not work anything out for at run time goes straight to
    the driver's cursor, compiled once (:class:`_Driver`): SQLAlchemy's execution path
    cost more than the driver itself, and these run four (PostgreSQL) to eight (SQLite)
    times per event (bench/RESULTS.md, sixth and seventh rounds). Its errors still go
    through SQLAlchemy, which wraps them and drops a connection found dead. Inside
    ``begin_nested()``, the savepoint begins when the caller asks the session for its
    connection: these never do."""
    held: _Held | None = session.info.get(_HELD)
    if held is None or held.transaction is not session.get_transaction():
        held = hold(session, session.connection())
    driver = _driver(held.dialect, statement, tuple(params))
    if driver is None or held.cursor is None:
        result = held.connection().execute(statement, params)
        found = [tuple(row) for row in result] if result.returns_rows else []
        return Result(found, result.rowcount)
    try:
        rows, count = _on_driver(
            held, held.cursor, driver.sql, driver.arguments(params), driver.prepare
        )
    except BaseException:
        del session.info[_HELD]  # SQLAlchemy's handler may have closed the cursor
        raise
    return Result(driver.rows(rows), count)


def hold(session: Session, connection: Connection) -> _Held:
    """Run the statements of the session's present transaction on ``connection``, with one
    cursor for them all (none while someone listens). For a session that has not begun
    one, joined to ``connection``'s (store.db): until the ORM begins one."""
    cursor = None if _watched(connection) else connection.connection.cursor()
    held = session.info[_HELD] = _Held(
        session.get_transaction(), connection.dialect, cursor, lambda: connection
    )
    return held


def hold_driver(
    session: Session, dialect: Dialect, cursor: Any, connection: Callable[[], Connection]
) -> None:
    """Run the statements of a session that has begun no transaction on the driver's
    ``cursor`` (a transaction begun on the driver, store.db); ``connection`` gives
    SQLAlchemy's connection on the same driver connection, made when first needed (for a
    statement SQLAlchemy must work out, or to handle an error)."""
    session.info[_HELD] = _Held(None, dialect, cursor, connection)


@dataclass(frozen=True)
class _Held:
    transaction: Any
    dialect: Dialect
    cursor: Any | None
    connection: Callable[[], Connection]


def run(connection: Connection, sql: str, args: Any = ()) -> None:
    """SQL of our own in the driver's form, on the driver's cursor like the statements
    above: what every transaction begins with (the engine's ``begin`` event, store.db)."""
    if _watched(connection):
        connection.exec_driver_sql(sql, args or None)
        return
    cursor = connection.connection.cursor()
    try:
        _on_driver(_Held(None, connection.dialect, cursor, lambda: connection), cursor, sql, args)
    finally:
        cursor.close()


def run_driver(
    dialect: Dialect, cursor: Any, sql: str, connection: Callable[[], Connection]
) -> None:
    """:func:`run` on a driver cursor, for a transaction begun on the driver (store.db)."""
    _on_driver(_Held(None, dialect, cursor, connection), cursor, sql, ())


def _on_driver(
    held: _Held, cursor: Any, sql: str, args: Any, prepare: bool | None = None
) -> tuple[Sequence[Any], int]:
    try:
        if prepare is None:
            cursor.execute(sql, args)
        else:  # psycopg: False never prepares it on the server, so each run is planned
            cursor.execute(sql, args, prepare=prepare)
        return (cursor.fetchall() if cursor.description else []), cursor.rowcount
    except held.dialect.loaded_dbapi.Error as exc:
        # SQLAlchemy's own handling: its exception, parameters hidden, a dead
        # connection dropped from the pool.
        held.connection()._handle_dbapi_exception(exc, sql, args, cursor, None)
        raise  # not reached: the handler raises


def watched(engine: Engine) -> bool:
    """Someone listens for the engine's every statement (a profile, a trace)."""
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _watched(connection: Connection) -> bool:
    """Someone listens for every statement (a profile, a trace): they all go their way."""
    dispatch = connection.dispatch  # the engine's listeners and the connection's own
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


class Result:
    """What the callers of :func:`execute` read of a result, rows already fetched."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Row]:
        return self._rows

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row:
        if len(self._rows) != 1:
            raise NoResultFound() if not self._rows else MultipleResultsFound()
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Driver:
    """A statement in the driver's own form: its SQL, the order of its parameters, the
    values bound in the statement itself, and the conversions of its types (dates)."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    fixed: dict[str, Any]
    convert: dict[str, Any]
    results: tuple[Any, ...]
    prepare: bool | None  # None: as the driver decides

    def arguments(self, params: dict[str, Any]) -> Any:
        values = {**self.fixed, **params}
        for name, convert in self.convert.items():
            values[name] = convert(values[name])
        if self.positional:
            return tuple(values[name] for name in self.names)
        return values

    def rows(self, rows: Sequence[Any]) -> list[Row]:
        if not any(self.results):
            return [tuple(row) for row in rows]
        return [
            tuple(
                value if f is None else f(value) for f, value in zip(self.results, row, strict=True)
            )
            for row in rows
        ]


# Keyed by the statement itself, not its id: these are built once and live as long.
_drivers: dict[tuple[str, Executable, tuple[str, ...]], _Driver | None] = {}
_drivers_lock = threading.Lock()


def _driver(dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _Driver | None:
    key = (dialect.name, statement, keys)
    found = _drivers.get(key, _MISSING)
    if found is _MISSING:
        found = _compile(dialect, statement, keys)
        with _drivers_lock:
            _drivers[key] = found
    return found  # type: ignore[return-value]


_MISSING = object()


def _compile(dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _Driver | None:
    """None when SQLAlchemy must work something out at each execution: a list expanded
    into an IN, or a column default computed in Python."""
    compiled = cast(Any, statement).compile(dialect=dialect, column_keys=list(keys))
    if (
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
    ):
        return None
    sample = compiled.construct_params(dict.fromkeys(keys))
    if not set(keys) <= set(sample):
        return None  # a parameter renamed in the SQL
    names = tuple(compiled.positiontup) if compiled.positional else tuple(sample)
    convert = {}
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None:
            return None
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            convert[name] = processor
    columns = getattr(statement, "exported_columns", ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    fixed = {name: value for name, value in sample.items() if name not in keys}
    plan_each_time = statement.get_execution_options().get(PLAN_EACH_TIME)
    prepare = False if plan_each_time and dialect.name == "postgresql" else None
    return _Driver(compiled.string, names, compiled.positional, fixed, convert, results, prepare)
