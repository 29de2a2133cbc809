"""Repositories: every read and write of the case register goes through these functions."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store import audit as audit_log
from store import hot, vault
from store.crypto import (
    CryptoError,
    Keyring,
    LegacySealedIdentity,
    MisplacedCiphertext,
    bind,
    identity_draft_binding,
    is_bound_identity,
    open_in_place,
    row_decrypt,
    row_encrypt,
)
from store.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseCounter,
    CaseEvent,
    CaseMessage,
    Conversation,
    LookupFailure,
    LookupThrottle,
    ProcessedEvent,
    StaffLineLink,
    UpdateLink,
)

log = logging.getLogger(__name__)

# ciphertext purposes: bound as AEAD associated data so columns cannot be swapped
CONVERSATION = "conversation.state"
CASE_CONTENT = "case.content"
CASE_NOTE = "case.public_note"
UPDATE_ADDRESS = "update_link.address"
# keyed hashes under the vault's day keys
REPORTER = "reporter"
EVENT = "event"
LOOKUP_THROTTLE = "lookup-throttle"
COARSE = timedelta(minutes=10)
MESSAGE_BODY = "case_message.body"
# A reserved key of the case content: which sealed identity belongs to the case (its
# SHA-256) and the draft its typed fields were bound to. The content is bound to the case
# number, so this pins the identity to its case before the custodian's key is needed.
SEALED_IDENTITY = "_sealed_identity"


class StoreError(Exception):
    """Something the caller asked of the register cannot be done."""


class CaseNotFound(StoreError):
    pass


def _insert(session: Session) -> Any:
    dialect = hot.dialect_name(session)
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# --- webhook events ------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """An event recorded as processed, and the staff member linked to the LINE account
    it was asked about (None: nobody)."""

    staff_id: int | None
    # The account's conversation, locked with the claim when that was asked for and the
    # account is not staff's (PostgreSQL); otherwise :func:`lock_conversation` locks it.
    held: HeldConversation | None = None


def claim_event(
    session: Session,
    keys: Keyring,
    webhook_event_id: str,
    now: datetime,
    line_user_id: str | None = None,
    *,
    lock: bool = False,
) -> Claim | None:
    """Record an event as processed; None when it was already (a redelivery or duplicate).

    Only a hash of LINE's event id under today's day key is kept (yesterday's is checked
    too), so once the day keys are destroyed no event id can be tied to a row. On
    PostgreSQL a concurrent duplicate waits here for the first transaction and then sees
    the conflict, so each event is acted on exactly once. With ``line_user_id``, the
    same statement finds whether that account is a linked staff member's; with ``lock``
    too, on PostgreSQL it also locks the reporter's conversation (one round trip, not two).
    """
    day = vault.day_number(now)
    event_key = vault.day_digest(session, keys, EVENT, webhook_event_id, day)
    before = vault.day_digest(session, keys, EVENT, webhook_event_id, day - 1, create=False)
    params: dict[str, Any] = {
        "b_event_key": event_key,
        "b_day": day,
        "b_before": before or "",
        "b_line_key": staff_line_key(keys, line_user_id) if line_user_id else "",
    }
    statements = hot.statements(session)
    if lock and line_user_id and statements.claim_and_lock is not None:
        reporter_key = _reporter_key(session, keys, line_user_id, day)
        params |= {"b_key": reporter_key, "b_expires": coarse_time(now)}
        found = hot.execute(session, statements.claim_and_lock, params).first()
        if found is None:
            return None
        staff_id, *locked = found
        if staff_id is not None:
            return Claim(staff_id)
        held = _locked(session, keys, line_user_id, day, reporter_key, *locked)
        return Claim(None, held)
    row = hot.execute(session, statements.claim_event, params).first()
    return None if row is None else Claim(row[1])


def staff_line_key(keys: Keyring, line_user_id: str) -> str:
    """How a staff member's LINE account is found (staff_line_link.line_key)."""
    return keys.pepper.digest("staff-line", line_user_id)


def prune_events(session: Session, now: datetime) -> int:
    """Forget event hashes whose day key is gone: they could match nothing any more."""
    oldest = vault.day_number(now) - vault.DAYS_KEPT + 1
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.day < oldest))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


# --- conversations -------------------------------------------------------------------


@dataclass(frozen=True)
class HeldConversation:
    """A reporter's conversation row, locked for this transaction."""

    reporter_key: str
    key_id: int | None
    state: dict[str, Any] | None
    expires_at: datetime | None = None  # as the row holds it


class _Unreadable:
    """A state that does not open: its key is gone, or it was copied from another row."""


UNREADABLE = _Unreadable()


