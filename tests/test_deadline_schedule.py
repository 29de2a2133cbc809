"""Sixty simulated days of the scheduler: exactly which deadline warnings go out, and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.runtime import Runtime
from bot.worker import Worker
from store import notices, repo
from store.models import Case, DeadlineWarning
from tests.conftest import Bot, Clock, texts_of
from tests.test_staff_notifications import linked_staff


def _file_case(bot: Bot, now: datetime, token: str) -> int:
    with bot.runtime.db.transaction() as session:
        return repo.create_case(
            session,
            bot.runtime.keys,
            now=now,
            token=token,
            channel="line",
            lang="th",
            category="public_works",
            district_code="1001",
            anonymous=True,
            meets_anonymous_bar=True,
            content={"description": "synthetic"},
            identity=None,
            notify_user_id=None,
        ).case_id


def test_sixty_days_of_deadline_warnings(
    bot: Bot, clock: Clock, new_chat: Any, other_runtime: Callable[[], Runtime]
) -> None:
    officer = linked_staff(bot, new_chat, "deadlines", lang="en")
    start = clock()
    quiet = _file_case(bot, start, "AAAA-AAAA-AAAA-AAA1")
    busy = _file_case(bot, start, "AAAA-AAAA-AAAA-AAA2")
    # What staff do on the busy case, by day: fact-finding begins on day 25 (after the
    # first subcommittee warning), the order is reported on day 30, an inquiry starts on 35.
    actions = {
        25: lambda s, at: repo.set_status(s, bot.runtime.keys, busy, "fact_finding", at),
        30: lambda s, at: notices.record_milestone(s, busy, "order_reported", at),
        35: lambda s, at: notices.record_milestone(s, busy, "inquiry_started", at),
    }
    # Two workers at once, and on day 40 both restart: warnings live in the database.
    workers = [Worker(bot.runtime), Worker(other_runtime())]
    for hour in range(1, 60 * 24 + 1):
        clock.advance(hours=1)
        if hour % 24 == 0 and hour // 24 in actions:
            with bot.runtime.db.transaction() as session:
                actions[hour // 24](session, clock())
        if hour == 40 * 24:
            workers = [Worker(bot.runtime), Worker(other_runtime())]
        for worker in workers:
            worker.run_once()

    with bot.runtime.db.transaction() as session:
        sent = session.execute(
            select(
                DeadlineWarning.case_id,
                DeadlineWarning.deadline_key,
                DeadlineWarning.threshold,
                DeadlineWarning.sent_at,
            ).order_by(DeadlineWarning.sent_at, DeadlineWarning.case_id)
        ).all()
    timeline = [
        (
            "quiet" if case_id == quiet else "busy",
            key.split("@")[0],
            threshold,
            (at - start) // timedelta(days=1),
        )
        for case_id, key, threshold, at in sent
    ]
    assert sorted(timeline, key=lambda row: (row[3], row[0])) == [
        ("busy", "subcommittee", 7, 23),
        ("quiet", "subcommittee", 7, 23),
        ("busy", "order_report", 7, 25),
        ("quiet", "subcommittee", 3, 27),
        ("busy", "order_report", 3, 29),
        ("quiet", "subcommittee", 1, 29),
        ("quiet", "subcommittee", 0, 30),
        ("busy", "inquiry_progress", 7, 58),
    ]

    bot.settle()
    received = officer.new_messages()
    assert len(received) == len(timeline), "each warning reaches the staff member once"
    with bot.runtime.db.transaction() as session:
        numbers = {c.id: c.number for c in session.scalars(select(Case))}
    overdue = [m for m in received if "Overdue" in texts_of([m])]
    assert len(overdue) == 1 and numbers[quiet] in texts_of(overdue)
    assert all(m["type"] == "flex" and m["altText"] for m in received)


def test_a_scheduler_that_was_down_sends_the_most_urgent_warning_once(
    bot: Bot, clock: Clock
) -> None:
    start = clock()
    case_id = _file_case(bot, start, "AAAA-AAAA-AAAA-AAA3")
    clock.advance(days=29, hours=12)  # the worker was down through the 7- and 3-day marks
    worker = Worker(bot.runtime)
    worker.run_once()
    worker.run_once()
    with bot.runtime.db.transaction() as session:
        rows = (
            session.execute(
                select(DeadlineWarning.threshold).where(DeadlineWarning.case_id == case_id)
            )
            .scalars()
            .all()
        )
    assert rows == [1]


def test_many_due_warnings_are_recorded_in_small_batches_each_once(
    bot: Bot, clock: Clock, monkeypatch: Any
) -> None:
    import bot.notifications as notifications

    monkeypatch.setattr(notifications, "DEADLINE_BATCH", 2)
    start = clock()
    cases = [_file_case(bot, start, f"AAAA-AAAA-AAAA-AAB{n}") for n in range(5)]
    clock.advance(days=29, hours=12)
    committed: list[int] = []
    transaction = bot.runtime.db.transaction

    def counted():  # type: ignore[no-untyped-def]
        committed.append(1)
        return transaction()

    monkeypatch.setattr(bot.runtime.db, "transaction", counted)
    assert Worker(bot.runtime).notifier.check_deadlines() == 5
    assert len(committed) == 3, "five warnings in transactions of two"
    assert Worker(bot.runtime).notifier.check_deadlines() == 0, "each warning once"
    with bot.runtime.db.transaction() as session:
        warned = session.execute(select(DeadlineWarning.case_id)).scalars().all()
    assert sorted(warned) == sorted(cases)


def test_the_deadline_scan_does_not_hold_up_the_webhook(bot: Bot) -> None:
    """The scan reads every open case; on SQLite it must not take the writer lock, or
    every webhook would wait for it."""
    import threading
    import time

    finished: list[float] = []
    with bot.runtime.db.reading() as session:
        notices.open_case_events(session)

        def write() -> None:
            started = time.monotonic()
            with bot.runtime.db.transaction() as other:
                repo.claim_event(
                    other, bot.runtime.keys, "scan-test-event", datetime.now().astimezone()
                )
            finished.append(time.monotonic() - started)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=5)
    assert finished and finished[0] < 2, "a write waited for the scan"
