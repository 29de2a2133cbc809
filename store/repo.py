"""Repositories: every read and write of the case register goes through these functions."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store import hot
from store.crypto import Keyring
from store.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseCounter,
    CaseEvent,
    CaseMessage,
    Conversation,
    LookupFailure,
    ProcessedEvent,
)

# ciphertext purposes: bound as AEAD associated data so columns cannot be swapped
CONVERSATION = "conversation.state"
CASE_CONTENT = "case.content"
CASE_NOTE = "case.public_note"
CASE_NOTIFY = "case.notify"
MESSAGE_BODY = "case_message.body"


class StoreError(Exception):
    """Something the caller asked of the register cannot be done."""


class CaseNotFound(StoreError):
    pass


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# --- webhook events ------------------------------------------------------------------


def claim_event(session: Session, webhook_event_id: str, now: datetime) -> bool:
    """Record an event as processed; False when it was already (a redelivery or duplicate).

    On PostgreSQL a concurrent duplicate waits here for the first transaction and then
    sees the conflict, so each event is acted on exactly once.
    """
    stmt = hot.statements(session).claim_event
    return session.execute(stmt, {"b_event_id": webhook_event_id, "b_now": now}).first() is not None


def prune_events(session: Session, before: datetime) -> int:
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < before))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


# --- conversations -------------------------------------------------------------------


def lock_conversation(
    session: Session, keys: Keyring, reporter_key: str, now: datetime
) -> dict[str, Any] | None:
    """Lock the reporter's conversation row for this transaction and return its state.

    One upsert both creates a missing row and takes the row lock (PostgreSQL locks a row
    it updates; SQLite's writer lock is already held), so two workers never interleave
    one reporter's steps.
    """
    state_ct = session.execute(
        hot.statements(session).lock_conversation, {"b_key": reporter_key, "b_now": now}
    ).scalar_one()
    if state_ct is None:
        return None
    state = keys.data.decrypt_json(state_ct, CONVERSATION)
    return state if isinstance(state, dict) else None


def save_conversation(
    session: Session, keys: Keyring, reporter_key: str, state: dict[str, Any] | None, now: datetime
) -> None:
    """Store the new state; a finished conversation leaves no row behind."""
    if state is None:
        session.execute(hot.statements(session).drop_conversation, {"b_key": reporter_key})
        return
    session.execute(
        hot.statements(session).save_conversation,
        {
            "b_key": reporter_key,
            "b_state": keys.data.encrypt_json(state, CONVERSATION),
            "b_now": now,
        },
    )


def delete_stale_conversations(
    session: Session, keys: Keyring, before: datetime
) -> list[tuple[str, dict[str, Any] | None]]:
    """Delete conversations untouched since ``before``; returns their keys and last states."""
    rows = session.execute(
        select(Conversation.reporter_key, Conversation.state_ct)
        .where(Conversation.updated_at < before)
        .with_for_update(skip_locked=True)
    ).all()
    stale = []
    for reporter_key, state_ct in rows:
        state = keys.data.decrypt_json(state_ct, CONVERSATION) if state_ct else None
        stale.append((reporter_key, state if isinstance(state, dict) else None))
    if rows:
        session.execute(
            delete(Conversation).where(Conversation.reporter_key.in_([r[0] for r in rows]))
        )
    return stale


# --- cases ---------------------------------------------------------------------------


def next_case_number(session: Session, year: int) -> str:
    """Give out the next public case number for ``year``, e.g. ``KRS-2026-000123``."""
    session.execute(
        _insert(session)(CaseCounter)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    last = session.execute(
        update(CaseCounter)
        .where(CaseCounter.year == year)
        .values(last=CaseCounter.last + 1)
        .returning(CaseCounter.last)
    ).scalar_one()
    return f"KRS-{year}-{last:06d}"


@dataclass(frozen=True)
class NewCase:
    case_id: int
    number: str


def create_case(
    session: Session,
    keys: Keyring,
    *,
    now: datetime,
    token: str,
    channel: str,
    lang: str,
    category: str,
    district_code: str | None,
    anonymous: bool,
    meets_anonymous_bar: bool,
    content: dict[str, Any],
    identity: dict[str, str] | None,
    notify_user_id: str | None,
    draft_key: str | None = None,
) -> NewCase:
    """Create a case: content encrypted, identity sealed, token kept only as an HMAC."""
    number = next_case_number(session, now.year)
    case = Case(
        number=number,
        channel=channel,
        lang=lang,
        category=category,
        district_code=district_code,
        anonymous=anonymous,
        meets_anonymous_bar=meets_anonymous_bar,
        status="received",
        filed_at=now,
        updated_at=now,
        content_ct=keys.data.encrypt_json(content, CASE_CONTENT),
        token_hash=keys.token_hash(token),
        identity_sealed=keys.identity.seal(identity) if identity else None,
        identity_key_fingerprint=keys.identity.fingerprint() if identity else None,
        notify_ct=keys.data.encrypt_text(notify_user_id, CASE_NOTIFY) if notify_user_id else None,
        notify_key=keys.notify_key(notify_user_id) if notify_user_id else None,
    )
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, kind="filed", at=now, status="received"))
    if draft_key:
        session.execute(
            update(Attachment)
            .where(Attachment.draft_key == draft_key, Attachment.case_id.is_(None))
            .values(case_id=case.id, draft_key=None)
        )
    return NewCase(case.id, number)


def case_content(session: Session, keys: Keyring, case_id: int) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    content = keys.data.decrypt_json(case.content_ct, CASE_CONTENT)
    assert isinstance(content, dict)
    return content


def find_case_by_token(session: Session, keys: Keyring, token: str) -> Case | None:
    return session.scalars(select(Case).where(Case.token_hash == keys.token_hash(token))).first()


def public_note(keys: Keyring, case: Case) -> str | None:
    return keys.data.decrypt_text(case.public_note_ct, CASE_NOTE) if case.public_note_ct else None


def unread_staff_messages(
    session: Session, keys: Keyring, case_id: int
) -> list[tuple[int, datetime, str]]:
    rows = session.scalars(
        select(CaseMessage)
        .where(
            CaseMessage.case_id == case_id,
            CaseMessage.direction == "staff",
            CaseMessage.read_at.is_(None),
        )
        .order_by(CaseMessage.id)
    )
    return [(m.id, m.created_at, keys.data.decrypt_text(m.body_ct, MESSAGE_BODY)) for m in rows]


def add_message(
    session: Session, keys: Keyring, case_id: int, direction: str, text: str, now: datetime
) -> int:
    if direction not in ("reporter", "staff"):
        raise StoreError(f"unknown message direction {direction!r}")
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    message = CaseMessage(
        case_id=case_id,
        direction=direction,
        body_ct=keys.data.encrypt_text(text, MESSAGE_BODY),
        created_at=now,
    )
    session.add(message)
    case.updated_at = now
    session.flush()
    return message.id


def mark_messages_read(session: Session, case_id: int, ids: tuple[int, ...], now: datetime) -> None:
    if ids:
        session.execute(
            update(CaseMessage)
            .where(CaseMessage.case_id == case_id, CaseMessage.id.in_(ids))
            .values(read_at=now)
        )


def set_status(
    session: Session,
    keys: Keyring,
    case_id: int,
    status: str,
    now: datetime,
    *,
    outcome: str | None = None,
    public_note: str | None = None,
    actor: str | None = None,
) -> Case:
    """Move a case along the process, optionally with a note the reporter reads by token."""
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise CaseNotFound(case_id)
    if status == "closed" and not outcome:
        raise StoreError("a closed case needs an outcome")
    case.status = status
    case.outcome = outcome if status == "closed" else None
    case.updated_at = now
    if public_note is not None:
        case.public_note_ct = (
            keys.data.encrypt_text(public_note, CASE_NOTE) if public_note else None
        )
    session.add(
        CaseEvent(
            case_id=case.id, kind="status", at=now, status=status, outcome=case.outcome, actor=actor
        )
    )
    return case


def notify_address(keys: Keyring, case: Case) -> str | None:
    return keys.data.decrypt_text(case.notify_ct, CASE_NOTIFY) if case.notify_ct else None


def stop_updates(session: Session, keys: Keyring, line_user_id: str) -> int:
    """Forget this LINE address on every case that holds it; returns how many."""
    result = session.execute(
        update(Case)
        .where(Case.notify_key == keys.notify_key(line_user_id))
        .values(notify_ct=None, notify_key=None)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


# --- wrong tokens (global ceiling) ---------------------------------------------------


def record_lookup_failure(session: Session, now: datetime) -> None:
    session.add(LookupFailure(at=now))


def lookup_failures_since(session: Session, since: datetime) -> int:
    return session.scalar(select(func.count()).where(LookupFailure.at >= since)) or 0


def prune_lookup_failures(session: Session, before: datetime) -> None:
    session.execute(delete(LookupFailure).where(LookupFailure.at < before))


# --- tokens --------------------------------------------------------------------------


def new_token_bytes() -> bytes:
    """80 random bits for a tracking token."""
    return secrets.token_bytes(10)


# --- audit ---------------------------------------------------------------------------

GENESIS = "0" * 64


def _entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, case_id: int | None, detail: str
) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(), actor, action, case_id, detail], ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    case_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    """Append an entry to the hash chain. Callers must not put secrets in ``detail``."""
    last = session.execute(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    prev = last.hash if last else GENESIS
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        case_id=case_id,
        detail=detail,
        prev_hash=prev,
        hash=_entry_hash(prev, now, actor, action, case_id, detail),
    )
    session.add(entry)
    session.flush()
    return entry


def verify_audit(session: Session) -> list[str]:
    """Walk the chain; returns the problems found (empty when intact)."""
    problems = []
    prev = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.id}: does not follow the entry before it")
        expected = _entry_hash(
            entry.prev_hash, entry.at, entry.actor, entry.action, entry.case_id, entry.detail
        )
        if entry.hash != expected:
            problems.append(f"entry {entry.id}: its content was changed")
        prev = entry.hash
    return problems