class _Unread:
    """A state's key not read with its row: :func:`_open_state` reads it."""


UNREAD = _Unread()


def _open_state(
    session: Session,
    keys: Keyring,
    reporter_key: str,
    key_id: int | None,
    state_ct: bytes,
    wrapped: bytes | None | _Unread = UNREAD,
) -> dict[str, Any] | _Unreadable | None:
    if wrapped is None and key_id is not None:
        # Read with the row, the key sees the statement's snapshot, but the row locked is
        # the newest: a step of the same reporter that committed while this one waited
        # for the lock made a key that snapshot does not hold. Read it again now.
        wrapped = UNREAD
    try:
        secret = (
            vault.secret(session, keys, key_id)
            if isinstance(wrapped, _Unread)
            else vault.unwrap(keys, key_id, wrapped)
        )
        raw = row_decrypt(secret, state_ct, bind(CONVERSATION, reporter_key))
    except CryptoError as exc:
        # A destroyed key (a database crash on PostgreSQL) or a state copied from another
        # row: start afresh rather than show anyone a state that is not theirs.
        log.warning("conversation state unreadable (%s): starting afresh", type(exc).__name__)
        return UNREADABLE
    state = json.loads(raw)
    return state if isinstance(state, dict) else None


def _held(
    reporter_key: str, key_id: int | None, opened: object, expires_at: datetime | None = None
) -> HeldConversation:
    if isinstance(opened, _Unreadable):
        # Never destroy a key this row cannot prove is its own.
        return HeldConversation(reporter_key, None, None, expires_at)
    state = opened if isinstance(opened, dict) else None
    return HeldConversation(reporter_key, key_id, state, expires_at)


def lock_conversation(
    session: Session, keys: Keyring, line_user_id: str, now: datetime
) -> HeldConversation:
    """Lock the reporter's conversation row for this transaction and return its state.

    One upsert both creates a missing row and takes the row lock (PostgreSQL locks a row
    it updates; SQLite's writer lock is already held), so two workers never interleave
    one reporter's steps. The row's key is the LINE user ID hashed under today's day key;
    a row from yesterday is moved under today's key the first time it is used.
    """
    day = vault.day_number(now)
    reporter_key = _reporter_key(session, keys, line_user_id, day)
    locked = hot.execute(
        session,
        hot.statements(session).lock_conversation,
        {"b_key": reporter_key, "b_expires": coarse_time(now)},
    ).one()
    return _locked(session, keys, line_user_id, day, reporter_key, *locked)


def _reporter_key(session: Session, keys: Keyring, line_user_id: str, day: int) -> str:
    reporter_key = vault.day_digest(session, keys, REPORTER, line_user_id, day)
    assert reporter_key is not None
    return reporter_key


def _locked(
    session: Session,
    keys: Keyring,
    line_user_id: str,
    day: int,
    reporter_key: str,
    key_id: int | None,
    state_ct: bytes | None,
    wrapped: bytes | None,
    expires_at: datetime | None,
) -> HeldConversation:
    """The conversation whose row under today's key was just locked, as it came back."""
    if state_ct is not None:
        opened = _open_state(session, keys, reporter_key, key_id, state_ct, wrapped)
        return _held(reporter_key, key_id, opened, expires_at)
    # Yesterday's key, and the pepper's (rows written before day keys existed).
    before = vault.day_digest(session, keys, REPORTER, line_user_id, day - 1, create=False)
    # Every new chat asks this: built once and run on the driver (store.hot).
    row = hot.execute(
        session,
        _EARLIER_CONVERSATION,
        {"b_before": before or "", "b_pepper": keys.pepper.digest(REPORTER, line_user_id)},
    ).first()
    if row is None:
        return HeldConversation(reporter_key, None, None, expires_at)
    earlier_key, earlier_key_id, earlier_state = row
    opened = (
        _open_state(session, keys, earlier_key, earlier_key_id, earlier_state)
        if earlier_state
        else None
    )
    hot.execute(session, hot.statements(session).drop_conversation, {"b_key": earlier_key})
    earlier_row = _held(earlier_key, earlier_key_id, opened)
    vault.destroy(session, [earlier_row.key_id])
    return HeldConversation(reporter_key, None, earlier_row.state, expires_at)


_EARLIER_CONVERSATION = (
    select(Conversation.reporter_key, Conversation.key_id, Conversation.state_ct)
    .where(Conversation.reporter_key.in_([bindparam("b_before"), bindparam("b_pepper")]))
    .with_for_update()
)


@dataclass(frozen=True)
class SealedState:
    """A conversation's next state, sealed under a new key but not yet written: the
    step's reply writes it in the statement that queues the reply (PostgreSQL,
    :func:`store.outbox.enqueue`), or the transaction keeps neither."""

    params: dict[str, Any]


