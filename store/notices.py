"""Staff notifications: LINE links and link codes, registered groups, notices, deadlines."""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from store import hot, repo, vault
from store.crypto import Keyring, MisplacedCiphertext, bind, open_in_place
from store.models import (
    Case,
    CaseActivity,
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
LINK_ATTEMPTS_ALLOWED = 5  # wrong codes from one chat in the window
# Wrong codes from all chats together in the window: 30 guesses at one million codes while
# a code lives 10 minutes. Right codes wait too while it is reached (unlike tracking
# tokens, six digits would not survive unthrottled guessing); staff ask for a new code.
LINK_GLOBAL_CEILING = 30
LINK_WINDOW = timedelta(minutes=15)
LINK_CHAT = "link-chat"
STAFF_LINE = "staff.line_user"
GROUP_ID = "notification_group.id"

log = logging.getLogger(__name__)


class LinkRefused(Enum):
    # unknown, expired, used, or sent to the wrong place: one answer for all, so codes
    # cannot be probed
    INVALID = "invalid"
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
    session: Session, keys: Keyring, code: str, chat_id: str, place: str, now: datetime
) -> LinkCode | LinkRefused:
    """Use a code once, in ``place`` ("staff" for a 1:1 chat, "group" for a group or room).

    Every refusal looks the same to the sender: an unknown, expired or used code, a code of
    an account that is disabled, a group code of a non-admin, and a right code in the wrong
    place. A live code sent to the wrong place is spent: it may have leaked, and a new one
    costs its owner a click; answered differently, or kept alive, it would let a 1:1 chat
    find out that it had guessed a live group code. Each refusal counts against the chat
    (under today's day key) and towards a ceiling over all chats, so guesses spread over
    many rooms are throttled as well; while either is reached nothing is redeemed.
    """
    day = vault.day_number(now)
    chat_key = vault.day_digest(session, keys, LINK_CHAT, chat_id, day)
    assert chat_key is not None  # today's key is made when missing
    yesterday = vault.day_digest(session, keys, LINK_CHAT, chat_id, day - 1, create=False)
    since = now - LINK_WINDOW
    mine = (
        session.scalar(
            select(func.count()).where(
                LinkAttempt.chat_key.in_([k for k in (chat_key, yesterday) if k]),
                LinkAttempt.at >= since,
            )
        )
        or 0
    )
    everyone = session.scalar(select(func.count()).where(LinkAttempt.at >= since)) or 0
    if mine >= LINK_ATTEMPTS_ALLOWED or everyone >= LINK_GLOBAL_CEILING:
        return LinkRefused.THROTTLED
    row = session.scalars(
        select(LinkCode)
        .where(LinkCode.code_hash == keys.pepper.digest("link", code))
        .with_for_update()
    ).first()
    live = row is not None and row.used_at is None and row.expires_at > now
    staff = session.get(StaffUser, row.staff_id) if row is not None and live else None
    fits = (
        row is not None
        and staff is not None
        and staff.active
        and row.kind == place
        and (place != "group" or staff.role == "admin")
    )
    if row is not None and live:
        row.used_at = now  # used, or spent by being sent to the wrong place
    if not fits:
        session.add(LinkAttempt(chat_key=chat_key, at=now))
        return LinkRefused.INVALID
    assert row is not None
    return row


def link_staff_line(
    session: Session, keys: Keyring, staff_id: int, line_user_id: str, now: datetime
) -> None:
    """Point the staff member's notifications at this LINE account (replacing any other)."""
    line_key = repo.staff_line_key(keys, line_user_id)
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
    staff_id = hot.execute(
        session,
        hot.statements(session).staff_for_line,
        {"b_line_key": repo.staff_line_key(keys, line_user_id)},
    ).scalar()
    return active_staff(session, staff_id)


def active_staff(session: Session, staff_id: int | None) -> tuple[StaffUser, StaffLineLink] | None:
    """The active staff member ``staff_id`` and their LINE link, if both still exist."""
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


_STAFF_RECIPIENTS = (
    select(
        hot.table(StaffUser).c.id,
        hot.table(StaffUser).c.lang,
        hot.table(StaffUser).c.role,
        hot.table(StaffLineLink).c.line_user_ct,
        hot.table(StaffLineLink).c.digest,
    )
    .join(StaffLineLink, StaffLineLink.staff_id == StaffUser.id)
    .where(StaffUser.active.is_(True))
    .order_by(StaffUser.id)
)
_GROUP_RECIPIENTS = (
    select(NotificationGroup.id, NotificationGroup.group_key, NotificationGroup.group_id_ct)
    .where(NotificationGroup.active.is_(True))
    .order_by(NotificationGroup.id)
)


def recipients(session: Session, keys: Keyring) -> list[Recipient]:
    """Every linked, active staff member and every registered group."""
    session.flush()  # rows the ORM holds are seen, as by a query through it
    found = []
    # Built once and run on the driver (store.hot): every receipt asks this.
    for staff_id, lang, role, line_user_ct, digest in hot.execute(
        session, _STAFF_RECIPIENTS, {}
    ).all():
        where = f"the LINE link of staff account {staff_id}"
        to = _address(keys, line_user_ct, bind(STAFF_LINE, staff_id), where)
        if to is not None:
            found.append(Recipient(to, lang or "th", digest, staff_id, role))
    for group_id, group_key, group_id_ct in hot.execute(session, _GROUP_RECIPIENTS, {}).all():
        where = f"notification group {group_id}"
        to = _address(keys, group_id_ct, bind(GROUP_ID, group_key), where)
        if to is not None:
            found.append(Recipient(to, "th", False, None))
    return found


