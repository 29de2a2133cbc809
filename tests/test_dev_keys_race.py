"""In development the processes of one deployment start together (gunicorn's workers and
`krasip worker`, as the concurrency test starts them) and each makes sure the instance's
audit keys exist. One must write them; the others must neither fail on the file the first
created nor read a key it has not finished writing (a CI run lost a worker this way)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from store import keys

STARTS = 12


def _start(folder: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        keys.ensure_audit_keys(Path(folder))
        found = tuple(
            (Path(folder) / n).read_text() for n in (keys.AUDIT_KEY, keys.AUDIT_SIGNING_KEY)
        )
        results.put(("ok", found))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(("failed", f"{type(exc).__name__}: {exc}"))


def test_processes_starting_together_make_one_set_of_audit_keys(tmp_path: Path) -> None:
    folder = keys.private_folder(tmp_path / "keys")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(STARTS), context.Queue()
    starts = [
        context.Process(target=_start, args=(str(folder), barrier, results)) for _ in range(STARTS)
    ]
    for each in starts:
        each.start()
    outcomes = [results.get(timeout=30) for _ in starts]
    for each in starts:
        each.join(timeout=10)
    assert [o for o in outcomes if o[0] != "ok"] == []
    assert len({found for _, found in outcomes}) == 1, "every process reads the same keys"
    mac_key, signing_key = outcomes[0][1]
    assert mac_key.strip() and signing_key.strip()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [keys.AUDIT_KEY, keys.AUDIT_SIGNING_KEY, keys.AUDIT_SIGNING_PUBLIC]
    ), "no lock file among the keys"