def save_conversation(
    session: Session,
    keys: Keyring,
    held: HeldConversation,
    state: dict[str, Any] | None,
    keep_until: datetime | None,
    *,
    with_reply: bool = False,
) -> SealedState | None:
    """Store the new state under a new key and destroy the old one; a finished
    conversation leaves no row behind.

    With ``with_reply`` on PostgreSQL, a state to keep is returned sealed instead, for the
    caller to hand to the reply it queues next (one round trip, not two). None: done."""
    statements = hot.statements(session)
    if state is None or keep_until is None:
        hot.execute(session, statements.drop_conversation, {"b_key": held.reporter_key})
        vault.destroy(session, [held.key_id])
        return None
    plaintext = json.dumps(state, ensure_ascii=False).encode()
    aad = bind(CONVERSATION, held.reporter_key)
    params = {"b_key": held.reporter_key, "b_expires": coarse_time(keep_until)}
    if statements.save_conversation_keyed is not None:
        # PostgreSQL: the new key, the row and the old key's destruction in one round trip.
        key = vault.unstored_key(keys)
        params |= {"b_state": row_encrypt(key.secret, plaintext, aad), "b_old": held.key_id}
        if with_reply:
            return SealedState(params | {"s_id": key.id, "s_wrapped": key.wrapped})
        params |= {"b_key_id": key.id, "k_id": key.id, "k_wrapped": key.wrapped}
        hot.execute(session, statements.save_conversation_keyed, params)
        return None
    key_id, state_ct = vault.seal(session, keys, plaintext, aad)
    params |= {"b_key_id": key_id, "b_state": state_ct}
    if held.expires_at == params["b_expires"]:
        # Most steps of a conversation keep its expiry (to ten minutes): SQLite then
        # writes no page of its index.
        del params["b_expires"]
        hot.execute(session, statements.save_conversation_kept, params)
    else:
        hot.execute(session, statements.save_conversation, params)
    vault.destroy(session, [held.key_id])
    return None


