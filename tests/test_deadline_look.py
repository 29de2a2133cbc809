"""The deadline scan reads only the cases whose look has come (issue 12): each case keeps
when its next warning falls due, anything that happens on it makes the next scan look
again, and a case that changes while the scan reads it keeps that mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select

from bot.worker import Worker
from handlers.deadlines import CaseEventView, Deadline, next_look
from store import migrate, notices, repo
from store.db import Database
from store.models import Case, CaseEvent, CaseMessage, DeadlineWarning
from tests.conftest import Bot, Clock
from tests.test_deadline_schedule import _file_case

FILED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# A case row as revision 0015 wrote it, but for its number, status and token hash.
OLD_CASE = {
    "channel": "line", "lang": "th", "category": "money", "district_code": None,
    "anonymous": True, "meets_anonymous_bar": False, "filed_at": FILED, "updated_at": FILED,
    "content_ct": b"x",
}  # fmt: skip


def _looks(bot: Bot, *case_ids: int) -> list[datetime | None]:
    with bot.runtime.db.reading() as session:
        found = dict(session.execute(select(Case.id, Case.deadline_look_at)).all())
    return [found[case_id] for case_id in case_ids]


def _read_events(monkeypatch: Any) -> list[tuple[int, int | None]]:
    """Every (after, through) range whose events the scan reads, as it reads them."""
    ranges: list[tuple[int, int | None]] = []
    events = notices.open_case_events

    def counted(session: Any, after: int = 0, through: int | None = None) -> Any:
        ranges.append((after, through))
        return events(session, after, through)

    monkeypatch.setattr(notices, "open_case_events", counted)
    return ranges


def test_the_next_look_is_the_next_warning_not_yet_sent() -> None:
    filed = [CaseEventView(FILED, "filed", "received")]
    key = Deadline("subcommittee", FILED, FILED).key
    assert next_look(filed, set(), FILED) == FILED + timedelta(days=23)
    # On day 23.5 the 7-day warning is the scan's to send now; after it, the 3-day mark.
    day = FILED + timedelta(days=23, hours=12)
    assert next_look(filed, {(key, 7)}, day) == FILED + timedelta(days=27)
    # A scheduler that was away sends the most urgent one; the skipped ones never come.
    late = FILED + timedelta(days=29, hours=12)
    assert next_look(filed, {(key, 1)}, late) == FILED + timedelta(days=30)
    assert next_look(filed, {(key, 0)}, FILED + timedelta(days=31)) is None
    closed = [*filed, CaseEventView(FILED + timedelta(days=2), "status", "closed")]
    assert next_look(closed, set(), FILED) is None


def test_a_pass_reads_only_the_cases_whose_look_has_come(
    bot: Bot, clock: Clock, monkeypatch: Any
) -> None:
    start = clock()
    cases = [_file_case(bot, start, f"AAAA-AAAA-AAAA-AAE{n}") for n in range(4)]
    ranges = _read_events(monkeypatch)
    notifier = Worker(bot.runtime).notifier
    assert notifier.check_deadlines() == 0
    assert ranges == [(cases[0] - 1, cases[-1])], "new cases are looked at once, together"
    assert _looks(bot, *cases) == [start.replace(second=0, microsecond=0) + timedelta(days=23)] * 4

    ranges.clear()
    clock.advance(days=3)
    assert notifier.check_deadlines() == 0
    assert ranges == [], "no case's look has come: no events read"

    at = clock()
    with bot.runtime.db.transaction() as session:
        notices.record_milestone(session, cases[2], "inquiry_started", at)
    assert _looks(bot, cases[2]) == [at.replace(second=0, microsecond=0)]
    assert notifier.check_deadlines() == 0
    assert ranges == [(cases[2] - 1, cases[2])], "only the case something happened on"
    # Its inquiry's first progress report is due 30 days on; the subcommittee's comes first.
    assert _looks(bot, cases[2]) == _looks(bot, cases[0])

    ranges.clear()
    clock.advance(days=20, hours=12)  # day 23.5: every case's 7-day subcommittee warning
    assert notifier.check_deadlines() == 4
    assert ranges == [(cases[0] - 1, cases[-1])]
    assert notifier.check_deadlines() == 0, "each warning once"


def test_closing_a_case_ends_its_looks(bot: Bot, clock: Clock, monkeypatch: Any) -> None:
    case_id = _file_case(bot, clock(), "AAAA-AAAA-AAAA-AAF1")
    with bot.runtime.db.transaction() as session:
        repo.set_status(session, bot.runtime.keys, case_id, "closed", clock(), outcome="no_grounds")
    assert _looks(bot, case_id) == [None]
    ranges = _read_events(monkeypatch)
    clock.advance(days=40)
    assert Worker(bot.runtime).notifier.check_deadlines() == 0
    assert ranges == []


def test_a_case_that_changes_while_the_scan_reads_it_keeps_its_mark(
    bot: Bot, clock: Clock, monkeypatch: Any
) -> None:
    start = clock()
    case_id = _file_case(bot, start, "AAAA-AAAA-AAAA-AAG1")
    clock.advance(days=31)  # the subcommittee deadline has passed: its last warning
    notifier = Worker(bot.runtime).notifier
    assert notifier.check_deadlines() == 1
    assert _looks(bot, case_id) == [None], "nothing more falls due without a new event"

    # Staff move the case on; while the scan reads it, they also start the inquiry.
    with bot.runtime.db.transaction() as session:
        repo.set_status(session, bot.runtime.keys, case_id, "fact_finding", clock())
    events = notices.open_case_events
    started = clock()

    def read_then_staff_act(session: Any, after: int = 0, through: int | None = None) -> Any:
        found = events(session, after, through)
        with bot.runtime.db.transaction() as other:
            notices.record_milestone(other, case_id, "inquiry_started", started)
        monkeypatch.setattr(notices, "open_case_events", events)
        return found

    monkeypatch.setattr(notices, "open_case_events", read_then_staff_act)
    notifier.check_deadlines()
    assert _looks(bot, case_id) == [started.replace(second=0, microsecond=0)], (
        "the scan must not write a look worked out from what it read before the inquiry"
    )
    # The order's 7-day report warning (moving to fact-finding is the order), left by the
    # pass that skipped the changed case.
    assert notifier.check_deadlines() == 1
    clock.advance(days=23, hours=12)  # the inquiry's progress report is due in 6.5 days
    notifier.check_deadlines()
    with bot.runtime.db.reading() as session:
        keys = session.scalars(
            select(DeadlineWarning.deadline_key).where(DeadlineWarning.case_id == case_id)
        ).all()
    assert any(key.startswith("inquiry_progress@") for key in keys)


def test_the_upgrade_asks_a_look_at_every_open_case_and_keeps_every_row(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0015")
    database = Database(database_url)
    with database.transaction() as session:
        ids = []
        for number, status in (("KRS-2026-000001", "received"), ("KRS-2026-000002", "closed")):
            ids.append(
                session.execute(
                    insert(Case.__table__)
                    .values(number=number, status=status, token_hash=number, **OLD_CASE)
                    .returning(Case.__table__.c.id)
                ).scalar_one()
            )
        for case_id in ids:
            session.execute(
                insert(CaseEvent.__table__).values(
                    case_id=case_id, kind="filed", at=FILED, status="received"
                )
            )
            session.execute(
                insert(CaseMessage.__table__).values(
                    case_id=case_id, direction="staff", body_ct=b"y", created_at=FILED
                )
            )
    database.dispose()

    migrate.upgrade(database_url)
    database = Database(database_url)
    try:
        with database.reading() as session:
            looks = dict(session.execute(select(Case.id, Case.deadline_look_at)).all())
            assert looks[ids[1]] is None, "a closed case has no deadline"
            assert looks[ids[0]] is not None and looks[ids[0]] <= FILED
            assert session.scalar(select(CaseEvent.id).limit(1)) is not None
            assert len(session.scalars(select(CaseMessage.id)).all()) == 2
    finally:
        database.dispose()

    command.downgrade(migrate.alembic_config(database_url), "0015")
    database = Database(database_url)
    try:
        with database.reading() as session:
            assert len(session.scalars(select(CaseMessage.case_id)).all()) == 2
            assert len(session.scalars(select(CaseEvent.case_id)).all()) == 2
    finally:
        database.dispose()
