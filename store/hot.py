"""The statements every webhook event runs, built once per dialect.

A statement built anew for each call is compiled from its cache only after SQLAlchemy has
walked it to compute the cache key; one built once keeps its key, and the webhook runs
these on every event (`python -m bench.webhook_cost` shows the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    Delete,
    Executable,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.util.typing import TupleAny

from store.models import Conversation, OutboxMessage, ProcessedEvent, StaffLineLink, VaultKey


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Statements:
    claim_event: Executable  # b_event_key, b_day, b_before
    lock_conversation: Executable  # b_key, b_expires
    save_conversation: Executable  # b_key, b_key_id, b_state, b_expires
    drop_conversation: Executable  # b_key
    add_outbox: Executable  # the outbox row's columns
    add_vault_key: Executable  # id, wrapped
    destroy_sent_keys: Executable  # b_ids
    mark_sent: Executable  # b_ids, b_now
    staff_for_line: Executable  # b_line_key
    vault_key: Executable  # b_id
    destroy_keys: Executable  # b_ids (PostgreSQL: returns one counter value per key)


def _counted(dialect: str, destroy: Delete) -> Executable:
    """A deletion of vault keys; on PostgreSQL each key destroyed advances the shredder's
    counter (see store.vault), so its next pass rewrites the vault. The caller reads the
    returned rows."""
    return (
        destroy.returning(func.nextval("vault_destroyed")) if dialect == "postgresql" else destroy
    )


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
    destroy_keys = _counted(
        dialect, delete(keys).where(keys.c.id.in_(bindparam("b_ids", expanding=True)))
    )
    # Not yet seen today, nor yesterday under yesterday's key (a redelivery at midnight).
    new_event = select(
        bindparam("b_event_key", type_=String), bindparam("b_day", type_=Integer)
    ).where(~exists().where(events.c.event_key == bindparam("b_before", type_=String)))
    return Statements(
        claim_event=insert(events)
        .from_select(["event_key", "day"], new_event)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(events.c.event_key),
        # Updating the row it may have just inserted takes the row lock on PostgreSQL.
        lock_conversation=upsert.on_conflict_do_update(
            index_elements=["reporter_key"],
            set_={"reporter_key": upsert.excluded.reporter_key},
        ).returning(conversations.c.key_id, conversations.c.state_ct),
        save_conversation=update(conversations)
        .where(conversations.c.reporter_key == bindparam("b_key"))
        .values(
            key_id=bindparam("b_key_id", type_=BigInteger),
            state_ct=bindparam("b_state", type_=LargeBinary),
            expires_at=bindparam("b_expires"),
        ),
        drop_conversation=delete(conversations).where(
            conversations.c.reporter_key == bindparam("b_key")
        ),
        add_outbox=outbox.insert().returning(outbox.c.id),
        add_vault_key=keys.insert(),
        destroy_sent_keys=_counted(
            dialect,
            delete(keys).where(
                keys.c.id.in_(
                    select(outbox.c.key_id).where(
                        outbox.c.id.in_(bindparam("b_ids", expanding=True))
                    )
                )
            ),
        ),
        mark_sent=update(outbox)
        .where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
        .values(
            state="sent",
            sent_at=bindparam("b_now"),
            locked_until=None,
            claimed_by=None,
            key_id=None,
            to_ct=None,
            payload_ct=None,
            last_error=None,
        ),
        staff_for_line=select(links.c.staff_id).where(links.c.line_key == bindparam("b_line_key")),
        vault_key=select(keys.c.wrapped).where(keys.c.id == bindparam("b_id", type_=BigInteger)),
        destroy_keys=destroy_keys,
    )


def statements(session: Session) -> Statements:
    return _build(session.get_bind().dialect.name)


_HELD = "krasip.hot.connection"


def execute(
    session: Session, statement: Executable, params: dict[str, Any]
) -> CursorResult[*TupleAny]:
    """Run one of these statements on the session's connection, bypassing the ORM's
    execution path (none of them is ORM-enabled, so nothing is flushed either way): about
    a sixth of each statement's CPU (``python -m bench.micro``). The connection is looked
    up once per transaction."""
    transaction = session.get_transaction()
    held: tuple[Any, Connection] | None = session.info.get(_HELD)
    if held is None or transaction is None or held[0] is not transaction:
        connection = session.connection()
        held = (session.get_transaction(), connection)
        session.info[_HELD] = held
    return held[1].execute(statement, params)
