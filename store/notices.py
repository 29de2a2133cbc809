"""Staff notifications: LINE links and link codes, registered groups, notices, deadlines."""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store import hot
from store.crypto import Keyring, MisplacedCiphertext, bind, open_in_place
from store.models import (
    Case,
    CaseEvent,
    DeadlineWarning,
    LinkAttempt,
    LinkCode,
    NotificationGroup,
    StaffLineLink,
    StaffNotice,
    StaffUser,
)
from store.repo import _insert

LINK_CODE_TTL = timedelta(minutes=10)
LINK_ATTEMPTS_ALLOWED = 5
LINK_WINDOW = timedelta(minutes=15)
STAFF_LINE = "staff.line_user"
GROUP_ID = "notification_group.id"

log = logging.getLogger(__name__)


class LinkRefused(Enum):
    INVALID = "invalid"  # unknown, expired or used: one answer for all, so codes can't be probed
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Recipient:
    """Where a staff notification goes: a person's LINE account or a registered group."""

    to: str
    lang: str
    digest: bool
    staff_id: int | None
    role: str | None = None  # None for a group


# --- link codes ----------------------------------------------------------------------


def issue_link_code(
    session: Session, keys: Keyring, staff_id: int, kind: str, now: datetime
) -> str:
    """A fresh six-digit code for ``link 482913``; only its HMAC is stored."""
    if kind not in ("staff", "group"):
        raise ValueError("a link code links a staff account or a group")
    session.execute(delete(LinkCode).where(LinkCode.expires_at < now))
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        digest = keys.pepper.digest("link", code)
        if session.scalar(select(LinkCode.id).where(LinkCode.code_hash == digest)) is None:
            break
    session.add(
        LinkCode(
            code_hash=digest,
            kind=kind,
            staff_id=staff_id,
            created_at=now,
            expires_at=now + LINK_CODE_TTL,
        )
    )
    session.flush()
    return code


