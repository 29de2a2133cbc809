"""The durable outbox: rows written with the change that causes them, sent after commit.

A row is claimed by one sender at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on
SQLite the writer lock taken by ``BEGIN IMMEDIATE`` serialises claims), held while its
sender's heartbeat is alive (or, for rows claimed without a sender, under a lease), and
either marked sent — its destination and messages wiped — or rescheduled with
exponential backoff and jitter, until it becomes a dead letter.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from handlers.messages import wire_json
from store import hot, vault
from store.crypto import CryptoError, Keyring, bind, row_decrypt, row_encrypt
from store.models import OutboxMessage, OutboxSender, VaultKey
from store.repo import SealedState

OUTBOX_TO = "outbox.to"
OUTBOX_PAYLOAD = "outbox.payload"


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row, decrypted, ready for the LINE gateway."""

    id: int
    kind: str
    purpose: str
    reply_token: str | None
    reply_expires_at: datetime | None
    to: list[str]
    # The messages as the gateway sends them (``handlers.messages.wire_json``), the bytes
    # sealed in the row: serialised once, when queued, not again at each send.
    messages: bytes
    retry_key: str
    attempts: int

    @property
    def empty(self) -> bool:
        return self.messages in (b"", b"[]")


def enqueue(
    session: Session,
    keys: Keyring,
    *,
    kind: str,
    to: list[str],
    messages: list[dict[str, Any]],
    now: datetime,
    purpose: str = "reply",
    reply_token: str | None = None,
    reply_ttl: timedelta = timedelta(seconds=50),
    claim_lease: timedelta | None = None,
    claimer: str | None = None,
    state: SealedState | None = None,
) -> Delivery:
    """Add a message to the outbox in the caller's transaction; with ``state`` (see
    :func:`store.repo.save_conversation`), write that conversation state in the same
    statement.

    With ``claim_lease`` the row is claimed at once for the caller, who will send it right
    after commit from the returned :class:`Delivery` (no second read, no decryption); if
    that process dies, a worker sends it instead: as soon as the heartbeat of ``claimer``
    (see :func:`heartbeat`) stops, or when the lease runs out.
    """
    if kind not in ("reply", "push", "multicast"):
        raise ValueError(f"unknown outbox kind {kind!r}")
    if kind == "reply" and not reply_token:
        raise ValueError("a reply needs a reply token")
    expires = now + reply_ttl if reply_token else None
    # The row's reference (associated data) and the retry key LINE sees are different
    # values: a delivered row keeps nothing LINE could name.
    row_ref, retry_key = str(uuid.uuid4()), str(uuid.uuid4())
    attempts = 1 if claim_lease else 0
    statements = hot.statements(session)
    # The row's own key: destroyed at delivery, so no copy of the row names its recipient.
    key = vault.unstored_key(keys)
    key_id, secret = key.id, key.secret
    payload = wire_json(messages)
    address = {
        "to": to,
        "reply_token": reply_token,
        "reply_expires_at": expires.isoformat() if expires else None,
        "retry_key": retry_key,
    }
    values = {
        "kind": kind,
        "purpose": purpose,
        "key_id": key_id,
        "to_ct": row_encrypt(secret, wire_json(address), bind(OUTBOX_TO, row_ref)),
        "payload_ct": row_encrypt(secret, payload, bind(OUTBOX_PAYLOAD, row_ref)),
        "retry_key": row_ref,
        "state": "sending" if claim_lease else "pending",
        "attempts": attempts,
        # Kept to the minute: the row must not date the reporter's message to the second.
        "locked_until": _minute(now + claim_lease, up=True) if claim_lease else None,
        "claimed_by": claimer if claim_lease else None,
        "next_attempt_at": _minute(now),
        "created_at": now,
    }
    if statements.add_outbox_keyed is not None:
        # PostgreSQL: the key and the row (and the step's state) in one round trip.
        values |= {"k_id": key.id, "k_wrapped": key.wrapped}
        if state is None:
            row_id = hot.execute(session, statements.add_outbox_keyed, values).scalar_one()
        else:
            assert statements.add_outbox_saving is not None
            saving = statements.add_outbox_saving
            row_id = hot.execute(session, saving, values | state.params).one()[0]
    else:
        assert state is None, "SQLite writes a state where it is saved"
        hot.execute(session, statements.add_vault_key, {"id": key.id, "wrapped": key.wrapped})
        row_id = hot.execute(session, statements.add_outbox, values).scalar_one()
    return Delivery(
        id=row_id,
        kind=kind,
        purpose=purpose,
        reply_token=reply_token,
        reply_expires_at=expires,
        to=list(to),
        messages=payload,
        retry_key=retry_key,
        attempts=attempts,
    )


