"""`python -m bench.shredding`: what a shredding pass costs, by the size of the vault.

For each count of row keys, a fresh database is filled with that many keys; then one key
is destroyed and the worker's shredding pass (``store.vault.Shredder``) timed: on SQLite
it writes the vault again and truncates the log, on PostgreSQL it rewrites the vault with
``VACUUM FULL``. While it runs, a writer with the webhook's wait (one second) makes and
destroys a row key every 5 ms, as a webhook event's step does; the longest it waited is
how long the pass held the webhook, and a write that gave up is counted (a webhook event
would have been answered 503). Then a pass with nothing destroyed since is timed.

    python -m bench.shredding [--keys 1000,10000,100000] [--database URL] [--json FILE]

Without ``--database`` the figures are SQLite's, in a temporary folder. A PostgreSQL URL
must let its role create databases (as ``python -m bench`` needs).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from bench.run import drop_database, prepare_database
from store import migrate, vault
from store.crypto import Keyring
from store.db import Database
from store.keys import generate_keys
from store.models import VaultKey

BATCH = 5000
SHREDDING_DB = "krasip_bench_shredding"


def _fill(database: Database, keys: Keyring, count: int) -> None:
    for start in range(0, count, BATCH):
        made = (vault.unstored_key(keys) for _ in range(min(BATCH, count - start)))
        with database.transaction() as session:
            session.execute(insert(VaultKey), [{"id": k.id, "wrapped": k.wrapped} for k in made])


class _Writer:
    """Every 5 ms, a short write transaction that makes a row key and destroys it, as a
    webhook event's step does."""

    def __init__(self, database: Database, keys: Keyring) -> None:
        self.database = database
        self.keys = keys
        self.longest = 0.0
        self.timed_out = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            began = time.perf_counter()
            try:
                with self.database.transaction(wait=1.0) as session:
                    key_id, _ = vault.new_key(session, self.keys)
                    vault.destroy(session, [key_id])
            except OperationalError:
                self.timed_out += 1  # a webhook event would have been answered 503
            self.longest = max(self.longest, time.perf_counter() - began)
            self.stop.wait(0.005)

    def __enter__(self) -> _Writer:
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def measure(url: str, keys: Keyring, count: int) -> dict[str, Any]:
    """One size of vault, on a fresh database at ``url``."""
    migrate.upgrade(url, keyring=keys)
    database = Database(url)
    try:
        _fill(database, keys, count)
        shredder = vault.Shredder(database)
        shredder.run()  # the pass after the filling
        with database.transaction() as session:
            victim = session.scalars(select(VaultKey.id).limit(1)).one()
            vault.destroy(session, [victim])
        with _Writer(database, keys) as writer:
            began = time.perf_counter()
            done = shredder.run()
            after_destruction = time.perf_counter() - began
        shredder.run()  # what the writer destroyed
        began = time.perf_counter()
        shredder.run()
        idle = time.perf_counter() - began
        return {
            "keys": count,
            "pass after one key destroyed, ms": round(after_destruction * 1000, 1),
            "that pass finished": done,
            "longest wait of a writer meanwhile, ms": round(writer.longest * 1000, 1),
            "writes that gave up after the webhook's wait": writer.timed_out,
            "pass with nothing destroyed since, ms": round(idle * 1000, 1),
        }
    finally:
        database.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="1000,10000,100000", help="vault sizes, comma-separated")
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.keys.split(",") if part.strip()]
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="krasip-shredding-") as name:
        folder = Path(name)
        keys = generate_keys(folder / "keys", "benchmark passphrase only").keyring()
        for count in sizes:
            run = folder / str(count)
            run.mkdir()
            url = prepare_database(args.database, run, SHREDDING_DB)
            try:
                figures.append(measure(url, keys, count))
            finally:
                if args.database != "sqlite":
                    drop_database(args.database, SHREDDING_DB)
            print(json.dumps(figures[-1], ensure_ascii=False), flush=True)
    report = {"database": args.database.split(":", 1)[0], "sizes": figures}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


if __name__ == "__main__":
    main()
