"""What keeps purged data in PostgreSQL's write-ahead log is said, never hidden, and never
stops a purge: `krasip retention plan` and `run` print it, the worker logs it, SQLite says
nothing of it (README, "Retention")."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.cli import _settings, main
from bot.runtime import build_runtime, utc_now
from handlers import tokens
from store import migrate, repo, retention
from store.db import Database, make_engine
from tests.conftest import Keys
from tests.test_retention_clock import NAME, WORDS, closed_case

WARNING = "WARNING, PostgreSQL keeps purged data"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> CliRunner:
    monkeypatch.setenv("KRASIP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KRASIP_ENV", raising=False)
    if database_url.startswith("postgresql"):
        monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    return runner


def test_plan_and_run_warn_of_a_server_that_keeps_old_log(
    cli: CliRunner,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, number = closed_case(days_ago=91)
    if not database_url.startswith("postgresql"):
        for command in ("plan", "run"):
            result = cli.invoke(main, ["retention", command])
            assert result.exit_code == 0, result.output
            assert "PostgreSQL" not in result.output and "wal" not in result.output.lower()
        return

    # As set up by .ci/run and README: nothing keeps the log, nothing is said.
    planned = cli.invoke(main, ["retention", "plan"])
    assert planned.exit_code == 0 and WARNING not in planned.output, planned.output
    # wal_recycle and archive_mode cannot be changed for one session (they are the
    # server's): the real settings are read, then shown to the run as a careless server's.
    real = retention.read_wal_state

    def careless(engine):  # type: ignore[no-untyped-def]
        state = real(engine)
        assert state is not None
        return dataclasses.replace(state, recycle=True, archive_mode="on")

    monkeypatch.setattr(retention, "read_wal_state", careless)
    planned = cli.invoke(main, ["retention", "plan"])
    assert planned.exit_code == 0, planned.output
    assert f"{WARNING}: wal_recycle is on" in planned.output
    assert "ALTER SYSTEM SET wal_recycle = off" in planned.output
    assert f"{WARNING}: archive_mode is on" in planned.output
    caplog.set_level(logging.WARNING, logger=retention.__name__)
    ran = cli.invoke(main, ["retention", "run"])
    assert ran.exit_code == 0, ran.output
    assert "identities destroyed: 1" in ran.output, "the purge runs all the same"
    assert f"{WARNING}: wal_recycle is on" in ran.output
    logged = [r.getMessage() for r in caplog.records if r.name == retention.__name__]
    assert any("wal_recycle is on" in m for m in logged), "the worker's log says it too"
    assert any("archive_mode is on" in m for m in logged)
    warnings = [line for line in planned.output.splitlines() if line.startswith(WARNING)]
    for said in warnings + logged:
        assert WORDS not in said and NAME not in said and number not in said, said


def test_a_role_without_checkpoint_is_told_the_grant_and_still_purges(
    cli: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = build_runtime(_settings()).db.engine
    if not database_url.startswith("postgresql"):
        assert retention.read_wal_state(engine) is None and retention.compact(engine) == []
        return
    role = retention.read_wal_state(engine).role  # type: ignore[union-attr]
    closed_case(days_ago=91)
    real = retention.read_wal_state

    def unprivileged(engine):  # type: ignore[no-untyped-def]
        state = real(engine)
        assert state is not None
        return dataclasses.replace(state, may_switch=False, may_checkpoint=False)

    monkeypatch.setattr(retention, "read_wal_state", unprivileged)
    ran = cli.invoke(main, ["retention", "run"])
    assert ran.exit_code == 0, ran.output
    assert "identities destroyed: 1" in ran.output
    assert f'GRANT pg_checkpoint TO "{role}";' in ran.output
    assert f'GRANT EXECUTE ON FUNCTION pg_switch_wal() TO "{role}";' in ran.output


def test_a_snapshot_older_than_the_purge_holds_the_rewrite_until_it_ends(
    database_url: str, keys: Keys
) -> None:
    """``VACUUM FULL`` copies every row version an open snapshot may see into the new
    file, whoever holds it (an autovacuum ANALYZE is invisible to the application's role
    in pg_stat_activity). The rewrite asks the server what it kept and goes again until
    nothing was; SQLite has nothing to rewrite (deleted cells are zeroed)."""
    migrate.upgrade(database_url, keyring=keys.material.keyring())
    engine = make_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            assert retention.compact(engine) == []
            return
        with Session(engine) as session, session.begin():
            created = repo.create_case(
                session,
                keys.material.keyring(),
                now=utc_now(),
                token=tokens.format_token(repo.new_token_bytes()),
                channel="line",
                lang="th",
                category="money",
                district_code="1001",
                anonymous=True,
                meets_anonymous_bar=True,
                content={"category": "money", "description": WORDS},
                identity=None,
                notify_user_id=None,
            )
        old = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"))
        old.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT 1").fetchone()  # the snapshot is taken, no table locked
        with engine.begin() as connection:
            connection.execute(
                text('UPDATE "case" SET content_ct = :empty WHERE id = :id'),
                {"empty": b"", "id": created.case_id},
            )
        (kept,) = retention._rewrite(engine, timeout=0.5)
        assert '1 old row versions of "case"' in kept, "kept while the snapshot lives"
        threading.Timer(0.6, old.rollback).start()
        started = time.monotonic()
        assert retention._rewrite(engine, timeout=10) == []
        assert time.monotonic() - started >= 0.5, "it waited for the snapshot to end"
        # A session reading the table: not waited on (the webhook would queue behind).
        old.execute('SELECT count(*) FROM "case"').fetchone()
        (busy,) = retention._rewrite(engine, timeout=1.5)
        assert 'table "case" stayed in use' in busy
        old.rollback()
        old.close()
    finally:
        engine.dispose()


def test_a_rewrite_waiting_for_a_reader_holds_the_webhook_a_tenth_of_a_second_at_most(
    database_url: str, keys: Keys
) -> None:
    """Once ``VACUUM FULL`` asks for a table someone is reading, every later transaction on
    that table queues behind it; the webhook's gives up after 0.5 s and answers 503. A
    rewrite that waited a second cost the reporters of that second their answer."""
    migrate.upgrade(database_url, keyring=keys.material.keyring())
    engine = make_engine(database_url)
    db = Database(database_url)
    try:
        if engine.dialect.name != "postgresql":
            assert retention.compact(engine) == []  # SQLite zeroed deleted cells already
            return
        plain = database_url.replace("postgresql+psycopg", "postgresql")
        reader, watcher = psycopg.connect(plain), psycopg.connect(plain, autocommit=True)
        reader.execute('SELECT count(*) FROM "case"').fetchone()  # holds the table till the end
        tried: list[int | None] = []
        rewrite = threading.Thread(
            target=lambda: tried.append(retention._vacuum_full(engine, "case"))
        )
        rewrite.start()
        queued = (
            "SELECT count(*) FROM pg_locks WHERE relation = '\"case\"'::regclass AND NOT granted"
        )
        deadline = time.monotonic() + 5
        while watcher.execute(queued).fetchone() == (0,):
            assert time.monotonic() < deadline, "the rewrite never asked for the table"
            time.sleep(0.002)
        began = time.monotonic()
        with db.transaction(wait=0.5) as session:  # the webhook's wait on PostgreSQL
            session.execute(text('SELECT count(*) FROM "case"'))
        waited = time.monotonic() - began
        rewrite.join(timeout=5)
        assert tried == [None], "the rewrite gave way to the reader"
        assert waited < 0.3, f"a webhook transaction waited {waited:.2f} s behind the rewrite"
        reader.rollback()
        assert retention._vacuum_full(engine, "case") is not None, "the reader gone, it rewrites"
        reader.close()
        watcher.close()
    finally:
        db.dispose()
        engine.dispose()
