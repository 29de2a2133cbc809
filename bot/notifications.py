"""Telling people on LINE: staff about cases and deadlines, reporters that there is news.

Every push is written to the outbox in the transaction that causes it, so a notification
exists exactly when its cause does, and is delivered by the outbox's retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

import handlers
from bot.outbox import enqueue_push
from bot.runtime import Runtime
from handlers import staff as staff_messages
from handlers.deadlines import MILESTONES, CaseEventView, warnings_due
from handlers.deadlines import Warning as DueWarning  # not the builtin
from handlers.districts import BY_CODE
from handlers.model import Message
from store import notices, repo
from store.models import Case

log = logging.getLogger(__name__)

DEADLINE_BATCH = 200  # warnings per transaction: short locks, little to redo on a crash
DEADLINE_SCAN_CASES = 2000  # open cases read per slice of the deadline scan

BANGKOK = ZoneInfo("Asia/Bangkok")
DIGEST_AT = time(8, 0)  # Bangkok time


class Notifier:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # --- building blocks -------------------------------------------------------------

    def console_url(self, case_id: int) -> str:
        return f"{self.rt.settings.public_url.rstrip('/')}/console/cases/{case_id}"

    def facts(self, case: Case, lang: str) -> staff_messages.CaseFacts:
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

    def new_case(self, session: Session, case: Case, now: datetime) -> list[int]:
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

        The scan of every open case, a slice of cases at a time, is a read that holds no
        lock (on SQLite, no writer lock: the webhook goes on); each slice's warnings are
        then recorded and queued in small transactions. The unique record of each warning
        keeps two workers from both sending one.
        """
        now = self.rt.clock()
        sent = 0
        after = 0
        # A slice of the register at a time: memory stays that of one slice, however many
        # cases there are (issue 12: reading them all took the worker over 150 MB).
        while True:
            with self.rt.db.reading() as session:
                ids = notices.open_cases_after(session, after, DEADLINE_SCAN_CASES)
                if not ids:
                    break
                sent_before = notices.recorded_warnings(session, after, ids[-1])
                due = [
                    (case_id, warning)
                    for case_id, rows in notices.open_case_events(session, after, ids[-1]).items()
                    for warning in warnings_due(
                        [
                            CaseEventView(at, "milestone", kind)
                            if kind in MILESTONES
                            else CaseEventView(at, kind, status)
                            for at, kind, status in rows
                        ],
                        now,
                    )
                    if (case_id, warning.deadline.key, warning.threshold) not in sent_before
                ]
            after = ids[-1]
            for start in range(0, len(due), DEADLINE_BATCH):
                with self.rt.db.transaction() as session:
                    for case_id, warning in due[start : start + DEADLINE_BATCH]:
                        if self._warn(session, case_id, warning, now):
                            sent += 1
        if sent:
            log.info("deadline warnings queued: %s", sent)
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


def _numbers(happened: list[tuple[str, str]], *kinds: str) -> tuple[str, ...]:
    """The case numbers of notices of these kinds, each once, in order."""
    return tuple(dict.fromkeys(number for kind, number in happened if kind in kinds))
