"""Retention by policy: what a closed case keeps, and for how long.

Two clocks start when a case closes (its last move to "closed"):

* the sealed identity is destroyed after ``identity_days`` (default 90);
* the content — the report, the public note, messages, internal notes, evidence — is
  purged after ``content_years`` (default 10), leaving a tombstone: the case number,
  category, district, channel, dates, status and outcome, and the case's events (dates,
  statuses, outcomes and staff names, no text). That is all the monthly statistics read,
  so past months count the same after a purge.

A custodian's hold (:func:`hold`, with a reason) stops both clocks for one case until
released. Holds, releases, destructions and purges are written to the audit log.

Unrecoverable: rows are deleted and the vault keys that protected parts of them are
destroyed; then :func:`compact` makes the database files forget the old row versions
(SQLite zeroes deleted cells with ``secure_delete`` and the shredder truncates its log;
PostgreSQL's tables are rewritten by ``VACUUM FULL``). What PostgreSQL's write-ahead log
wrote before stays in its segments until they are reused (see README, "Retention").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Subquery, delete, func, select, text
from sqlalchemy.orm import Session

from store import repo, vault
from store.crypto import Keyring, bind, open_in_place
from store.models import (
    Attachment,
    Case,
    CaseActivity,
    CaseEvent,
    CaseMessage,
    CaseNote,
    CaseReadMark,
    DeadlineWarning,
    RetentionHold,
    StaffNotice,
    UpdateLink,
)

HOLD_REASON = "retention.hold"
IDENTITY_DAYS = 90
CONTENT_YEARS = 10
# Tables whose old row versions a purge or a destruction leaves behind on PostgreSQL.
PURGED_TABLES = ("case", "case_message", "case_note", "attachment", "update_link")


class RetentionError(Exception):
    """A hold or release that cannot be done (no such case, not closed, …)."""


@dataclass(frozen=True)
class Policy:
    identity_days: int = IDENTITY_DAYS
    content_years: int = CONTENT_YEARS

    def identity_closed_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.identity_days)

    def content_closed_before(self, now: datetime) -> datetime:
        year = now.year - self.content_years
        # 29 February has no twin in most years: the day before counts.
        day = min(now.day, 28) if now.month == 2 and now.day == 29 else now.day
        return now.replace(year=year, day=day)


@dataclass
class Plan:
    """What a run removes now: case numbers only, never content."""

    identities: list[str] = field(default_factory=list)
    purges: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # due, but a custodian holds them


def _closed_at() -> Subquery:
    """Each case's last closure, as a subquery (case_id, at)."""
    return (
        select(CaseEvent.case_id, func.max(CaseEvent.at).label("at"))
        .where(CaseEvent.kind == "status", CaseEvent.status == "closed")
        .group_by(CaseEvent.case_id)
        .subquery()
    )


def _due(
    session: Session, before: datetime, *extra: ColumnElement[bool]
) -> list[tuple[int, str, bool]]:
    closed = _closed_at()
    rows = session.execute(
        select(Case.id, Case.number, RetentionHold.case_id.is_not(None))
        .join(closed, closed.c.case_id == Case.id)
        .outerjoin(RetentionHold, RetentionHold.case_id == Case.id)
        .where(Case.status == "closed", closed.c.at <= before, *extra)
        .order_by(Case.id)
    ).all()
    return [(case_id, number, bool(held)) for case_id, number, held in rows]


def plan(session: Session, policy: Policy, now: datetime) -> tuple[Plan, list[int], list[int]]:
    """What the next run removes: the plan, and the ids of identities and contents."""
    result = Plan()
    identity_ids: list[int] = []
    purge_ids: list[int] = []
    for case_id, number, held in _due(
        session,
        policy.identity_closed_before(now),
        Case.identity_sealed.is_not(None),
        Case.purged_at.is_(None),
    ):
        if held:
            result.held.append(number)
        else:
            result.identities.append(number)
            identity_ids.append(case_id)
    for case_id, number, held in _due(
        session, policy.content_closed_before(now), Case.purged_at.is_(None)
    ):
        if held:
            if number not in result.held:
                result.held.append(number)
        else:
            result.purges.append(number)
            purge_ids.append(case_id)
    return result, identity_ids, purge_ids


def _destroy_identity(case: Case, now: datetime) -> None:
    case.identity_sealed = None
    case.identity_key_fingerprint = None
    case.identity_destroyed_at = now


