"""`python -m bench.pages`: the pages SQLite writes for each webhook event, by table.

Every page a commit changes goes to SQLite's log (its WAL) whole, as one frame, and later
back into the database; under load each transaction also reads again the pages it needs,
after another process's commit. So the pages an event changes are a cost no timing
noise moves. The load generator's conversations (then a status lookup with the receipt's
token) go one event at a time through the Flask test client into the real webhook, the
replies out through the real sender to the benchmark's LINE platform, as in
``bench.webhook_cost``. After each event the frames added to the log are read, and each
is named by the table or index that holds its page (SQLite's ``dbstat``, at the end of
the run: a page freed and used again is named by its last owner).

Prints the commits and frames per event, the frames per event by table or index, and the
pages of each kind of commit: an event's own transaction and the batched delivery
records. ``--json FILE`` writes the same figures.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.replies import converse
from bench.webhook_cost import Platform, Stepper, krasip_app
from store.keys import generate_keys

WAL_HEADER = 32
FRAME_HEADER = 24
EVENT_TABLE = "processed_event"  # every event's own transaction writes here


@dataclass
class Log:
    """Reads the frames SQLite appends to a WAL file, across its restarts."""

    path: Path
    salts: bytes = b""
    offset: int = WAL_HEADER
    restarts: int = 0
    # Each commit: the page numbers it wrote, in order.
    commits: list[list[int]] = field(default_factory=list)
    _open: list[int] = field(default_factory=list)

    def read(self) -> None:
        data = self.path.read_bytes() if self.path.exists() else b""
        if len(data) < WAL_HEADER:
            return
        page_size = struct.unpack(">I", data[8:12])[0]
        salts = data[16:24]
        if salts != self.salts:
            # A checkpoint let SQLite write the log again from its start.
            self.restarts += bool(self.salts)
            self.salts, self.offset, self._open = salts, WAL_HEADER, []
        frame = FRAME_HEADER + page_size
        while self.offset + frame <= len(data):
            header = data[self.offset : self.offset + FRAME_HEADER]
            if header[8:16] != salts:
                break  # an old frame of the log's previous round, not written yet
            page, size_after = struct.unpack(">II", header[:8])
            self._open.append(page)
            if size_after:  # the frame that commits
                self.commits.append(self._open)
                self._open = []
            self.offset += frame


def owners(database: Path) -> dict[int, str]:
    """Each page's table or index (page 1: the database's header)."""
    connection = sqlite3.connect(database)
    try:
        named = {page: name for name, page in connection.execute("SELECT name, pageno FROM dbstat")}
    finally:
        connection.close()
    named[1] = "page 1 (the header)"
    return named


def measure(conversations: int, warmup: int = 2) -> dict[str, Any]:
    """Run the conversations and count what their commits wrote."""
    with tempfile.TemporaryDirectory(prefix="krasip-pages-") as name:
        folder = Path(name)
        material = generate_keys(folder / "keys", "benchmark passphrase only")
        database = folder / "krasip.sqlite3"
        platform = Platform()
        app = None
        try:
            app = krasip_app(folder, f"sqlite:///{database}", material, platform)
            step = Stepper(app, platform)
            for _ in range(warmup):
                converse(step, platform)
            log = Log(database.with_name(database.name + "-wal"))
            log.read()
            log.commits.clear()
            events = 0

            def counted(*args: str) -> Any:
                nonlocal events
                answer = step(*args)
                events += 1
                log.read()
                return answer

            for _ in range((conversations + 1) // 2):  # each round runs two scripts
                converse(counted, platform)
        finally:
            if app is not None:
                app.extensions["krasip"].close()  # records the last deliveries
            platform.stop()
        log.read()
        return summarise(log, owners(database), events)


def summarise(log: Log, named: dict[int, str], events: int) -> dict[str, Any]:
    by_owner: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    counts: Counter[str] = Counter()
    for pages in log.commits:
        names = [named.get(page, "a free page") for page in pages]
        by_owner.update(names)
        kind = "event" if EVENT_TABLE in names else "other"
        counts[kind] += 1
        kinds.setdefault(kind, Counter()).update(names)
    frames = sum(by_owner.values())
    return {
        "events": events,
        "log_restarts": log.restarts,
        "commits_per_event": round(len(log.commits) / events, 2),
        "frames_per_event": round(frames / events, 2),
        "frames_per_event_by_owner": {k: round(v / events, 2) for k, v in by_owner.most_common()},
        "commits": {
            kind: {
                "count": counts[kind],
                "pages_each": round(sum(pages.values()) / counts[kind], 2),
                "by_owner": {k: round(v / counts[kind], 2) for k, v in pages.most_common()},
            }
            for kind, pages in kinds.items()
        },
    }


def markdown(figures: dict[str, Any]) -> str:
    lines = [
        f"{figures['events']} events: {figures['commits_per_event']} commits and "
        f"{figures['frames_per_event']} pages written per event "
        f"(the log restarted {figures['log_restarts']} times)",
        "",
        "| table or index | pages per event |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in figures["frames_per_event_by_owner"].items()]
    for kind, commit in figures["commits"].items():
        what = "an event's own transaction" if kind == "event" else "other commits"
        lines += [
            "",
            f"{what}: {commit['count']} commits, {commit['pages_each']} pages each",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure(args.conversations)
    print(markdown(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
