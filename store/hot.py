"""The statements every webhook event runs, built once per dialect.

A statement built anew for each call is compiled from its cache only after SQLAlchemy has
walked it to compute the cache key; one built once keeps its key, and the webhook runs
these on every event (`python -m bench.webhook_cost` shows the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import Conversation, OutboxMessage, ProcessedEvent, StaffLineLink


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Statements:
    claim_event: Executable  # b_event_id, b_now
    lock_conversation: Executable  # b_key, b_now
    save_conversation: Executable  # b_key, b_state, b_now
    drop_conversation: Executable  # b_key
    add_outbox: Executable  # the outbox row's columns
    mark_sent: Executable  # b_ids, b_now
    staff_for_line: Executable  # b_line_key


@cache
def _build(dialect: str) -> Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    events, conversations = table(ProcessedEvent), table(Conversation)
    outbox, links = table(OutboxMessage), table(StaffLineLink)
    upsert = insert(conversations).values(
        reporter_key=bindparam("b_key"), state_ct=None, updated_at=bindparam("b_now")
    )
    return Statements(
        claim_event=insert(events)
        .values(webhook_event_id=bindparam("b_event_id"), received_at=bindparam("b_now"))
        .on_conflict_do_nothing(index_elements=["webhook_event_id"])
        .returning(events.c.webhook_event_id),
        # Updating the row it may have just inserted takes the row lock on PostgreSQL.
        lock_conversation=upsert.on_conflict_do_update(
            index_elements=["reporter_key"],
            set_={"reporter_key": upsert.excluded.reporter_key},
        ).returning(conversations.c.state_ct),
        save_conversation=update(conversations)
        .where(conversations.c.reporter_key == bindparam("b_key"))
        .values(state_ct=bindparam("b_state"), updated_at=bindparam("b_now")),
        drop_conversation=delete(conversations).where(
            conversations.c.reporter_key == bindparam("b_key")
        ),
        add_outbox=outbox.insert().returning(outbox.c.id),
        mark_sent=update(outbox)
        .where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
        .values(
            state="sent",
            sent_at=bindparam("b_now"),
            locked_until=None,
            to_ct=None,
            payload_ct=None,
            reply_token=None,
            last_error=None,
        ),
        staff_for_line=select(links.c.staff_id).where(links.c.line_key == bindparam("b_line_key")),
    )


def statements(session: Session) -> Statements:
    return _build(session.get_bind().dialect.name)