# --- notices and digests -------------------------------------------------------------


def add_notice(
    session: Session, kind: str, case_id: int | None, now: datetime, **detail: Any
) -> None:
    hot.execute(
        session,
        _ADD_NOTICE,
        {
            "kind": kind,
            "case_id": case_id,
            "created_at": now,
            "detail": json.dumps(detail, sort_keys=True),
        },
    )


_ADD_NOTICE = hot.table(StaffNotice).insert()


@dataclass(frozen=True)
class Activity:
    """Reporter messages and files on one case that staff are to be told of now."""

    case_id: int
    messages: int
    files: int


def _up_to_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def note_activity(
    session: Session, case_id: int, kind: str, now: datetime, quiet: timedelta
) -> Activity | None:
    """Count one reporter message (``kind`` "message") or file ("file") on a case.

    Returns everything waiting when staff may be told now, and starts a quiet interval;
    None while one runs: what waits is sent by :func:`due_activity` when it ends. So staff
    hear of one case at most once per ``quiet``, and every message and file is counted in
    exactly one push. The interval ends on a whole minute (the store keeps no finer time),
    rounded up, so it is never shorter than ``quiet``."""
    session.execute(
        _insert(session)(CaseActivity)
        .values(case_id=case_id, messages=0, files=0, quiet_until=now)
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    row = session.scalars(
        select(CaseActivity)
        .where(CaseActivity.case_id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if kind == "file":
        row.files += 1
    else:
        row.messages += 1
    if row.quiet_until > now:
        return None
    return _take(row, now, quiet)


def _take(row: CaseActivity, now: datetime, quiet: timedelta) -> Activity:
    taken = Activity(row.case_id, row.messages, row.files)
    row.messages = row.files = 0
    row.quiet_until = _up_to_minute(now + quiet)
    return taken


def due_activity(session: Session, now: datetime, quiet: timedelta) -> list[Activity]:
    """What waits on cases whose quiet interval has ended, taken (a new interval begins
    for each); cases with nothing waiting are forgotten."""
    rows = session.scalars(
        select(CaseActivity)
        .where(CaseActivity.quiet_until <= now)
        .order_by(CaseActivity.case_id)
        .with_for_update(skip_locked=True)
    ).all()
    taken = []
    for row in rows:
        if row.messages or row.files:
            taken.append(_take(row, now, quiet))
        else:
            session.delete(row)
    return taken


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


def cases_to_look_at(session: Session, now: datetime) -> list[int]:
    """The ids of the cases whose deadline look has come (a warning falls due, or something
    happened on them), in order. Read through its index: few cases in a pass."""
    return sorted(session.scalars(select(Case.id).where(Case.deadline_look_at <= now)))


def last_events(session: Session, case_ids: Collection[int]) -> dict[int, int]:
    """The id of each case's latest event: a later one means the case changed since."""
    return dict(
        session.execute(  # type: ignore[arg-type]
            select(CaseEvent.case_id, func.max(CaseEvent.id))
            .where(CaseEvent.case_id.in_(case_ids))
            .group_by(CaseEvent.case_id)
        ).all()
    )


def lock_cases(session: Session, case_ids: Collection[int]) -> None:
    """Hold these cases' rows for the transaction: no event can be added to them meanwhile
    (recording one updates the row, see ``store.models._look_again``). In id order, as
    every scan takes them, so two scans never wait for each other crosswise."""
    session.execute(
        select(Case.id).where(Case.id.in_(case_ids)).order_by(Case.id).with_for_update()
    ).all()


def set_deadline_looks(session: Session, looks: dict[int, datetime | None]) -> None:
    """When the deadline scan must next look at each of these cases."""
    if not looks:
        return
    table = hot.table(Case)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(deadline_look_at=bindparam("b_at")),
        [{"b_id": case_id, "b_at": at} for case_id, at in looks.items()],
    )


def open_case_events(
    session: Session, after: int = 0, through: int | None = None
) -> dict[int, list[tuple[datetime, str, str | None]]]:
    """(at, kind, status) of every event of every case that is not closed (with an id in
    ``after < id <= through`` when given)."""
    events: dict[int, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    query = (
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.kind, CaseEvent.status)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.status != "closed", CaseEvent.case_id > after)
        .order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)
    )
    if through is not None:
        query = query.where(CaseEvent.case_id <= through)
    for case_id, at, kind, status in session.execute(query):
        events[case_id].append((at, kind, status))
    return events


def recorded_warnings(
    session: Session, after: int = 0, through: int | None = None
) -> set[tuple[int, str, int]]:
    """(case, deadline key, threshold) of every warning sent so far (to the cases with an
    id in ``after < id <= through`` when given)."""
    query = select(
        DeadlineWarning.case_id, DeadlineWarning.deadline_key, DeadlineWarning.threshold
    ).where(DeadlineWarning.case_id > after)
    if through is not None:
        query = query.where(DeadlineWarning.case_id <= through)
    return {(case_id, key, threshold) for case_id, key, threshold in session.execute(query)}


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
