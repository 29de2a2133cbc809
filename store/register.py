"""The register as each staff member sees it: unread markers and search.

Unread markers are per staff member: a case shows "new message from the reporter" or
"new evidence" until that member has opened it (``CaseReadMark`` holds the last message
and evidence ids shown to them).

Search applies what SQL can judge first (status, category, district, channel, dates,
unread), then what only this process can: the report text, decrypted here and never
indexed or stored in plaintext, and the deadline state, computed from each case's events
by ``handlers.deadlines``. That second stage reads at most ``budget`` cases per request,
newest first; when the budget runs out before a page is full, the page says so and its
cursor continues the scan where it stopped.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import case as when_then
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handlers.deadlines import MILESTONES, CaseEventView, Standing, most_urgent
from store import repo, staff
from store.crypto import CryptoError, Keyring, bind, open_in_place
from store.models import Attachment, Case, CaseEvent, CaseMessage, CaseReadMark

DEADLINE_STATES = ("overdue", "soon", "ok", "none")
SCAN_BUDGET = 10_000  # cases whose text or deadline one request may examine
CHUNK = 500


# --- unread markers ------------------------------------------------------------------


@dataclass(frozen=True)
class Unread:
    messages: bool  # a reporter's message this staff member has not seen
    evidence: bool  # evidence sent after filing that this staff member has not seen

    def __bool__(self) -> bool:
        return self.messages or self.evidence


def _seen(staff_id: int, column: Any) -> Any:
    mark = select(column).where(CaseReadMark.staff_id == staff_id, CaseReadMark.case_id == Case.id)
    return func.coalesce(mark.scalar_subquery(), 0)


def _new_messages(staff_id: int) -> Any:
    return exists().where(
        CaseMessage.case_id == Case.id,
        CaseMessage.direction == "reporter",
        CaseMessage.id > _seen(staff_id, CaseReadMark.message_id),
    )


def _new_evidence(staff_id: int) -> Any:
    return exists().where(
        Attachment.case_id == Case.id,
        Attachment.after_filing.is_(True),
        Attachment.id > _seen(staff_id, CaseReadMark.attachment_id),
    )


def unread_clause(staff_id: int) -> Any:
    """SQL: the case has something this staff member has not seen."""
    return or_(_new_messages(staff_id), _new_evidence(staff_id))


def unread(session: Session, staff_id: int, case_ids: Sequence[int]) -> dict[int, Unread]:
    """The markers of some cases (a page of the register) for one staff member."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(Case.id, _new_messages(staff_id), _new_evidence(staff_id)).where(
            Case.id.in_(case_ids)
        )
    ).all()
    return {case_id: Unread(bool(m), bool(e)) for case_id, m, e in rows}


def last_seen(session: Session, staff_id: int, case_id: int) -> tuple[int, int]:
    """(message id, attachment id) this staff member had seen before this visit."""
    row = session.execute(
        select(CaseReadMark.message_id, CaseReadMark.attachment_id).where(
            CaseReadMark.staff_id == staff_id, CaseReadMark.case_id == case_id
        )
    ).first()
    return (row[0], row[1]) if row else (0, 0)


def mark_read(session: Session, staff_id: int, case_id: int) -> None:
    """Everything the case holds now has been shown to this staff member."""
    message_id = session.scalar(
        select(func.coalesce(func.max(CaseMessage.id), 0)).where(
            CaseMessage.case_id == case_id, CaseMessage.direction == "reporter"
        )
    )
    attachment_id = session.scalar(
        select(func.coalesce(func.max(Attachment.id), 0)).where(Attachment.case_id == case_id)
    )
    values = {"message_id": int(message_id or 0), "attachment_id": int(attachment_id or 0)}
    moved = session.execute(
        update(CaseReadMark)
        .where(CaseReadMark.staff_id == staff_id, CaseReadMark.case_id == case_id)
        .values(
            # Never backwards: two tabs may save their views out of order.
            {
                column: when_then((column > value, column), else_=value)
                for column, value in (
                    (CaseReadMark.message_id, values["message_id"]),
                    (CaseReadMark.attachment_id, values["attachment_id"]),
                )
            }
        )
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(CaseReadMark(staff_id=staff_id, case_id=case_id, **values))
    except IntegrityError:
        pass  # the same member's other tab wrote it first: both saw the same case


# --- deadlines -----------------------------------------------------------------------


def event_views(events: Iterable[CaseEvent]) -> list[CaseEventView]:
    """A case's timeline as the deadline rules read it."""
    return [
        CaseEventView(e.at, "milestone", e.kind)
        if e.kind in MILESTONES
        else CaseEventView(e.at, e.kind, e.status)
        for e in events
    ]


def urgent_deadlines(
    session: Session, case_ids: Sequence[int], now: datetime, zone: tzinfo
) -> dict[int, Standing | None]:
    """Each case's soonest open deadline, by the one rule the case page also uses."""
    found: dict[int, list[CaseEvent]] = {case_id: [] for case_id in case_ids}
    if case_ids:
        rows = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).order_by(CaseEvent.id)
        )
        for event in rows:
            found[event.case_id].append(event)
    return {case_id: most_urgent(event_views(ev), now, zone) for case_id, ev in found.items()}