def _minute(at: datetime, *, up: bool = False) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor + timedelta(minutes=1) if up and floor != at else floor


class Unreadable(Exception):
    """An outbox row whose key is gone (a database crash) or that was moved: never sent."""


def _open(row: OutboxMessage, keys: Keyring, wrapped: bytes | None) -> tuple[dict[str, Any], bytes]:
    if wrapped is None or row.key_id is None or row.to_ct is None or row.payload_ct is None:
        raise Unreadable("the key of this message was destroyed")
    try:
        secret = vault.unwrap(keys, row.key_id, wrapped)
        address = json.loads(row_decrypt(secret, row.to_ct, bind(OUTBOX_TO, row.retry_key)))
        # Sealed as the gateway sends them: sent as they are.
        messages = row_decrypt(secret, row.payload_ct, bind(OUTBOX_PAYLOAD, row.retry_key))
    except CryptoError as exc:
        raise Unreadable("this message does not open here") from exc
    return address, messages


def claim(
    session: Session,
    keys: Keyring,
    now: datetime,
    *,
    ids: list[int] | None = None,
    limit: int = 50,
    lease: timedelta = timedelta(seconds=60),
    claimer: str | None = None,
) -> list[Delivery]:
    """Claim due rows (or just ``ids``) for ``claimer`` (a live sender) under a lease.

    A row another sender holds is due again once its lease ran out or that sender's
    heartbeat stopped (the process died or stopped without recording it)."""
    alive = exists().where(
        OutboxSender.id == OutboxMessage.claimed_by, OutboxSender.alive_tick >= tick()
    )
    orphaned = OutboxMessage.claimed_by.is_not(None) & ~alive
    due = ((OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.state == "sending") & ((OutboxMessage.locked_until < now) | orphaned)
    )
    query = (
        select(OutboxMessage, VaultKey.wrapped)
        .outerjoin(VaultKey, VaultKey.id == OutboxMessage.key_id)
        .where(due)
    )
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    query = query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    rows = session.execute(query.with_for_update(skip_locked=True, of=OutboxMessage)).all()
    deliveries = []
    for row, wrapped in rows:
        try:
            address, messages = _open(row, keys, wrapped)
        except Unreadable as exc:
            row.state, row.locked_until, row.last_error = "dead", None, str(exc)
            continue
        row.state = "sending"
        row.locked_until = now + lease
        row.claimed_by = claimer
        row.attempts += 1
        reply_token = address.get("reply_token") if row.kind == "reply" else None
        expires = address.get("reply_expires_at")
        deliveries.append(
            Delivery(
                id=row.id,
                kind=row.kind,
                purpose=row.purpose,
                reply_token=reply_token,
                reply_expires_at=datetime.fromisoformat(expires) if expires else None,
                to=list(address.get("to") or []),
                messages=messages,
                retry_key=str(address.get("retry_key") or row.retry_key),
                attempts=row.attempts,
            )
        )
    return deliveries


def mark_sent(session: Session, row_ids: list[int], now: datetime) -> None:
    """Delivered: whoever delivered them, the rows are done; their keys are destroyed, so
    no copy of them names a recipient or carries a token. One statement on PostgreSQL
    (``Database.one_write`` runs it outside a transaction)."""
    statements = hot.statements(session)
    if statements.mark_sent_keyed is not None:
        # PostgreSQL: one round trip; the shredder's counter advances per key destroyed.
        hot.execute(session, statements.mark_sent_keyed, {"b_ids": row_ids, "b_now": now})
        return
    hot.execute(session, statements.destroy_sent_keys, {"b_ids": row_ids})
    hot.execute(session, statements.mark_sent, {"b_ids": row_ids, "b_now": now})


