"""Telling people on LINE: staff about cases and deadlines, reporters that there is news.

Every push is written to the outbox in the transaction that causes it, so a notification
exists exactly when its cause does, and is delivered by the outbox's retries.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

import handlers
from bot.outbox import enqueue_push
from bot.runtime import Runtime
from handlers import staff as staff_messages
from handlers.deadlines import MILESTONES, CaseEventView, next_look, warnings_due
from handlers.deadlines import Warning as DueWarning  # not the builtin
from handlers.districts import BY_CODE
from handlers.model import Message
from store import notices, repo
from store.models import Case

log = logging.getLogger(__name__)

DEADLINE_BATCH = 200  # cases written per transaction: short locks, little to redo on a crash
DEADLINE_SCAN_CASES = 2000  # cases read per slice of the deadline scan
DEADLINE_SCAN_GAP = 32  # ids between two cases read in one slice at most

BANGKOK = ZoneInfo("Asia/Bangkok")
DIGEST_AT = time(8, 0)  # Bangkok time


class Notifier:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # --- building blocks -------------------------------------------------------------

    def console_url(self, case_id: int) -> str:
        return f"{self.rt.settings.public_url.rstrip('/')}/console/cases/{case_id}"

    def facts(self, case: Case | repo.NewCase, lang: str) -> staff_messages.CaseFacts:
        district = BY_CODE.get(case.district_code or "")
        agency = "-"
        if district is not None:
            agency = district.name_th if lang == "th" else district.name_en
        return staff_messages.CaseFacts(
            case_number=case.number,
            category=case.category,
            agency=agency,
            anonymous=case.anonymous,
            meets_anonymous_bar=case.meets_anonymous_bar,
            console_url=self.console_url(case.id),
        )

    def _to_staff(
        self,
        session: Session,
        now: datetime,
        purpose: str,
        build: Callable[[str], list[Message]],
        *,
        include_digest: bool = False,
        only: Callable[[notices.Recipient], bool] | None = None,
    ) -> list[int]:
        """Queue one notification for every recipient who takes notifications at once."""
        keys = self.rt.keys
        people: dict[str, list[str]] = {}
        ids: list[int] = []
        for recipient in notices.recipients(session, keys):
            if recipient.digest and not include_digest:
                continue
            if only is not None and not only(recipient):
                continue
            if recipient.staff_id is None:  # a group: push only, never multicast
                ids += enqueue_push(
                    session,
                    keys,
                    to=[recipient.to],
                    messages=build(recipient.lang),
                    now=now,
                    purpose=purpose,
                )
            else:
                people.setdefault(recipient.lang, []).append(recipient.to)
        for lang, to in people.items():
            ids += enqueue_push(
                session, keys, to=to, messages=build(lang), now=now, purpose=purpose
            )
        return ids

    # --- what happens ----------------------------------------------------------------

    def new_case(self, session: Session, case: Case | repo.NewCase, now: datetime) -> list[int]:
        notices.add_notice(session, staff_messages.NEW_CASE, case.id, now)
        return self._to_staff(
            session,
            now,
            "staff.new_case",
            lambda lang: staff_messages.new_case(lang, self.facts(case, lang)),
        )

    def reporter_activity(
        self, session: Session, case_id: int, kind: str, now: datetime
    ) -> list[int]:
        """A reporter message or file on a case. Staff hear of it at once if the case was
        quiet, else with whatever else arrives, when the case's interval ends (the worker
        sends it): one token's flood is one push per interval per staff member, not one
        per message, and each push says how many."""
        case = session.get(Case, case_id)
        if case is None:
            return []
        notices.add_notice(session, kind, case.id, now)
        what = "file" if kind == staff_messages.REPORTER_EVIDENCE else "message"
        interval = self.rt.settings.staff_notice_interval
        activity = notices.note_activity(session, case.id, what, now, interval)
        return [] if activity is None else self._tell_activity(session, case, activity, now)

    def _tell_activity(
        self, session: Session, case: Case, activity: notices.Activity, now: datetime
    ) -> list[int]:
        return self._to_staff(
            session,
            now,
            "staff.reporter_activity",
            lambda lang: staff_messages.reporter_activity(
                lang,
                case.number,
                self.console_url(case.id),
                messages=activity.messages,
                files=activity.files,
            ),
        )

    def send_gathered_activity(self) -> int:
        """Send what gathered on cases whose quiet interval has ended; returns how many
        cases staff were told of."""
        now = self.rt.clock()
        told = 0
        with self.rt.db.transaction() as session:
            for activity in notices.due_activity(
                session, now, self.rt.settings.staff_notice_interval
            ):
                case = session.get(Case, activity.case_id)
                if case is not None:
                    self._tell_activity(session, case, activity, now)
                    told += 1
        return told

    def identity_opened(
        self, session: Session, case: Case, actor: str, actor_id: int | None, now: datetime
    ) -> list[int]:
        """An opening of a sealed identity is announced at once to every other admin."""
        notices.add_notice(session, staff_messages.IDENTITY_OPENED, case.id, now)
        return self._to_staff(
            session,
            now,
            "staff.identity_opened",
            lambda lang: staff_messages.identity_opened(
                lang, case.number, actor, self.console_url(case.id)
            ),
            include_digest=True,
            only=lambda r: r.role == "admin" and r.staff_id != actor_id,
        )

    def audit_checkpoint(self, session: Session, count: int, line: str, now: datetime) -> list[int]:
        """The signed audit checkpoint goes to every linked admin, off the server."""
        return self._to_staff(
            session,
            now,
            "staff.audit_checkpoint",
            lambda lang: staff_messages.audit_checkpoint(lang, now, count, line),
            include_digest=True,
            only=lambda r: r.role == "admin",
        )

    def audit_broken(self, session: Session, now: datetime) -> list[int]:
        return self._to_staff(
            session,
            now,
            "staff.audit_broken",
            staff_messages.audit_broken,
            include_digest=True,
            only=lambda r: r.role == "admin",
        )

    def reporter_update(self, session: Session, case: Case, now: datetime) -> list[int]:
        """Tell an opted-in reporter there is news — only that; the token shows the rest.

        A closed case says so one last time, then its update link is destroyed: the
        reporter chose the link until the case closes, not longer."""
        # Only where the last push was read: a second change before the reporter looks
        # would send a second, identical push (issue 14, item 7).
        addresses = repo.news_addresses(session, self.rt.keys, case.id)
        if case.status == "closed":
            repo.forget_update_links(session, case.id)
        if not addresses:
            return []
        return enqueue_push(
            session,
            self.rt.keys,
            to=addresses,
            messages=handlers.update_notice(case.lang),
            now=now,
            purpose="update",
        )

    # --- scheduled jobs --------------------------------------------------------------

    def check_deadlines(self) -> int:
        """Send every deadline warning that is due and not yet sent; returns how many.

        Only the cases whose look has come are read (``Case.deadline_look_at``: their next
        warning falls due, or something happened on them), a slice of neighbouring cases
        at a time, in reads that hold no lock (on SQLite, no writer lock: the webhook goes
        on). Each slice's warnings are then recorded and queued, and its cases' next looks
        written, in small transactions; a case that changed since it was read is left to
        the next pass. The unique record of each warning keeps two workers from both
        sending one.
        """
        now = self.rt.clock()
        with self.rt.db.reading() as session:
            ids = notices.cases_to_look_at(session, now)
        sent = 0
        for piece in _slices(ids):
            looks = self._read_slice(piece, now)
            for start in range(0, len(looks), DEADLINE_BATCH):
                with self.rt.db.transaction() as session:
                    sent += self._record_looks(session, looks[start : start + DEADLINE_BATCH], now)
        if sent:
            log.info("deadline warnings queued: %s", sent)
        return sent

    def _read_slice(self, case_ids: list[int], now: datetime) -> list[_Look]:
        after, through = case_ids[0] - 1, case_ids[-1]
        with self.rt.db.reading() as session:
            # First: an event added after this read makes the case look changed later.
            last = notices.last_events(session, case_ids)
            recorded: dict[int, set[tuple[str, int]]] = defaultdict(set)
            for case_id, key, threshold in notices.recorded_warnings(session, after, through):
                recorded[case_id].add((key, threshold))
            events = notices.open_case_events(session, after, through)
        looks = []
        for case_id in case_ids:
            views = [
                CaseEventView(at, "milestone", kind)
                if kind in MILESTONES
                else CaseEventView(at, kind, status)
                for at, kind, status in events.get(case_id, [])
            ]
            sent = recorded[case_id]
            due = [w for w in warnings_due(views, now) if (w.deadline.key, w.threshold) not in sent]
            sent |= {(w.deadline.key, w.threshold) for w in due}
            looks.append(_Look(case_id, last.get(case_id), due, next_look(views, sent, now)))
        return looks

    def _record_looks(self, session: Session, looks: list[_Look], now: datetime) -> int:
        ids = [look.case_id for look in looks]
        notices.lock_cases(session, ids)
        last = notices.last_events(session, ids)
        unchanged = [look for look in looks if last.get(look.case_id) == look.last_event]
        sent = 0
        for look in unchanged:
            for warning in look.due:
                if self._warn(session, look.case_id, warning, now):
                    sent += 1
        notices.set_deadline_looks(session, {look.case_id: look.next_at for look in unchanged})
        return sent

    def _warn(self, session: Session, case_id: int, warning: DueWarning, now: datetime) -> bool:
        deadline = warning.deadline
        if not notices.record_warning(session, case_id, deadline.key, warning.threshold, now):
            return False  # another worker got there first
        case = session.get(Case, case_id)
        if case is None:
            return False  # deleted since the scan
        notices.add_notice(
            session,
            staff_messages.DEADLINE,
            case_id,
            now,
            deadline=deadline.kind,
            threshold=warning.threshold,
        )
        self._to_staff(
            session,
            now,
            "staff.deadline",
            lambda lang: staff_messages.deadline_warning(
                lang, case.number, deadline.kind, warning.threshold, deadline.due_at,
                self.console_url(case.id),
            ),
        )  # fmt: skip
        return True

    def send_digests(self) -> int:
        """Each staff member who chose a digest gets one a day, after 08:00 Bangkok time."""
        now = self.rt.clock()
        local = now.astimezone(BANGKOK)
        today_at = datetime.combine(local.date(), DIGEST_AT, BANGKOK)
        due_since = today_at if local >= today_at else today_at - timedelta(days=1)
        sent = 0
        with self.rt.db.transaction() as session:
            for recipient in notices.recipients(session, self.rt.keys):
                if not recipient.digest or recipient.staff_id is None:
                    continue
                since = notices.last_digest(session, recipient.staff_id) or now - timedelta(days=1)
                if not notices.claim_digest(session, recipient.staff_id, due_since, now):
                    continue
                happened = notices.notices_between(session, since, now)

                def numbers(
                    *kinds: str, happened: list[tuple[str, str]] = happened
                ) -> tuple[str, ...]:
                    return tuple(dict.fromkeys(n for k, n in happened if k in kinds))

                counts = staff_messages.DigestCounts(
                    new_cases=numbers(staff_messages.NEW_CASE),
                    messages=numbers(
                        staff_messages.REPORTER_MESSAGE, staff_messages.REPORTER_EVIDENCE
                    ),
                    deadlines=numbers(staff_messages.DEADLINE),
                )
                enqueue_push(
                    session,
                    self.rt.keys,
                    to=[recipient.to],
                    messages=staff_messages.digest(
                        recipient.lang,
                        now,
                        counts,
                        f"{self.rt.settings.public_url.rstrip('/')}/console/cases",
                    ),
                    now=now,
                    purpose="staff.digest",
                )
                sent += 1
        return sent


@dataclass(frozen=True)
class _Look:
    """What the deadline scan read of one case: its latest event then, the warnings due,
    and when to look again once they are sent."""

    case_id: int
    last_event: int | None
    due: list[DueWarning]
    next_at: datetime | None


def _slices(case_ids: list[int]) -> list[list[int]]:
    """Cases to read together: at most ``DEADLINE_SCAN_CASES``, and near enough by id
    that the read of their range holds few other cases."""
    found: list[list[int]] = []
    for case_id in case_ids:
        if (
            found
            and len(found[-1]) < DEADLINE_SCAN_CASES
            and case_id - found[-1][-1] <= DEADLINE_SCAN_GAP
        ):
            found[-1].append(case_id)
        else:
            found.append([case_id])
    return found


def _numbers(happened: list[tuple[str, str]], *kinds: str) -> tuple[str, ...]:
    """The case numbers of notices of these kinds, each once, in order."""
    return tuple(dict.fromkeys(number for kind, number in happened if kind in kinds))
