"""The deadline rules of seed 003 section 6, as plain function calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.deadlines import CaseEventView, open_deadlines, warning_due, warnings_due

DAY0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def filed() -> CaseEventView:
    return CaseEventView(DAY0, "filed", "received")


def test_a_new_case_must_get_a_subcommittee_within_30_days() -> None:
    [deadline] = open_deadlines([filed()])
    assert deadline.kind == "subcommittee" and deadline.due_at == day(30)


def test_warnings_come_7_3_and_1_days_before_and_when_overdue() -> None:
    [deadline] = open_deadlines([filed()])
    assert warning_due(deadline, day(22.9)) is None
    assert [warning_due(deadline, day(d)).threshold for d in (23, 26.9, 27, 29, 30, 45)] == [  # type: ignore[union-attr]
        7,
        7,
        3,
        1,
        0,
        0,
    ]


def test_moving_to_fact_finding_meets_the_subcommittee_deadline_and_starts_the_7_day_report() -> (
    None
):
    events = [filed(), CaseEventView(day(10), "status", "fact_finding")]
    [deadline] = open_deadlines(events)
    assert deadline.kind == "order_report" and deadline.due_at == day(17)
    events.append(CaseEventView(day(12), "milestone", "order_reported"))
    assert open_deadlines(events) == []


def test_a_suspension_order_needs_its_own_report() -> None:
    events = [
        filed(),
        CaseEventView(day(5), "milestone", "subcommittee_appointed"),
        CaseEventView(day(6), "milestone", "order_reported"),
        CaseEventView(day(20), "milestone", "official_suspended"),
    ]
    [deadline] = open_deadlines(events)
    assert deadline.kind == "order_report" and deadline.started_at == day(20)


def test_inquiry_progress_is_due_every_30_days_until_the_report_arrives() -> None:
    events = [
        filed(),
        CaseEventView(day(3), "status", "fact_finding"),
        CaseEventView(day(4), "milestone", "order_reported"),
        CaseEventView(day(10), "milestone", "inquiry_started"),
    ]
    assert [(d.kind, d.due_at) for d in open_deadlines(events)] == [("inquiry_progress", day(40))]
    events.append(CaseEventView(day(38), "milestone", "inquiry_progress_reported"))
    assert [d.due_at for d in open_deadlines(events)] == [day(68)]
    events.append(CaseEventView(day(50), "milestone", "inquiry_report_received"))
    assert [(d.kind, d.due_at) for d in open_deadlines(events)] == [("consideration", day(95))]
    events.append(CaseEventView(day(60), "milestone", "inquiry_considered"))
    assert [(d.kind, d.due_at) for d in open_deadlines(events)] == [("forwarding", day(75))]
    events.append(CaseEventView(day(70), "milestone", "result_forwarded"))
    assert open_deadlines(events) == []


def test_a_closed_case_has_no_deadlines() -> None:
    events = [filed(), CaseEventView(day(3), "status", "closed")]
    assert warnings_due(events, day(40)) == []