def redeem_link_code(
    session: Session, keys: Keyring, code: str, chat_key: str, now: datetime
) -> LinkCode | LinkRefused:
    """Use a code once. Wrong codes count against the chat that sent them."""
    failures = (
        session.scalar(
            select(func.count()).where(
                LinkAttempt.chat_key == chat_key, LinkAttempt.at >= now - LINK_WINDOW
            )
        )
        or 0
    )
    if failures >= LINK_ATTEMPTS_ALLOWED:
        return LinkRefused.THROTTLED
    row = session.scalars(
        select(LinkCode)
        .where(LinkCode.code_hash == keys.pepper.digest("link", code))
        .with_for_update()
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        session.add(LinkAttempt(chat_key=chat_key, at=now))
        return LinkRefused.INVALID
    staff = session.get(StaffUser, row.staff_id)
    if staff is None or not staff.active:
        session.add(LinkAttempt(chat_key=chat_key, at=now))
        return LinkRefused.INVALID
    row.used_at = now
    return row


def link_staff_line(
    session: Session, keys: Keyring, staff_id: int, line_user_id: str, now: datetime
) -> None:
    """Point the staff member's notifications at this LINE account (replacing any other)."""
    line_key = keys.pepper.digest("staff-line", line_user_id)
    session.execute(
        delete(StaffLineLink).where(
            (StaffLineLink.staff_id == staff_id) | (StaffLineLink.line_key == line_key)
        )
    )
    session.add(
        StaffLineLink(
            staff_id=staff_id,
            line_user_ct=keys.data.encrypt_text(line_user_id, bind(STAFF_LINE, staff_id)),
            line_key=line_key,
            linked_at=now,
            digest=False,
        )
    )


def register_group(
    session: Session, keys: Keyring, group_id: str, staff_id: int, now: datetime
) -> None:
    group_key = keys.pepper.digest("group", group_id)
    existing = session.scalars(
        select(NotificationGroup).where(NotificationGroup.group_key == group_key)
    ).first()
    if existing is not None:
        existing.active = True
        existing.registered_by = staff_id
        existing.registered_at = now
        return
    session.add(
        NotificationGroup(
            group_key=group_key,
            group_id_ct=keys.data.encrypt_text(group_id, bind(GROUP_ID, group_key)),
            registered_by=staff_id,
            registered_at=now,
            active=True,
        )
    )


def deactivate_group(session: Session, keys: Keyring, group_id: str) -> None:
    """The bot left or was removed from a group: stop sending there."""
    session.execute(
        update(NotificationGroup)
        .where(NotificationGroup.group_key == keys.pepper.digest("group", group_id))
        .values(active=False)
    )


def staff_for_line(
    session: Session, keys: Keyring, line_user_id: str
) -> tuple[StaffUser, StaffLineLink] | None:
    """The active staff member linked to this LINE account, if any."""
    # Every reporter event asks this, so the common answer (no) costs one index probe.
    staff_id = session.scalar(
        hot.statements(session).staff_for_line,
        {"b_line_key": keys.pepper.digest("staff-line", line_user_id)},
    )
    if staff_id is None:
        return None
    staff = session.get(StaffUser, staff_id)
    link = session.get(StaffLineLink, staff_id)
    if staff is None or link is None or not staff.active:
        return None
    return staff, link


def line_link(session: Session, staff_id: int) -> StaffLineLink | None:
    """This staff member's LINE link, if any (for showing whether one exists)."""
    return session.get(StaffLineLink, staff_id)


def set_digest(session: Session, staff_id: int, digest: bool) -> None:
    session.execute(
        update(StaffLineLink).where(StaffLineLink.staff_id == staff_id).values(digest=digest)
    )


def unlink(session: Session, staff_id: int) -> None:
    session.execute(delete(StaffLineLink).where(StaffLineLink.staff_id == staff_id))


def _address(keys: Keyring, blob: bytes, aad: str, where: str) -> str | None:
    """A LINE address bound to its row; one copied from another row is skipped (and
    logged by its place only), so a tampered row silences itself and nobody else."""
    try:
        return open_in_place(keys.data, blob, aad, where).decode()
    except MisplacedCiphertext as exc:
        log.warning("notification address skipped: %s", exc)
        return None


def recipients(session: Session, keys: Keyring) -> list[Recipient]:
    """Every linked, active staff member and every registered group."""
    found = []
    for staff, link in session.execute(
        select(StaffUser, StaffLineLink)
        .join(StaffLineLink, StaffLineLink.staff_id == StaffUser.id)
        .where(StaffUser.active.is_(True))
        .order_by(StaffUser.id)
    ).all():
        where = f"the LINE link of staff account {staff.id}"
        to = _address(keys, link.line_user_ct, bind(STAFF_LINE, link.staff_id), where)
        if to is not None:
            found.append(Recipient(to, staff.lang or "th", link.digest, staff.id, staff.role))
    for group in session.scalars(
        select(NotificationGroup)
        .where(NotificationGroup.active.is_(True))
        .order_by(NotificationGroup.id)
    ):
        where = f"notification group {group.id}"
        to = _address(keys, group.group_id_ct, bind(GROUP_ID, group.group_key), where)
        if to is not None:
            found.append(Recipient(to, "th", False, None))
    return found


# --- notices and digests -------------------------------------------------------------


def add_notice(
    session: Session, kind: str, case_id: int | None, now: datetime, **detail: Any
) -> None:
    session.add(
        StaffNotice(
            kind=kind, case_id=case_id, created_at=now, detail=json.dumps(detail, sort_keys=True)
        )
    )


def notices_between(session: Session, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """(kind, case number) of every notice in the window, oldest first."""
    rows = session.execute(
        select(StaffNotice.kind, Case.number)
        .join(Case, Case.id == StaffNotice.case_id)
        .where(StaffNotice.created_at >= start, StaffNotice.created_at < end)
        .order_by(StaffNotice.id)
    ).all()
    return list(rows)


def claim_digest(session: Session, staff_id: int, due_since: datetime, now: datetime) -> bool:
    """Take this staff member's digest for today; False if another worker already did."""
    result = session.execute(
        update(StaffLineLink)
        .where(
            StaffLineLink.staff_id == staff_id,
            StaffLineLink.digest.is_(True),
            (StaffLineLink.last_digest_at.is_(None)) | (StaffLineLink.last_digest_at < due_since),
        )
        .values(last_digest_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def last_digest(session: Session, staff_id: int) -> datetime | None:
    return session.scalar(
        select(StaffLineLink.last_digest_at).where(StaffLineLink.staff_id == staff_id)
    )


# --- deadlines -----------------------------------------------------------------------


def record_milestone(
    session: Session, case_id: int, name: str, at: datetime, actor: str | None = None
) -> None:
    """Staff record a step of the process (a milestone) that starts or meets a deadline."""
    session.add(CaseEvent(case_id=case_id, kind=name, at=at, actor=actor))


def open_case_events(session: Session) -> dict[int, list[tuple[datetime, str, str | None]]]:
    """(at, kind, status) of every event of every case that is not closed."""
    events: dict[int, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.kind, CaseEvent.status)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.status != "closed")
        .order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)
    ).all()
    for case_id, at, kind, status in rows:
        events[case_id].append((at, kind, status))
    return events


def recorded_warnings(session: Session) -> set[tuple[int, str, int]]:
    """(case, deadline key, threshold) of every warning sent so far."""
    rows = session.execute(
        select(DeadlineWarning.case_id, DeadlineWarning.deadline_key, DeadlineWarning.threshold)
    ).all()
    return {(case_id, key, threshold) for case_id, key, threshold in rows}


def record_warning(
    session: Session, case_id: int, deadline_key: str, threshold: int, now: datetime
) -> bool:
    """Note a warning as sent; False when it was sent before (by any worker, any time)."""
    inserted = session.execute(
        _insert(session)(DeadlineWarning)
        .values(case_id=case_id, deadline_key=deadline_key, threshold=threshold, sent_at=now)
        .on_conflict_do_nothing(index_elements=["case_id", "deadline_key", "threshold"])
        .returning(DeadlineWarning.id)
    ).first()
    return inserted is not None


def prune(session: Session, now: datetime) -> None:
    """Forget spent link codes, old wrong-code attempts and notices past any digest."""
    session.execute(delete(LinkCode).where(LinkCode.expires_at < now - timedelta(days=1)))
    session.execute(delete(LinkAttempt).where(LinkAttempt.at < now - LINK_WINDOW))
    session.execute(delete(StaffNotice).where(StaffNotice.created_at < now - timedelta(days=30)))
