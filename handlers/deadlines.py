"""The deadlines staff are held to (seed 003, section 6), computed from a case's events.

Pure: a case's events in, its open deadlines and the warning due now out. The scheduler in
``bot/`` records each warning once per case, deadline and threshold.

* ``subcommittee`` — appoint a fact-finding subcommittee: 30 days from filing; met by the
  appointment, or by the case moving to fact-finding or beyond.
* ``order_report`` — report an appointment, suspension or transfer to the Operation
  Center: 7 days from each such order; met by ``order_reported`` after it.
* ``inquiry_progress`` — progress report on a disciplinary inquiry: every 30 days from the
  inquiry's start or the last progress report, until the inquiry report is received.
* ``consideration`` — the superior considers the inquiry report: 45 days from receipt;
  met by ``inquiry_considered``.
* ``forwarding`` — forward the result onwards: 15 days from the consideration; met by
  ``result_forwarded``.

A closed case has no open deadlines.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

# Milestones staff record on a case (CaseEvent.kind == "milestone", with this name).
MILESTONES = (
    "subcommittee_appointed",
    "official_suspended",
    "official_transferred",
    "order_reported",
    "inquiry_started",
    "inquiry_progress_reported",
    "inquiry_report_received",
    "inquiry_considered",
    "result_forwarded",
)
ORDERS = ("subcommittee_appointed", "official_suspended", "official_transferred")
PAST_FACT_FINDING = ("fact_finding", "under_consideration", "closed")

DEADLINE_DAYS = {
    "subcommittee": 30,
    "order_report": 7,
    "inquiry_progress": 30,
    "consideration": 45,
    "forwarding": 15,
}
THRESHOLDS = (7, 3, 1, 0)  # days before the deadline; 0 is "overdue"


@dataclass(frozen=True)
class CaseEventView:
    """What the deadline rules need of one event: when, and what happened."""

    at: datetime
    kind: str  # "filed", "status" or "milestone"
    name: str | None = None  # the status or the milestone


@dataclass(frozen=True)
class Deadline:
    kind: str
    started_at: datetime
    due_at: datetime

    @property
    def key(self) -> str:
        """Identifies this occurrence (a repeating deadline has one per period)."""
        return f"{self.kind}@{self.started_at.isoformat()}"


@dataclass(frozen=True)
class Warning:
    deadline: Deadline
    threshold: int  # days before; 0 means overdue

    @property
    def overdue(self) -> bool:
        return self.threshold == 0


def _due(kind: str, start: datetime) -> Deadline:
    return Deadline(kind, start, start + timedelta(days=DEADLINE_DAYS[kind]))


def open_deadlines(events: Iterable[CaseEventView]) -> list[Deadline]:
    """The deadlines not yet met, given everything that happened on the case so far."""
    ordered = sorted(events, key=lambda e: e.at)
    if any(e.kind == "status" and e.name == "closed" for e in ordered):
        return []
    milestones = [e for e in ordered if e.kind == "milestone"]
    found: list[Deadline] = []

    filed = next((e.at for e in ordered if e.kind == "filed"), None)
    appointed = any(e.name == "subcommittee_appointed" for e in milestones) or any(
        e.kind == "status" and e.name in PAST_FACT_FINDING for e in ordered
    )
    if filed is not None and not appointed:
        found.append(_due("subcommittee", filed))

    # Moving a case to fact-finding is the appointment order, if staff did not record one.
    orders = [e.at for e in milestones if e.name in ORDERS]
    if not any(e.name == "subcommittee_appointed" for e in milestones):
        orders += [e.at for e in ordered if e.kind == "status" and e.name == "fact_finding"][:1]
    reports = [e.at for e in milestones if e.name == "order_reported"]
    for order_at in sorted(orders):
        if not any(r >= order_at for r in reports):
            found.append(_due("order_report", order_at))

    started = [e.at for e in milestones if e.name == "inquiry_started"]
    received = [e.at for e in milestones if e.name == "inquiry_report_received"]
    if started and not any(r >= started[0] for r in received):
        progress = [e.at for e in milestones if e.name == "inquiry_progress_reported"]
        last = max([started[0], *[p for p in progress if p >= started[0]]])
        found.append(_due("inquiry_progress", last))

    considered = [e.at for e in milestones if e.name == "inquiry_considered"]
    if received and not any(c >= received[-1] for c in considered):
        found.append(_due("consideration", received[-1]))

    forwarded = [e.at for e in milestones if e.name == "result_forwarded"]
    if considered and not any(f >= considered[-1] for f in forwarded):
        found.append(_due("forwarding", considered[-1]))
    return found


def warning_due(deadline: Deadline, now: datetime) -> Warning | None:
    """The most urgent warning whose time has come: a late scheduler sends one, not three."""
    due = [t for t in THRESHOLDS if now >= deadline.due_at - timedelta(days=t)]
    return Warning(deadline, min(due)) if due else None


def warnings_due(events: Sequence[CaseEventView], now: datetime) -> list[Warning]:
    """Every warning the case needs now; the caller sends each (deadline, threshold) once."""
    found = []
    for deadline in open_deadlines(events):
        warning = warning_due(deadline, now)
        if warning is not None:
            found.append(warning)
    return found


def next_look(
    events: Sequence[CaseEventView], sent: Collection[tuple[str, int]], now: datetime
) -> datetime | None:
    """When the deadline scan must look at the case again: the first moment after ``now``
    at which a warning not yet sent (deadline key, threshold) falls due; None when none
    will without a new event. A warning due at ``now`` is the scan's to send now."""
    found = []
    for deadline in open_deadlines(events):
        for threshold in THRESHOLDS:  # the least urgent first: the earliest moment first
            at = deadline.due_at - timedelta(days=threshold)
            if at > now and (deadline.key, threshold) not in sent:
                found.append(at)
                break
    return min(found, default=None)


SOON_DAYS = max(THRESHOLDS)  # "due soon" from the first LINE warning on


@dataclass(frozen=True)
class Standing:
    """How one deadline stands today, as every page and message words it.

    Days are calendar days in the given zone (Bangkok for staff): a deadline due on the
    24th is "due in 1 day" all day on the 23rd, whatever the hour.
    """

    deadline: Deadline
    state: str  # "ok", "soon", "today" (due later today) or "overdue"
    days: int  # days left (0 when due today), or days overdue (at least 1)


def standing(deadline: Deadline, now: datetime, zone: tzinfo) -> Standing:
    """The one computation of "days left" that the register and the case page share."""
    today = now.astimezone(zone).date()
    days = (deadline.due_at.astimezone(zone).date() - today).days
    if now > deadline.due_at:
        return Standing(deadline, "overdue", max(1, -days))
    if days == 0:
        return Standing(deadline, "today", 0)
    return Standing(deadline, "soon" if days <= SOON_DAYS else "ok", days)


def standings(events: Iterable[CaseEventView], now: datetime, zone: tzinfo) -> list[Standing]:
    """Every open deadline of a case, soonest first."""
    found = sorted(open_deadlines(events), key=lambda d: d.due_at)
    return [standing(d, now, zone) for d in found]


def most_urgent(events: Iterable[CaseEventView], now: datetime, zone: tzinfo) -> Standing | None:
    """The deadline the register shows for a case: the soonest open one, or None."""
    found = standings(events, now, zone)
    return found[0] if found else None
