"""The deadline scan reads the register a slice of cases at a time (issue 12: bounded
memory with 100,000 cases) and still records every warning once per case, deadline and
threshold, whatever the slice size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.worker import Worker
from handlers.deadlines import Deadline
from store import notices, repo
from store.models import CaseEvent, DeadlineWarning
from tests.conftest import Bot, Clock
from tests.test_deadline_schedule import _file_case


def _warnings(bot: Bot) -> list[tuple[int, str, int]]:
    """(case, deadline kind, threshold) of every warning recorded."""
    with bot.runtime.db.transaction() as session:
        rows = session.execute(
            select(DeadlineWarning.case_id, DeadlineWarning.deadline_key, DeadlineWarning.threshold)
        ).all()
    return sorted((case_id, key.split("@")[0], threshold) for case_id, key, threshold in rows)


def test_slices_of_two_cases_warn_like_one_scan_each_warning_once(
    bot: Bot, clock: Clock, monkeypatch: Any
) -> None:
    import bot.notifications as notifications

    monkeypatch.setattr(notifications, "DEADLINE_SCAN_CASES", 2)
    start = clock()
    cases = [_file_case(bot, start, f"AAAA-AAAA-AAAA-AAC{n}") for n in range(7)]
    # A closed case in the middle of a slice, and one whose order is due a week later.
    with bot.runtime.db.transaction() as session:
        repo.set_status(session, bot.runtime.keys, cases[2], "closed", start, outcome="no_grounds")
        repo.set_status(session, bot.runtime.keys, cases[5], "fact_finding", start)
    scanned: list[tuple[int, int | None]] = []
    events = notices.open_case_events

    def counted(session: Any, after: int = 0, through: int | None = None) -> Any:
        scanned.append((after, through))
        return events(session, after, through)

    monkeypatch.setattr(notices, "open_case_events", counted)
    clock.advance(days=6, hours=12)  # the order report on cases[5] is due in half a day
    assert Worker(bot.runtime).notifier.check_deadlines() == 1
    assert len(scanned) == 3, "six open cases in slices of two"
    assert all(through is not None for _, through in scanned)
    clock.advance(days=17)  # day 23.5: the 7-day mark of the subcommittee deadline
    worker = Worker(bot.runtime)
    assert worker.notifier.check_deadlines() == 6
    assert worker.notifier.check_deadlines() == 0, "each warning once"
    others = [c for c in cases if c not in (cases[2], cases[5])]
    assert _warnings(bot) == sorted(
        [(c, "subcommittee", 7) for c in others]
        + [(cases[5], "order_report", 1), (cases[5], "order_report", 0)]
    )


def test_a_warning_recorded_before_is_not_sent_again_from_a_later_slice(
    bot: Bot, clock: Clock, monkeypatch: Any
) -> None:
    import bot.notifications as notifications

    monkeypatch.setattr(notifications, "DEADLINE_SCAN_CASES", 1)
    start = clock()
    cases = [_file_case(bot, start, f"AAAA-AAAA-AAAA-AAD{n}") for n in range(3)]
    clock.advance(days=29, hours=12)
    with bot.runtime.db.transaction() as session:
        filed = session.scalars(
            select(CaseEvent.at).where(CaseEvent.case_id == cases[1], CaseEvent.kind == "filed")
        ).one()
        key = Deadline("subcommittee", filed, filed).key
        assert notices.record_warning(session, cases[1], key, 1, clock())
    assert Worker(bot.runtime).notifier.check_deadlines() == 2
    assert [(c, t) for c, _, t in _warnings(bot)] == [(c, 1) for c in cases]