def _purge(session: Session, case: Case, now: datetime) -> dict[str, int]:
    """Delete what the case said and who could be reached; keep the tombstone."""
    link_keys = list(
        session.scalars(select(UpdateLink.key_id).where(UpdateLink.case_id == case.id))
    )
    file_keys = list(
        session.scalars(select(Attachment.line_message_key).where(Attachment.case_id == case.id))
    )
    destroyed = vault.destroy(session, [*link_keys, *file_keys])
    counts = {"keys": destroyed}
    for name, model in (
        ("messages", CaseMessage),
        ("notes", CaseNote),
        ("files", Attachment),
        ("links", UpdateLink),
    ):
        counts[name] = session.execute(
            delete(model).where(model.case_id == case.id)  # type: ignore[attr-defined]
        ).rowcount  # type: ignore[attr-defined]
    for other in (StaffNotice, CaseActivity, DeadlineWarning, CaseReadMark):
        session.execute(delete(other).where(other.case_id == case.id))  # type: ignore[attr-defined]
    if case.identity_sealed is not None:
        _destroy_identity(case, now)
    case.content_ct = b""
    case.public_note_ct = None
    # The token no longer finds anything: a random value keeps the column unique.
    case.token_hash = secrets.token_hex(32)
    case.purged_at = now
    return counts


def run(session: Session, policy: Policy, now: datetime, *, actor: str = "retention") -> Plan:
    """Destroy the identities and purge the contents that are due; audited per case.

    Call :func:`compact` (and the vault's shredder) after the commit."""
    result, identity_ids, purge_ids = plan(session, policy, now)
    purging = set(purge_ids)
    for case_id in identity_ids:
        if case_id in purging:
            continue  # the purge destroys it too, in one audit entry
        case = session.get(Case, case_id, with_for_update=True)
        assert case is not None
        _destroy_identity(case, now)
        repo.audit(
            session,
            actor=actor,
            action="retention.identity_destroyed",
            now=now,
            case_id=case_id,
            detail=f"{case.number}; {policy.identity_days} days after closure",
        )
    for case_id in purge_ids:
        case = session.get(Case, case_id, with_for_update=True)
        assert case is not None
        had_identity = case.identity_sealed is not None
        counts = _purge(session, case, now)
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        repo.audit(
            session,
            actor=actor,
            action="retention.purge",
            now=now,
            case_id=case_id,
            detail=f"{case.number}; {policy.content_years} years after closure; {shown}"
            + ("; identity destroyed" if had_identity else ""),
        )
    return result


def compact(engine: Engine) -> None:
    """Make the files forget purged rows' old versions (PostgreSQL: rewrite the tables;
    SQLite zeroed them already with ``secure_delete``; the vault's shredder truncates
    its log)."""
    if engine.dialect.name != "postgresql":
        return
    tables = ", ".join(f'"{name}"' for name in PURGED_TABLES)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM FULL {tables}"))


# --- holds ---------------------------------------------------------------------------


def _case(session: Session, number: str) -> Case:
    case = session.scalars(select(Case).where(Case.number == number.strip())).first()
    if case is None:
        raise RetentionError(f"no case {number}")
    return case


def hold(
    session: Session, keys: Keyring, number: str, *, reason: str, actor: str, now: datetime
) -> Case:
    """Keep a case's identity and content past the retention clock until released."""
    reason = reason.strip()
    if len(reason) < 10:
        raise RetentionError("give a real reason (at least 10 characters)")
    case = _case(session, number)
    if case.purged_at is not None:
        raise RetentionError(f"{case.number} was purged on {case.purged_at:%Y-%m-%d}")
    row = session.get(RetentionHold, case.id)
    sealed = keys.data.encrypt_text(reason, bind(HOLD_REASON, case.number))
    if row is None:
        session.add(RetentionHold(case_id=case.id, reason_ct=sealed, actor=actor, at=now))
    else:
        row.reason_ct, row.actor, row.at = sealed, actor, now
    repo.audit(
        session,
        actor=actor,
        action="retention.hold",
        now=now,
        case_id=case.id,
        # The reason may name the matter: it stays encrypted with the hold, not in the log.
        detail=f"{case.number}; reason kept encrypted with the hold",
    )
    return case


def release(session: Session, number: str, *, actor: str, now: datetime) -> Case:
    case = _case(session, number)
    if session.execute(delete(RetentionHold).where(RetentionHold.case_id == case.id)).rowcount == 0:  # type: ignore[attr-defined]
        raise RetentionError(f"{case.number} is not held")
    repo.audit(
        session,
        actor=actor,
        action="retention.release",
        now=now,
        case_id=case.id,
        detail=case.number,
    )
    return case


def hold_reason(session: Session, keys: Keyring, case: Case) -> str | None:
    row = session.get(RetentionHold, case.id)
    if row is None:
        return None
    aad = bind(HOLD_REASON, case.number)
    return open_in_place(keys.data, row.reason_ct, aad, case.number).decode()