def coarse_time(at: datetime) -> datetime:
    """``at`` rounded up to ten minutes: when rows must go, never when something happened."""
    step = COARSE.total_seconds()
    seconds = at.timestamp()
    rounded = -(-seconds // step) * step
    return datetime.fromtimestamp(rounded, tz=at.tzinfo)


def delete_expired_conversations(
    session: Session, keys: Keyring, now: datetime
) -> list[dict[str, Any] | None]:
    """Delete conversations whose time is over and destroy their keys; returns their
    last states (the caller discards a draft's files)."""
    rows = session.execute(
        select(Conversation.reporter_key, Conversation.key_id, Conversation.state_ct)
        .where(Conversation.expires_at < now)
        .with_for_update(skip_locked=True)
    ).all()
    held = [
        _held(
            r.reporter_key,
            r.key_id,
            _open_state(session, keys, r.reporter_key, r.key_id, r.state_ct)
            if r.state_ct
            else None,
        )
        for r in rows
    ]
    if rows:
        session.execute(
            delete(Conversation).where(Conversation.reporter_key.in_([r[0] for r in rows]))
        )
        vault.destroy(session, [h.key_id for h in held])
    return [h.state for h in held]


# --- update links (the reporter's choice) ----------------------------------------------


def add_update_link(session: Session, keys: Keyring, case_id: int, line_user_id: str) -> None:
    """Keep the reporter's LINE address for "there is an update" pushes, sealed under its
    own key: the one link between a chat and a case, and only when the reporter chose it."""
    link_id = vault.new_id()
    key_id, address_ct = vault.seal(
        session, keys, line_user_id.encode(), bind(UPDATE_ADDRESS, link_id, case_id)
    )
    hot.execute(
        session,
        _filing_of(session).add_update_link,
        {"id": link_id, "case_id": case_id, "key_id": key_id, "address_ct": address_ct},
    )


def _open_link(session: Session, keys: Keyring, link: UpdateLink) -> str | None:
    aad = bind(UPDATE_ADDRESS, link.id, link.case_id)
    try:
        return vault.open(session, keys, link.key_id, link.address_ct, aad).decode()
    except CryptoError as exc:
        log.warning("update link unreadable (%s)", type(exc).__name__)
        return None


def update_addresses(session: Session, keys: Keyring, case_id: int) -> list[str]:
    """The LINE addresses that asked for updates on this case."""
    links = session.scalars(select(UpdateLink).where(UpdateLink.case_id == case_id)).all()
    found = (_open_link(session, keys, link) for link in links)
    return [address for address in found if address]


def reporter_messages_since(session: Session, case_id: int, since: datetime) -> int:
    """How many messages the reporter sent on this case since then (for the daily cap)."""
    count = session.scalar(
        select(func.count()).where(
            CaseMessage.case_id == case_id,
            CaseMessage.direction == "reporter",
            CaseMessage.created_at >= since,
        )
    )
    return int(count or 0)


def news_addresses(session: Session, keys: Keyring, case_id: int) -> list[str]:
    """The addresses to tell of news on this case: those whose last "there is an update"
    has been read (the reporter looked the case up since). They are marked as waiting, so
    a second change before the reporter looks sends no second, identical push."""
    links = session.scalars(
        select(UpdateLink)
        .where(UpdateLink.case_id == case_id, UpdateLink.news_waiting.is_(False))
        .with_for_update()
    ).all()
    found = []
    for link in links:
        address = _open_link(session, keys, link)
        if address:
            link.news_waiting = True
            found.append(address)
    return found


def news_seen(session: Session, case_id: int) -> None:
    """The reporter looked the case up: the next news is worth a push again."""
    hot.execute(session, _NEWS_SEEN, {"b_case": case_id})


_NEWS_SEEN = (
    update(UpdateLink)
    .where(UpdateLink.case_id == bindparam("b_case"), UpdateLink.news_waiting.is_(True))
    .values(news_waiting=False)
)


def has_update_link(session: Session, case_id: int) -> bool:
    return session.scalar(select(UpdateLink.id).where(UpdateLink.case_id == case_id)) is not None


def forget_update_links(session: Session, case_id: int) -> int:
    """Destroy the case's update links (it closed): unrecoverable once shredded."""
    links = session.execute(
        select(UpdateLink.id, UpdateLink.key_id).where(UpdateLink.case_id == case_id)
    ).all()
    if links:
        vault.destroy(session, [key_id for _, key_id in links])
        session.execute(delete(UpdateLink).where(UpdateLink.id.in_([i for i, _ in links])))
    return len(links)


def forget_closed_update_links(session: Session) -> int:
    """A backstop: destroy update links of cases that closed by any path."""
    closed = session.scalars(
        select(UpdateLink.case_id)
        .join(Case, Case.id == UpdateLink.case_id)
        .where(Case.status == "closed")
    ).all()
    return sum(forget_update_links(session, case_id) for case_id in set(closed))


def stop_updates(session: Session, keys: Keyring, line_user_id: str) -> int:
    """Destroy every update link of this LINE address; returns how many.

    No lookup key exists for it (a keyed hash would tie the reporter's cases together),
    so each live link is opened; there are only as many as open cases that chose updates.
    """
    matching = [
        link
        for link in session.scalars(select(UpdateLink).with_for_update()).all()
        if _open_link(session, keys, link) == line_user_id
    ]
    if matching:
        vault.destroy(session, [link.key_id for link in matching])
        session.execute(delete(UpdateLink).where(UpdateLink.id.in_([m.id for m in matching])))
    return len(matching)


# --- cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Filing:
    """What filing a case writes, built once per dialect: a receipt runs these on the
    driver (store.hot) rather than through the ORM's unit of work, which cost more than
    the rest of the receipt together (bench/RESULTS.md, sixteenth round)."""

    seed_counter: Executable  # b_year
    next_number: Executable  # b_year; returns the number given out
    add_case: Executable  # the case row's columns; returns its id
    add_event: Executable  # the case event's columns
    adopt_files: Executable  # b_draft, b_case
    add_update_link: Executable  # the link row's columns


@cache
def _filing(dialect: str) -> _Filing:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    counters, cases, files = hot.table(CaseCounter), hot.table(Case), hot.table(Attachment)
    year = bindparam("b_year", type_=Integer)
    return _Filing(
        seed_counter=insert(counters)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"]),
        next_number=update(counters)
        .where(counters.c.year == year)
        .values(last=counters.c.last + 1)
        .returning(counters.c.last),
        add_case=cases.insert().returning(cases.c.id),
        add_event=hot.table(CaseEvent).insert(),
        adopt_files=update(files)
        .where(files.c.draft_key == bindparam("b_draft"), files.c.case_id.is_(None))
        .values(case_id=bindparam("b_case", type_=Integer), draft_key=None),
        add_update_link=hot.table(UpdateLink).insert(),
    )


def _filing_of(session: Session) -> _Filing:
    return _filing(hot.dialect_name(session))


def next_case_number(session: Session, year: int) -> str:
    """Give out the next public case number for ``year``, e.g. ``KRS-2026-000123``."""
    filing = _filing_of(session)
    hot.execute(session, filing.seed_counter, {"b_year": year})
    last = hot.execute(session, filing.next_number, {"b_year": year}).scalar_one()
    return f"KRS-{year}-{last:06d}"


@dataclass(frozen=True)
class NewCase:
    """A case just filed, with what staff are told of it (bot.notifications)."""

    case_id: int
    number: str
    category: str
    district_code: str | None
    anonymous: bool
    meets_anonymous_bar: bool

    @property
    def id(self) -> int:
        return self.case_id


@dataclass(frozen=True)
class TypedIdentity:
    """A confidential reporter's identity as the chat files it: the fields sealed to the
    custodian's key the moment they were typed (bound to ``draft_id``), plus fields the
    server adds at filing (the LINE user ID), sealed then and bound to the case number."""

    draft_id: str
    typed: dict[str, bytes]
    added: dict[str, str]


def _seal_identity(
    keys: Keyring, number: str, identity: dict[str, str] | TypedIdentity
) -> tuple[bytes, dict[str, Any]]:
    """The sealed identity of case ``number`` and the record the case content keeps of it."""
    draft = None
    if isinstance(identity, TypedIdentity):
        draft = identity_draft_binding(identity.draft_id)
        sealed = keys.identity.seal(identity.added, number, typed=identity.typed)
    else:
        sealed = keys.identity.seal(identity, number)
    return sealed, {"sha256": hashlib.sha256(sealed).hexdigest(), "draft": draft}


def _content_aad(number: str) -> str:
    return bind(CASE_CONTENT, number)


def seal_case(
    keys: Keyring,
    number: str,
    content: dict[str, Any],
    identity: dict[str, str] | TypedIdentity | None,
) -> tuple[bytes, bytes | None]:
    """Case ``number``'s content ciphertext and sealed identity, both bound to the number."""
    sealed = None
    stored = dict(content)
    if identity:
        sealed, stored[SEALED_IDENTITY] = _seal_identity(keys, number, identity)
    return keys.data.encrypt_json(stored, _content_aad(number)), sealed


def seal_public_note(keys: Keyring, number: str, note: str) -> bytes:
    return keys.data.encrypt_text(note, bind(CASE_NOTE, number))


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
    identity: dict[str, str] | TypedIdentity | None,
    notify_user_id: str | None,
    draft_key: str | None = None,
) -> NewCase:
    """Create a case: content encrypted, identity sealed, token kept only as an HMAC.

    Both are bound to the case number: copied onto another case, neither opens there.
    """
    number = next_case_number(session, now.year)
    content_ct, sealed = seal_case(keys, number, content, identity)
    filing = _filing_of(session)
    row = {
        "number": number,
        "channel": channel,
        "lang": lang,
        "category": category,
        "district_code": district_code,
        "anonymous": anonymous,
        "meets_anonymous_bar": meets_anonymous_bar,
        "status": "received",
        "filed_at": now,
        "updated_at": now,
        "content_ct": content_ct,
        "token_hash": keys.token_hash(token),
        "identity_sealed": sealed,
        "identity_key_fingerprint": keys.identity.fingerprint() if sealed else None,
    }
    case_id = hot.execute(session, filing.add_case, row).scalar_one()
    if notify_user_id:
        add_update_link(session, keys, case_id, notify_user_id)
    # The case row's own default asks the deadline scan for a first look (store.models).
    hot.execute(
        session,
        filing.add_event,
        {"case_id": case_id, "kind": "filed", "at": now, "status": "received"},
    )
    if draft_key:
        hot.execute(session, filing.adopt_files, {"b_draft": draft_key, "b_case": case_id})
    return NewCase(case_id, number, category, district_code, anonymous, meets_anonymous_bar)