def mark_failed(
    session: Session,
    row_id: int,
    now: datetime,
    *,
    error: str,
    attempts: int,
    max_attempts: int,
    claimed_attempt: int | None = None,
    retry_after: float | None = None,
    base_delay: float = 2.0,
    max_delay: float = 600.0,
) -> str:
    """Reschedule with exponential backoff and jitter, or give up; returns the new state.

    Only the sender still holding the claim (``claimed_attempt``) may do this: after a lease
    ran out another sender owns the row, and may already have delivered it.
    """
    owned = (OutboxMessage.id == row_id) & (OutboxMessage.state == "sending")
    if claimed_attempt is not None:
        owned = owned & (OutboxMessage.attempts == claimed_attempt)
    if attempts >= max_attempts:
        result = session.execute(
            update(OutboxMessage)
            .where(owned)
            .values(state="dead", locked_until=None, claimed_by=None, last_error=error[:200])
        )
        return "dead" if result.rowcount else "lost claim"  # type: ignore[attr-defined]
    delay = min(max_delay, base_delay * 2 ** (attempts - 1))
    delay = random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not secrecy
    if retry_after is not None:
        delay = max(delay, retry_after)
    result = session.execute(
        update(OutboxMessage)
        .where(owned)
        .values(
            state="pending",
            locked_until=None,
            claimed_by=None,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error[:200],
        )
    )
    return "pending" if result.rowcount else "lost claim"  # type: ignore[attr-defined]


TICK_SECONDS = 5


def tick(ahead: timedelta = timedelta(0)) -> int:
    """Real time in ticks of ``TICK_SECONDS``. Process liveness is judged on real time,
    never on the register's clock: that clock can be set (tests, a replayed day), and a
    jump must not make every live sender look dead and its rows sent twice."""
    return int((time.time() + ahead.total_seconds()) // TICK_SECONDS)


def heartbeat(session: Session, sender: str, ttl: timedelta) -> None:
    """Register or renew a sending process: its claims hold for ``ttl`` of real time."""
    alive = tick(ttl)
    # One upsert, run at once: the heartbeat thread's first beat may race the transaction
    # that first names the sender, and an update-then-insert let both insert (PostgreSQL).
    insert = postgresql.insert if hot.dialect_name(session) == "postgresql" else sqlite.insert
    statement = insert(OutboxSender).values(id=sender, alive_tick=alive)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[OutboxSender.id], set_={"alive_tick": statement.excluded.alive_tick}
        )
    )


def retire(session: Session, sender: str) -> None:
    """A sender that stops: whatever it still holds is taken over at once."""
    session.execute(delete(OutboxSender).where(OutboxSender.id == sender))


def prune_senders(session: Session, stopped_for: timedelta) -> int:
    """Forget senders whose heartbeat stopped ``stopped_for`` ago (their rows stay due)."""
    before = tick(-stopped_for)
    result = session.execute(delete(OutboxSender).where(OutboxSender.alive_tick < before))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def switch_to_push(session: Session, row_id: int) -> None:
    """An expired or used reply token: deliver the same messages by push instead."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.state == "sending")
        .values(kind="push")
    )


def retry_dead(session: Session, now: datetime, row_id: int | None = None) -> int:
    """Put dead letters (all, or one) back in the queue."""
    stmt = update(OutboxMessage).where(OutboxMessage.state == "dead")
    if row_id is not None:
        stmt = stmt.where(OutboxMessage.id == row_id)
    result = session.execute(stmt.values(state="pending", attempts=0, next_attempt_at=now))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    return {state: n for state, n in rows}


def listing(session: Session, state: str | None = None, limit: int = 50) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(session.scalars(query))


def expire_dead(session: Session, before: datetime) -> int:
    """Dead letters older than ``before`` are given up for good: their keys destroyed, so
    an undeliverable receipt does not keep a recipient and a token for ever."""
    old = (OutboxMessage.state == "dead") & (OutboxMessage.created_at < before)
    old = old & OutboxMessage.key_id.is_not(None)
    ids = list(session.scalars(select(OutboxMessage.id).where(old)))
    if not ids:
        return 0
    vault.destroy(
        session, session.scalars(select(OutboxMessage.key_id).where(OutboxMessage.id.in_(ids)))
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(key_id=None, to_ct=None, payload_ct=None, last_error="expired: never delivered")
    )
    return len(ids)


def prune_sent(session: Session, before: datetime) -> int:
    """Delete delivered rows older than ``before`` (they hold no content already)."""
    result = session.execute(
        delete(OutboxMessage).where(OutboxMessage.state == "sent", OutboxMessage.sent_at < before)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
