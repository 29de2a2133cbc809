"""SQLite's writers take turns through a file lock (store.writers), because SQLite's own
busy handler sleeps up to 100 ms between tries: under load a webhook missed a lock that was
free most of the time, for hundreds of milliseconds (bench/RESULTS.md)."""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from store.db import Database
from store.writers import TurnTimeout, WriterTurns


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'krasip.db'}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE step (n INTEGER)"))
    return db


def test_a_writer_beside_a_busy_one_waits_one_transaction_not_the_busy_handlers_sleeps(
    tmp_path: Path,
) -> None:
    """One writer keeps the lock almost all the time (10 ms held, 1 ms between), as the
    other web worker does under load. The second writer's 20 transactions each wait about
    one of its transactions; behind SQLite's busy handler alone, about half of them waited
    more than 100 ms."""
    db = _database(tmp_path)
    stop = threading.Event()

    def busy_writer() -> None:
        while not stop.is_set():
            with db.transaction(wait=5) as session:
                session.execute(text("INSERT INTO step VALUES (1)"))
                time.sleep(0.010)
            time.sleep(0.001)

    busy = threading.Thread(target=busy_writer)
    busy.start()
    waits = []
    try:
        time.sleep(0.05)
        for _ in range(20):
            started = time.monotonic()
            with db.transaction(wait=1.0) as session:
                waits.append(time.monotonic() - started)
                session.execute(text("INSERT INTO step VALUES (2)"))
            time.sleep(0.005)
    finally:
        stop.set()
        busy.join()
    assert max(waits) < 0.1, [round(w * 1000) for w in waits]
    with db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM step WHERE n = 2")).scalar() == 20


def test_a_turn_not_had_within_the_wait_fails_as_a_locked_database_and_is_given_back(
    tmp_path: Path,
) -> None:
    db = _database(tmp_path)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with db.transaction() as session:
            session.execute(text("INSERT INTO step VALUES (1)"))
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"), db.transaction(wait=0.2):
        pass
    waited = time.monotonic() - started
    release.set()
    thread.join()
    assert 0.15 < waited < 0.5
    # The late waiter gave its turn back: the next writer does not wait for it.
    started = time.monotonic()
    with db.transaction(wait=0.5) as session:
        session.execute(text("INSERT INTO step VALUES (2)"))
    assert time.monotonic() - started < 0.2


def _try_a_turn(turns: WriterTurns, answer: multiprocessing.SimpleQueue) -> None:
    try:
        with turns.turn(0.2):
            answer.put("had the turn")
    except TurnTimeout:
        answer.put("waited")


def test_a_forked_process_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    """flock belongs to an open file description, which a fork shares: a child using its
    parent's descriptor would walk in while the parent writes."""
    turns = WriterTurns(str(tmp_path / "krasip.db-writers"))
    fork = multiprocessing.get_context("fork")
    answer: multiprocessing.SimpleQueue = fork.SimpleQueue()
    with turns.turn(1.0):
        # Forked by the thread holding the turn, so the child inherits its descriptor.
        child = fork.Process(target=_try_a_turn, args=(turns, answer))
        child.start()
        child.join(10)
    assert answer.get() == "waited"


def test_a_nested_turn_keeps_the_outer_one(tmp_path: Path) -> None:
    turns = WriterTurns(str(tmp_path / "krasip.db-writers"))
    other: list[str] = []

    def try_now() -> None:
        try:
            with turns.turn(0.05):
                other.append("had the turn")
        except TurnTimeout:
            other.append("waited")

    with turns.turn(1.0):
        with turns.turn(1.0):
            pass
        thread = threading.Thread(target=try_now)
        thread.start()
        thread.join()
    assert other == ["waited"]


def _waiting_threads_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        if thread.name == "krasip-write-turn":
            started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return started


def _held(turns: WriterTurns) -> tuple[threading.Thread, threading.Event]:
    """Another thread holding the turn until the event is set."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turns.turn(1.0):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    return holder, release


def test_a_turn_that_is_not_free_is_waited_for_by_a_kept_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load one event in two or three waited for its turn; a thread started for each
    wait cost more CPU than handing the wait to one kept for it (RESULTS, twenty-first
    round)."""
    turns = WriterTurns(str(tmp_path / "krasip.db-writers"))
    started = _waiting_threads_started(monkeypatch)
    for _ in range(20):
        holder, release = _held(turns)
        threading.Timer(0.01, release.set).start()
        with turns.turn(2.0) as left:
            # It waited (a turn had at once leaves the wait as it was), and had the turn
            # once the holder let go.
            assert 1.0 < left < 2.0
        holder.join()
    # The 20 waits came one after another: one kept thread did them all (none at all if
    # an earlier test of this process left one).
    assert len(started) <= 1, started