def _stored_content(keys: Keyring, case: Case) -> dict[str, Any]:
    if case.purged_at is not None:
        return {}  # a tombstone (store/retention.py): the report was purged
    raw = open_in_place(keys.data, case.content_ct, _content_aad(case.number), case.number)
    content = json.loads(raw)
    if not isinstance(content, dict):
        raise MisplacedCiphertext(f"the content of {case.number} is not a report")
    return content


def case_content(session: Session, keys: Keyring, case_id: int) -> dict[str, Any]:
    """The report; :class:`MisplacedCiphertext` if it was written for another case."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    content = _stored_content(keys, case)
    content.pop(SEALED_IDENTITY, None)
    return content


@dataclass(frozen=True)
class SealedIdentity:
    """A case's sealed identity, checked to be the one filed with it: what the custodian's
    key is given, with the case number and draft binding it must have been sealed for."""

    case_number: str
    sealed: bytes
    draft: str | None


def sealed_identity(keys: Keyring, case: Case) -> SealedIdentity | None:
    """The case's sealed identity, before anyone opens it; None for an anonymous case.

    Raises :class:`MisplacedCiphertext` when it is not the one filed with this case (the
    content records its SHA-256) and :class:`LegacySealedIdentity` for a row sealed before
    identities were bound (the custodian runs `krasip keys rebind`).
    """
    if case.identity_sealed is None:
        return None
    record = _stored_content(keys, case).get(SEALED_IDENTITY)
    if isinstance(record, dict):
        if record.get("sha256") != hashlib.sha256(case.identity_sealed).hexdigest():
            raise MisplacedCiphertext(f"the sealed identity does not belong to {case.number}")
        draft = record.get("draft")
        return SealedIdentity(case.number, case.identity_sealed, draft if draft else None)
    if is_bound_identity(case.identity_sealed):
        raise MisplacedCiphertext(f"the sealed identity does not belong to {case.number}")
    raise LegacySealedIdentity(
        f"the identity of {case.number} was sealed before identities were bound to their "
        "case: the custodian re-seals it with `krasip keys rebind`"
    )


def rebind_identity(keys: Keyring, case: Case, identity: dict[str, str]) -> None:
    """Re-seal a legacy identity (opened by the custodian) bound to its case number."""
    content = _stored_content(keys, case)
    case.identity_sealed, content[SEALED_IDENTITY] = _seal_identity(keys, case.number, identity)
    case.identity_key_fingerprint = keys.identity.fingerprint()
    case.content_ct = keys.data.encrypt_json(content, _content_aad(case.number))


def replace_sealed_identity(keys: Keyring, case: Case, sealed: bytes, fingerprint: str) -> None:
    """Put a re-sealed identity (`krasip keys reseal`) on its case; the content records
    its new SHA-256, keeping the draft binding."""
    content = _stored_content(keys, case)
    record = content.get(SEALED_IDENTITY)
    draft = record.get("draft") if isinstance(record, dict) else None
    content[SEALED_IDENTITY] = {"sha256": hashlib.sha256(sealed).hexdigest(), "draft": draft}
    case.identity_sealed = sealed
    case.identity_key_fingerprint = fingerprint
    case.content_ct = keys.data.encrypt_json(content, _content_aad(case.number))


@dataclass(frozen=True)
class TokenCase:
    """A case as its tracking token shows it: what the status reply reads of its row."""

    id: int
    number: str
    category: str
    filed_at: datetime
    status: str
    outcome: str | None
    updated_at: datetime
    public_note_ct: bytes | None
    anonymous: bool


_TOKEN_CASE = select(*(hot.table(Case).c[field.name] for field in fields(TokenCase))).where(
    Case.token_hash == bindparam("b_hash")
)


def find_token_case(session: Session, keys: Keyring, token: str) -> TokenCase | None:
    """:func:`find_case_by_token` for the status reply: the columns it reads, in a
    statement built once and run on the driver (store.hot), as every lookup asks it."""
    row = hot.execute(session, _TOKEN_CASE, {"b_hash": keys.token_hash(token)}).first()
    if row is not None:
        return TokenCase(*row)
    case = _moved_from_old_pepper(session, keys, token)
    if case is None:
        return None
    return TokenCase(*(getattr(case, field.name) for field in fields(TokenCase)))


def find_case_by_token(session: Session, keys: Keyring, token: str) -> Case | None:
    """The case of ``token``; one filed under an old pepper moves to the current one."""
    case = session.scalars(select(Case).where(Case.token_hash == keys.token_hash(token))).first()
    return case if case is not None else _moved_from_old_pepper(session, keys, token)


def _moved_from_old_pepper(session: Session, keys: Keyring, token: str) -> Case | None:
    """The case of ``token`` filed under an old pepper, moved to the current one."""
    if not keys.old_peppers:
        return None
    old = keys.old_token_hashes(token)
    case = session.scalars(select(Case).where(Case.token_hash.in_(old))).first()
    if case is not None:
        case.token_hash = keys.token_hash(token)
    return case


def public_note(keys: Keyring, case: Case | TokenCase) -> str | None:
    if case.public_note_ct is None:
        return None
    aad = bind(CASE_NOTE, case.number)
    return open_in_place(keys.data, case.public_note_ct, aad, case.number).decode()


def _message_aad(number: str, message: CaseMessage) -> str:
    return bind(MESSAGE_BODY, number, message.id, message.direction)


def message_text(keys: Keyring, case: Case, message: CaseMessage) -> str:
    """A message's text; :class:`MisplacedCiphertext` if it was written for another place."""
    return _message_text(keys, case.number, message.id, message.direction, message.body_ct)


