"""Retention by policy: a closed case's identity goes on day 90, its content at the end of
retention, and the monthly statistics of its month stay exactly the same."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import _settings, main
from bot.runtime import build_runtime, utc_now
from handlers import tokens
from store import repo, retention, staff
from store.models import AuditEntry, Case, CaseMessage, CaseNote, RetentionHold
from tests.conftest import Bot, Clock

# DOMAIN.md, "The statistics table the centre publishes (February 2023)".
TRAFFY = ["public_works"] * 2 + ["city_law"] * 4 + ["environment"] + ["other"] * 8
EXECUTIVES = ["procurement"] * 3 + ["registration"] * 2 + ["personnel"] * 2 + ["money"]
OUTCOMES = (
    ["completed"] * 4
    + ["forwarded_agency"] * 5
    + ["forwarded_working_group"] * 11
    + ["referred_nacc"] * 2
    + ["referred_pacc"]
)
WORDS = "ผู้อำนวยการเขตเรียกเงินสามหมื่นบาท"
NAME = "นางสาวผู้แจ้ง ทดสอบ"


def _file(bot: Bot, channel: str, category: str, day: int, identity: bool) -> tuple[int, str]:
    with bot.runtime.db.transaction() as session:
        created = repo.create_case(
            session,
            bot.runtime.keys,
            now=datetime(2023, 2, day, 3, 0, tzinfo=UTC),
            token=tokens.format_token(repo.new_token_bytes()),
            channel=channel,
            lang="th",
            category=category,
            district_code="1001",
            anonymous=not identity,
            meets_anonymous_bar=True,
            content={"category": category, "description": WORDS},
            identity={"name": NAME, "contact": "0812345678"} if identity else None,
            notify_user_id=None,
        )
        now = bot.runtime.clock()
        repo.add_message(session, bot.runtime.keys, created.case_id, "reporter", WORDS, now)
        session.add(
            CaseNote(
                case_id=created.case_id,
                at=now,
                author="somsri",
                body_ct=bot.runtime.keys.data.encrypt_text(WORDS, "note"),
            )
        )
    return created.case_id, created.number


def _close(bot: Bot, case_id: int, outcome: str) -> None:
    with bot.runtime.db.transaction() as session:
        now = bot.runtime.clock()
        repo.set_status(session, bot.runtime.keys, case_id, "preliminary_review", now)
        repo.set_status(
            session, bot.runtime.keys, case_id, "closed", now, outcome=outcome, public_note=WORDS
        )


def closed_case(days_ago: int) -> tuple[int, str]:
    """A confidential case of the instance the CLI uses, closed ``days_ago``: (id, number)."""
    runtime = build_runtime(_settings())
    closed = utc_now() - timedelta(days=days_ago)
    with runtime.db.transaction() as session:
        created = repo.create_case(
            session,
            runtime.keys,
            now=closed - timedelta(days=30),
            token=tokens.format_token(repo.new_token_bytes()),
            channel="line",
            lang="th",
            category="money",
            district_code="1001",
            anonymous=False,
            meets_anonymous_bar=True,
            content={"category": "money", "description": WORDS},
            identity={"name": NAME},
            notify_user_id=None,
        )
        repo.set_status(
            session, runtime.keys, created.case_id, "closed", closed, outcome="completed"
        )
    runtime.db.engine.dispose()
    return created.case_id, created.number


def _february(bot: Bot) -> dict[str, Any]:
    with bot.runtime.db.transaction() as session:
        stats = staff.monthly_statistics(session, 2023, 2)
    return {"rows": staff.statistics_rows(stats), "by_category": stats.by_category}


def _case(bot: Bot, case_id: int) -> Case:
    with bot.runtime.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def _actions(bot: Bot) -> list[tuple[str, int | None]]:
    with bot.runtime.db.transaction() as session:
        return [(e.action, e.case_id) for e in session.scalars(select(AuditEntry))]


def _count(bot: Bot, model: Any, case_id: int) -> int:
    with bot.runtime.db.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(model).where(model.case_id == case_id))
            or 0
        )


def test_a_closed_case_walks_the_retention_clock(bot: Bot, clock: Clock) -> None:
    entries = [("traffy_fondue", c) for c in TRAFFY] + [("executives", c) for c in EXECUTIVES]
    cases = []
    for n, ((channel, category), outcome) in enumerate(zip(entries, OUTCOMES, strict=True)):
        case_id, number = _file(bot, channel, category, n % 28 + 1, identity=n < 3)
        _close(bot, case_id, outcome)
        cases.append((case_id, number))
    open_id, _ = _file(bot, "line", "money", 27, identity=True)  # never closed
    before = _february(bot)
    assert before["rows"][0] == ("total", "", "", 24)
    assert ("outcome", "forwarded_working_group", "", 11) in before["rows"]
    (first, first_no), (held, held_no), (third, _) = cases[:3]
    policy = retention.Policy(90, 10)

    clock.advance(days=89, hours=23)
    assert bot.worker.retention() == 0, "nothing is due on day 89"
    assert _case(bot, first).identity_sealed is not None

    with bot.runtime.db.transaction() as session:
        retention.hold(
            session,
            bot.runtime.keys,
            held_no,
            reason="คดีอยู่ระหว่างการสอบสวนของ ป.ป.ช.",
            actor="custodian",
            now=bot.runtime.clock(),
        )
    clock.advance(hours=1)  # day 90
    with bot.runtime.db.transaction() as session:
        planned, _, _ = retention.plan(session, policy, bot.runtime.clock())
    assert sorted(planned.identities) == sorted([first_no, cases[2][1]])
    assert planned.purges == [] and planned.held == [held_no]
    assert bot.worker.retention() == 2
    gone, kept = _case(bot, first), _case(bot, held)
    assert gone.identity_sealed is None and gone.identity_destroyed_at is not None
    assert kept.identity_sealed is not None, "the hold kept the identity"
    assert _case(bot, open_id).identity_sealed is not None, "an open case keeps its identity"
    assert _count(bot, CaseMessage, first) == 1, "the content stays until the years are over"
    with bot.runtime.db.transaction() as session:
        assert repo.case_content(session, bot.runtime.keys, first)["description"] == WORDS

    with bot.runtime.db.transaction() as session:
        retention.release(session, held_no, actor="custodian", now=bot.runtime.clock())
        assert session.get(RetentionHold, held) is None
    assert bot.worker.retention() == 1, "released: the next run destroys it"
    assert _case(bot, held).identity_sealed is None

    clock.advance(days=365 * 10 + 2)  # ten years after closure
    assert bot.run_worker()["retention"] == 23, "the worker's daily job purges"
    assert _february(bot) == before, "the statistics of February 2023 did not change"
    for case_id, _number in cases:
        tomb = _case(bot, case_id)
        assert tomb.purged_at is not None and tomb.content_ct == b""
        assert tomb.public_note_ct is None and tomb.identity_sealed is None
        assert tomb.status == "closed" and tomb.outcome and tomb.category
        assert tomb.channel in ("traffy_fondue", "executives") and tomb.district_code == "1001"
        assert _count(bot, CaseMessage, case_id) == 0
        assert _count(bot, CaseNote, case_id) == 0
    assert _case(bot, open_id).purged_at is None

    actions = _actions(bot)
    assert ("retention.hold", held) in actions and ("retention.release", held) in actions
    assert ("retention.identity_destroyed", first) in actions
    assert ("retention.identity_destroyed", third) in actions
    assert sum(1 for a, _ in actions if a == "retention.purge") == 23
    with bot.runtime.db.transaction() as session:
        assert repo.verify_audit(session) == [], "the audit chain holds"
        details = [e.detail for e in session.scalars(select(AuditEntry))]
    assert not any(WORDS in d or NAME in d for d in details), "no content in the audit log"
    assert not any("ป.ป.ช." in d for d in details), "a hold's reason stays encrypted"
    assert bot.worker.retention() == 0, "a purged case is not purged again"


def test_a_hold_needs_a_reason_and_an_open_case_is_never_due(bot: Bot, clock: Clock) -> None:
    case_id, number = _file(bot, "line", "money", 5, identity=True)
    with bot.runtime.db.transaction() as session, pytest.raises(retention.RetentionError):
        retention.hold(session, bot.runtime.keys, number, reason="short", actor="c", now=clock())
    clock.advance(days=365 * 20)
    assert bot.worker.retention() == 0
    assert _case(bot, case_id).identity_sealed is not None


def test_the_cli_plans_holds_releases_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRASIP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KRASIP_ENV", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    case_id, number = closed_case(days_ago=91)
    runtime = build_runtime(_settings())

    planned = runner.invoke(main, ["retention", "plan"])
    assert planned.exit_code == 0, planned.output
    assert "identities to destroy (90 days after closure): 1" in planned.output
    assert number in planned.output and WORDS not in planned.output and NAME not in planned.output
    short = runner.invoke(main, ["retention", "hold", number, "--reason", "x", "--actor", "c"])
    assert short.exit_code != 0 and "reason" in short.output
    held = runner.invoke(
        main, ["retention", "hold", number, "--reason", "ส่งเรื่องให้ ป.ป.ช. แล้ว", "--actor", "c"]
    )
    assert held.exit_code == 0, held.output
    assert "held by a custodian (kept): 1" in runner.invoke(main, ["retention", "plan"]).output
    assert "destroyed: 0" in runner.invoke(main, ["retention", "run"]).output
    released = runner.invoke(main, ["retention", "release", number, "--actor", "c"])
    assert released.exit_code == 0, released.output
    assert "identities destroyed: 1" in runner.invoke(main, ["retention", "run"]).output
    with runtime.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.identity_sealed is None
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert actions[-3:] == ["retention.hold", "retention.release", "retention.identity_destroyed"]


def test_a_run_goes_in_batches_each_its_own_transaction(
    bot: Bot, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run over years of closed cases must not hold the database in one long
    transaction: it commits batch by batch and says how far it is."""
    from bot.worker import run_retention

    monkeypatch.setattr(retention, "BATCH", 2)
    filed = [_file(bot, "line", "money", 1 + n, identity=n % 2 == 0) for n in range(5)]
    for case_id, _ in filed:
        _close(bot, case_id, "completed")
    clock.advance(days=365 * 10 + 5)
    commits: list[int] = []

    def progress(done: int, due: int) -> None:
        # What the batches before committed is already visible to anyone reading.
        with bot.runtime.db.reading() as session:
            purged = session.scalar(select(func.count()).where(Case.purged_at.is_not(None)))
        commits.append(purged or 0)
        assert due == 5

    assert run_retention(bot.runtime, progress=progress) == (0, 5)
    assert commits == [2, 4, 5]
    assert [a for a, _ in _actions(bot)].count("retention.purge") == 5


def test_a_run_leaves_the_database_free_between_batches(
    bot: Bot, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up over years of closed cases holds SQLite's writer lock batch after batch:
    between two batches the database stays free as long as the batch before took, so the
    webhook gets its turn instead of answering 503."""
    from bot.worker import run_retention

    monkeypatch.setattr(retention, "BATCH", 2)
    filed = [_file(bot, "line", "money", 1 + n, identity=False) for n in range(5)]
    for case_id, _ in filed:
        _close(bot, case_id, "completed")
    clock.advance(days=365 * 10 + 5)
    spans: list[tuple[float, float]] = []
    batch_run = retention.run

    def slow_batch(*args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        done = batch_run(*args, **kwargs)
        time.sleep(max(0.0, 0.2 - (time.monotonic() - began)))  # a batch of 0.2 s at least
        spans.append((began, time.monotonic()))
        return done

    monkeypatch.setattr(retention, "run", slow_batch)
    assert run_retention(bot.runtime) == (0, 5)
    assert len(spans) == 3
    for (began, ended), (next_began, _) in zip(spans, spans[1:], strict=False):
        assert next_began - ended >= 0.9 * (ended - began), spans
