"""`python -m bench.writer_turns`: how long a writer waits for SQLite beside a busy one.

One process keeps writing, holding the lock ``--hold`` ms with ``--gap`` ms between (as
the other web worker does under load); another runs ``--transactions`` write
transactions with the webhook's 1 s wait and times each wait. Measured twice on a fresh
SQLite file: with Krasip's writer turns (store/writers.py), and with SQLite's busy
handler alone. Prints the waits (p50, p99, slowest) and how many transactions failed
with "database is locked".

    python -m bench.writer_turns --hold 10 --gap 1 --transactions 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from store.db import Database

WAIT = 1.0  # the webhook's on SQLite


def _database(path: Path, turns: bool) -> Database:
    db = Database(f"sqlite:///{path}")
    if not turns:
        db.turns = None
    return db


def _busy_writer(path: Path, turns: bool, hold: float, gap: float, stop: Any) -> None:
    db = _database(path, turns)
    while not stop.is_set():
        with db.transaction(wait=30) as session:
            session.execute(text("INSERT INTO step VALUES (1)"))
            time.sleep(hold)
        time.sleep(gap)


def measure(turns: bool, hold: float, gap: float, transactions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "krasip.sqlite3"
        db = _database(path, turns)
        with db.transaction() as session:
            session.execute(text("CREATE TABLE step (n INTEGER)"))
        fork = multiprocessing.get_context("fork")
        stop = fork.Event()
        busy = fork.Process(target=_busy_writer, args=(path, turns, hold, gap, stop))
        busy.start()
        waits: list[float] = []
        failed = 0
        try:
            time.sleep(0.2)
            for _ in range(transactions):
                started = time.monotonic()
                try:
                    with db.transaction(wait=WAIT) as session:
                        waits.append((time.monotonic() - started) * 1000)
                        session.execute(text("INSERT INTO step VALUES (2)"))
                except OperationalError:
                    failed += 1
                time.sleep(0.005)
        finally:
            stop.set()
            busy.join(10)
        db.dispose()
    waits.sort()

    def at(q: float) -> float | None:
        return round(waits[min(len(waits) - 1, int(q * len(waits)))], 1) if waits else None

    return {
        "writers": "turns" if turns else "busy handler alone",
        "transactions": transactions,
        "failed_database_locked": failed,
        "wait_ms": {"p50": at(0.5), "p99": at(0.99), "max": at(1.0)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold", type=float, default=10, help="ms the busy writer holds")
    parser.add_argument("--gap", type=float, default=1, help="ms between its transactions")
    parser.add_argument("--transactions", type=int, default=200)
    args = parser.parse_args()
    results = [
        measure(turns, args.hold / 1000, args.gap / 1000, args.transactions)
        for turns in (True, False)
    ]
    print(f"busy writer: {args.hold:g} ms held, {args.gap:g} ms free; wait {WAIT:g} s")
    print("| writers | transactions | wait p50 / p99 / slowest ms | failed (database is locked) |")
    print("|---|---|---|---|")
    for r in results:
        w = r["wait_ms"]
        print(
            f"| {r['writers']} | {r['transactions']} | {w['p50']} / {w['p99']} / {w['max']} "
            f"| {r['failed_database_locked']} |"
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