def _message_text(
    keys: Keyring, number: str, message_id: int, direction: str, body_ct: bytes
) -> str:
    where = f"{number} (message {message_id})"
    aad = bind(MESSAGE_BODY, number, message_id, direction)
    return open_in_place(keys.data, body_ct, aad, where).decode()


def unread_staff_messages(
    session: Session, keys: Keyring, case: Case | TokenCase
) -> list[tuple[int, datetime, str]]:
    rows = hot.execute(session, _UNREAD_STAFF_MESSAGES, {"b_case": case.id}).all()
    return [
        (message_id, at, _message_text(keys, case.number, message_id, "staff", body_ct))
        for message_id, at, body_ct in rows
    ]


_UNREAD_STAFF_MESSAGES = (
    select(CaseMessage.id, CaseMessage.created_at, CaseMessage.body_ct)
    .where(
        CaseMessage.case_id == bindparam("b_case"),
        CaseMessage.direction == "staff",
        CaseMessage.read_at.is_(None),
    )
    .order_by(CaseMessage.id)
)


def add_message(
    session: Session, keys: Keyring, case_id: int, direction: str, text: str, now: datetime
) -> int:
    if direction not in ("reporter", "staff"):
        raise StoreError(f"unknown message direction {direction!r}")
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    # The body is bound to the message's id, so the row is written first, then its body.
    message = CaseMessage(case_id=case_id, direction=direction, body_ct=b"", created_at=now)
    session.add(message)
    case.updated_at = now
    session.flush()
    message.body_ct = keys.data.encrypt_text(text, _message_aad(case.number, message))
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
            seal_public_note(keys, case.number, public_note) if public_note else None
        )
    session.add(
        CaseEvent(
            case_id=case.id, kind="status", at=now, status=status, outcome=case.outcome, actor=actor
        )
    )
    return case