def test_a_waiting_thread_that_came_too_late_gives_the_turn_back_and_serves_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    turns = WriterTurns(str(tmp_path / "krasip.db-writers"))
    started = _waiting_threads_started(monkeypatch)
    holder, release = _held(turns)
    with pytest.raises(TurnTimeout), turns.turn(0.05):
        pass
    release.set()
    holder.join()
    # The late waiter takes the turn, gives it straight back and goes back to wait for the
    # next one: the turn is free, and a later wait finds a kept thread.
    deadline = time.monotonic() + 5
    while True:
        try:
            with turns.turn(0.0):
                break
        except TurnTimeout:
            assert time.monotonic() < deadline, "the turn was never given back"
            time.sleep(0.01)
    time.sleep(0.05)  # the late waiter is back among the kept ones
    count = len(started)
    holder, release = _held(turns)
    threading.Timer(0.01, release.set).start()
    with turns.turn(2.0):
        pass
    holder.join()
    assert len(started) == count


def test_the_kept_threads_end_when_the_database_is_disposed(tmp_path: Path) -> None:
    """A process that closes Krasip (the benchmark's load generator, after recording its
    replies) keeps none of its threads."""
    db = _database(tmp_path)
    assert db.turns is not None
    before = set(threading.enumerate())
    holder, release = _held(db.turns)
    threading.Timer(0.01, release.set).start()
    with db.transaction(wait=2.0) as session:
        session.execute(text("INSERT INTO step VALUES (1)"))
    holder.join()
    kept = [t for t in set(threading.enumerate()) - before if t.name == "krasip-write-turn"]
    assert kept  # the wait went to a kept thread
    db.dispose()
    assert not any(t.is_alive() for t in kept)
    # Disposed, the database still works, and waits again when it must.
    holder, release = _held(db.turns)
    threading.Timer(0.01, release.set).start()
    with db.transaction(wait=2.0) as session:
        session.execute(text("INSERT INTO step VALUES (2)"))
    holder.join()


def _make_garbage() -> None:
    for _ in range(20_000):
        loop: list = []
        loop.append(loop)


def _collections_during(
    db: Database, wait: float | None, other: threading.Thread | None
) -> list[bool]:
    """Whether a turn was held when each automatic collection started, while one write
    transaction makes cyclic garbage (and, with ``other``, another thread makes some too)."""
    starts: list[bool] = []
    assert db.turns is not None
    turns = db.turns
    holding = threading.Event()

    def on_collection(phase: str, _info: dict) -> None:
        if phase == "start":
            starts.append(holding.is_set())

    gc.callbacks.append(on_collection)
    try:
        with db.transaction(wait=wait) as session:
            assert turns.held()
            holding.set()
            if other is not None:
                other.start()
                other.join()
            _make_garbage()
            session.execute(text("INSERT INTO step VALUES (1)"))
            holding.clear()
        assert not turns.held()
        _make_garbage()  # what was held back runs now
    finally:
        gc.callbacks.remove(on_collection)
    return starts


def test_no_collection_starts_while_a_short_transaction_holds_the_turn(tmp_path: Path) -> None:
    """A full collection took 91–167 ms in a web worker; begun inside a turn, in any thread
    of the process (the send loop's too), it kept every writer of every process waiting."""
    db = _database(tmp_path)
    assert gc.isenabled()
    starts = _collections_during(db, 1.0, threading.Thread(target=_make_garbage))
    assert starts, "no collection at all: the test made too little garbage"
    assert not any(starts), f"{starts.count(True)} collections began inside the turn"
    assert gc.isenabled()


def test_a_long_transaction_still_collects_inside(tmp_path: Path) -> None:
    """Jobs without a bounded wait (retention, the deadline scan) may run for minutes: their
    garbage is collected as they go."""
    db = _database(tmp_path)
    starts = _collections_during(db, None, None)
    assert any(starts)
    assert gc.isenabled()


def test_collections_held_by_a_turn_stay_off_where_someone_else_switched_them_off(
    tmp_path: Path,
) -> None:
    db = _database(tmp_path)
    gc.disable()
    try:
        with db.transaction(wait=1.0) as session:
            session.execute(text("INSERT INTO step VALUES (1)"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def _report_collections(answer: multiprocessing.SimpleQueue) -> None:
    answer.put(gc.isenabled())


def test_a_process_forked_inside_a_short_turn_collects(tmp_path: Path) -> None:
    """The child holds no turn: it must not inherit collections switched off for good."""
    db = _database(tmp_path)
    fork = multiprocessing.get_context("fork")
    answer: multiprocessing.SimpleQueue = fork.SimpleQueue()
    with db.transaction(wait=1.0):
        assert not gc.isenabled()
        child = fork.Process(target=_report_collections, args=(answer,))
        child.start()
        child.join(10)
    assert answer.get() is True
    assert gc.isenabled()