def deadline_state(standing: Standing | None) -> str:
    """The register's deadline filter value: "today" counts as "soon"."""
    if standing is None:
        return "none"
    return "soon" if standing.state == "today" else standing.state


# --- search --------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Thai and English compared alike: NFC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)


def searchable_text(keys: Keyring, number: str, content_ct: bytes, note_ct: bytes | None) -> str:
    """What staff see of the report on the case page, decrypted here, for matching only.
    Works on the row's columns, not a loaded case: a search reads thousands of them."""
    try:
        content = json.loads(
            open_in_place(keys.data, content_ct, bind(repo.CASE_CONTENT, number), number)
        )
        note = (
            open_in_place(keys.data, note_ct, bind(repo.CASE_NOTE, number), number).decode()
            if note_ct is not None
            else ""
        )
    except (CryptoError, ValueError):
        return ""  # unreadable here (misplaced or damaged): the case page says so
    if isinstance(content, dict):
        content.pop(repo.SEALED_IDENTITY, None)  # the sealed identity's record, not text
    return normalise(" ".join([*_leaves(content), note]))


@dataclass(frozen=True)
class SearchPage:
    cases: list[Case]
    next_cursor: str | None
    scanned: int  # cases whose text or deadline was examined (0 when SQL alone sufficed)
    partial: bool  # the budget ran out before the page was full: the cursor continues


def search(
    session: Session,
    keys: Keyring,
    flt: staff.CaseFilter,
    *,
    now: datetime,
    zone: tzinfo,
    text: str = "",
    deadline: str | None = None,
    unread_for: int | None = None,
    sort: str = "filed_desc",
    cursor: str | None = None,
    limit: int = 50,
    budget: int = SCAN_BUDGET,
) -> SearchPage:
    """One page of the register matching every filter, in the list's order."""
    column, descending = staff.SORTS.get(sort, staff.SORTS["filed_desc"])
    query = staff.case_query(flt, now)
    if unread_for is not None:
        query = query.where(unread_clause(unread_for))
    if deadline in ("overdue", "soon", "ok"):
        query = query.where(Case.status != "closed")  # a closed case has no open deadline
    order = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
    position = staff.decode_cursor(cursor) if cursor else None
    words = normalise(text).split()
    judged = bool(words) or deadline in DEADLINE_STATES
    if not judged:
        page = query
        if position is not None:
            page = page.where(staff.after_cursor(column, descending, *position))
        rows = list(session.scalars(page.order_by(*order).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        last = _cursor_of(rows[-1], column) if more else None
        return SearchPage(rows, last, 0, False)

    matches: list[int] = []
    scanned = 0
    exhausted = False
    columns = query.with_only_columns(
        Case.id, Case.number, column, Case.content_ct, Case.public_note_ct
    )
    while len(matches) <= limit and scanned < budget:
        chunk_query = columns
        if position is not None:
            chunk_query = chunk_query.where(staff.after_cursor(column, descending, *position))
        wanted = min(CHUNK, budget - scanned)
        chunk = session.execute(chunk_query.order_by(*order).limit(wanted)).all()
        if not chunk:
            exhausted = True
            break
        urgent = (
            urgent_deadlines(session, [row[0] for row in chunk], now, zone)
            if deadline in DEADLINE_STATES
            else {}
        )
        for case_id, number, sort_value, content_ct, note_ct in chunk:
            scanned += 1
            position = (sort_value, case_id)
            if deadline in DEADLINE_STATES and deadline_state(urgent[case_id]) != deadline:
                continue
            if words:
                haystack = searchable_text(keys, number, content_ct, note_ct)
                if not all(word in haystack for word in words):
                    continue
            matches.append(case_id)
            if len(matches) > limit:
                break
        if len(chunk) < wanted and len(matches) <= limit:
            exhausted = True
            break
    found = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(matches)))}
    cases = [found[case_id] for case_id in matches]
    if len(cases) > limit:
        page_rows = cases[:limit]
        return SearchPage(page_rows, _cursor_of(page_rows[-1], column), scanned, False)
    if not exhausted and position is not None:
        # The budget ran out exactly at the end of the register: nothing to continue with.
        rest = columns.where(staff.after_cursor(column, descending, *position)).limit(1)
        exhausted = session.execute(rest).first() is None
    if exhausted or position is None:
        return SearchPage(cases, None, scanned, False)
    # The budget ran out: continue from the last case examined, not the last match.
    return SearchPage(cases, staff.encode_cursor(*position), scanned, True)


def _cursor_of(case: Case, column: Any) -> str:
    return staff.encode_cursor(getattr(case, column.key), case.id)