# --- wrong tokens (global ceiling) ---------------------------------------------------


def record_lookup_failure(session: Session, now: datetime) -> None:
    session.add(LookupFailure(at=now))


def lookup_failures_since(session: Session, since: datetime) -> int:
    return session.scalar(select(func.count()).where(LookupFailure.at >= since)) or 0


def prune_lookup_failures(session: Session, before: datetime) -> None:
    session.execute(delete(LookupFailure).where(LookupFailure.at < before))


# --- wrong tokens (per reporter) -----------------------------------------------------


def _throttle_keys(
    session: Session, keys: Keyring, line_user_id: str, now: datetime
) -> tuple[str, list[str]]:
    """Today's key of the reporter's row, and every key it may be under (today's, yesterday's)."""
    day = vault.day_number(now)
    today = vault.day_digest(session, keys, LOOKUP_THROTTLE, line_user_id, day)
    assert today is not None
    before = vault.day_digest(session, keys, LOOKUP_THROTTLE, line_user_id, day - 1, create=False)
    return today, [k for k in (today, before) if k]


@dataclass(frozen=True)
class ThrottleRecord:
    """A reporter's wrong tokens as stored: counts and the end of a delay (to the minute)."""

    failures: int = 0
    delays: int = 0
    wait_until: datetime | None = None
    told_at: datetime | None = None


def wrong_tokens(
    session: Session, keys: Keyring, line_user_id: str, now: datetime
) -> ThrottleRecord:
    """What is remembered of this reporter's wrong tokens (nothing once the row expired).

    Called with the reporter's conversation locked, so their events do not interleave."""
    _, candidates = _throttle_keys(session, keys, line_user_id, now)
    return _throttle_record(session, candidates, now)


def _throttle_record(session: Session, candidates: list[str], now: datetime) -> ThrottleRecord:
    row = session.execute(
        select(
            LookupThrottle.failures,
            LookupThrottle.delays,
            LookupThrottle.wait_until,
            LookupThrottle.told_at,
        )
        .where(LookupThrottle.reporter_key.in_(candidates), LookupThrottle.expires_at > now)
        .order_by(LookupThrottle.expires_at.desc())
    ).first()
    if row is None:
        return ThrottleRecord()
    return ThrottleRecord(row.failures, row.delays, row.wait_until, row.told_at)


def quiet_wrong_token(
    session: Session, keys: Keyring, line_user_id: str, token: str, now: datetime
) -> ThrottleRecord | None:
    """The reporter's wrong-token record, read in one statement that writes nothing, when
    ``token`` is a plain wrong token from a plain reporter: no case has it, the account is
    not staff's and has no conversation going. ``None`` otherwise, or when that cannot be
    told without writing (today's day key is not made yet)."""
    day = vault.day_number(now)
    digests = {}
    for purpose in (REPORTER, LOOKUP_THROTTLE):
        today = vault.day_digest(session, keys, purpose, line_user_id, day, create=False)
        if today is None:
            return None
        before = vault.day_digest(session, keys, purpose, line_user_id, day - 1, create=False)
        digests[purpose] = [k for k in (today, before) if k]
    tokens = [keys.token_hash(token), *keys.old_token_hashes(token)]
    # Every list is bound as so many parameters (absent keys as "", which no row has), so
    # the statement goes to the driver as compiled once (store.hot).
    conversations = [*digests[REPORTER], keys.pepper.digest(REPORTER, line_user_id)]
    params: dict[str, Any] = {
        "b_line_key": staff_line_key(keys, line_user_id),
        **_numbered("b_conversation", conversations, 3),
        **_numbered("b_throttle", digests[LOOKUP_THROTTLE], 2),
        **_numbered("b_token", tokens, len(tokens)),
        "b_now": now,
    }
    staff, conversation, known, *record = hot.execute(
        session, _quiet_wrong_token(len(tokens)), params
    ).one()
    if staff or conversation or known:
        return None
    failures, delays, wait_until, told_at = record
    if failures is None:
        return ThrottleRecord()
    return ThrottleRecord(failures, delays, wait_until, told_at)


def _numbered(name: str, values: list[str], count: int) -> dict[str, str]:
    return {f"{name}{i}": values[i] if i < len(values) else "" for i in range(count)}


def _each(name: str, count: int) -> list[Any]:
    return [bindparam(f"{name}{i}", type_=String) for i in range(count)]


@cache
def _quiet_wrong_token(tokens: int) -> Select[Any]:
    """Built once for each count of token hashes (one per pepper): the webhook may run it
    for every wrong token of a flood."""
    links, conversations = StaffLineLink.__table__, Conversation.__table__
    cases, throttles = Case.__table__, LookupThrottle.__table__
    now = bindparam("b_now", type_=throttles.c.expires_at.type)

    def newest(column: Any) -> Any:
        return (
            select(column)
            .where(
                throttles.c.reporter_key.in_(_each("b_throttle", 2)),
                throttles.c.expires_at > now,
            )
            .order_by(throttles.c.expires_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    return select(
        exists().where(links.c.line_key == bindparam("b_line_key")).label("staff"),
        exists()
        .where(conversations.c.reporter_key.in_(_each("b_conversation", 3)))
        .label("conversation"),
        exists().where(cases.c.token_hash.in_(_each("b_token", tokens))).label("known"),
        *(newest(throttles.c[name]).label(name) for name in _THROTTLE_FIELDS),
    )


_THROTTLE_FIELDS = ("failures", "delays", "wait_until", "told_at")


def save_wrong_tokens(
    session: Session,
    keys: Keyring,
    line_user_id: str,
    wrong: ThrottleRecord,
    keep_until: datetime,
    now: datetime,
) -> None:
    """Keep the reporter's record under today's key until ``keep_until`` (rounded up)."""
    today, candidates = _throttle_keys(session, keys, line_user_id, now)
    session.execute(delete(LookupThrottle).where(LookupThrottle.reporter_key.in_(candidates)))
    session.add(
        LookupThrottle(
            reporter_key=today,
            failures=wrong.failures,
            delays=wrong.delays,
            wait_until=wrong.wait_until,
            told_at=wrong.told_at,
            expires_at=coarse_time(keep_until),
        )
    )


def prune_lookup_throttles(session: Session, now: datetime) -> int:
    """Delete the records whose time is over."""
    result = session.execute(delete(LookupThrottle).where(LookupThrottle.expires_at <= now))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


# --- tokens --------------------------------------------------------------------------


def new_token_bytes() -> bytes:
    """80 random bits for a tracking token."""
    return secrets.token_bytes(10)


# --- audit ---------------------------------------------------------------------------


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    case_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    """Append an entry to the keyed chain (store/audit.py), under the audit key the
    session's database holds. Callers must not put secrets in ``detail``."""
    return audit_log.append(
        session,
        audit_log.keys_of(session),
        actor=actor,
        action=action,
        now=now,
        case_id=case_id,
        detail=detail,
    )


def verify_audit(session: Session, checkpoints: Iterable[audit_log.Checkpoint] = ()) -> list[str]:
    """Walk the chain, hold it to ``checkpoints`` and to those the database keeps; the
    problems found (empty when intact), including what could not be checked."""
    verdict = audit_log.verify(session, audit_log.keys_of(session), checkpoints)
    return verdict.problems + verdict.unchecked
