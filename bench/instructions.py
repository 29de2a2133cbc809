"""`python -m bench.instructions`: what one event costs a web worker, counted, not timed.

The closed-loop benchmark's ratios move with what else runs on the machine (RESULTS,
twentieth round): a neighbour can slow one bot more than another. This counts instead.
Each bot's web process runs under gunicorn with one sync worker inside valgrind's
callgrind, which counts the instructions the worker executes and simulates its caches,
sized as this machine's cores (a 48 KiB L1 for data, 32 KiB for code, 1 MiB of L2 as the
last level, so a miss there is a trip to the L3 that neighbours share). The kernel's work
for the worker (its sockets, SQLite's file writes) is not counted.
Complete conversations, the same scripts as the load generator's, go one event at a time,
each waiting for its reply at the benchmark's LINE platform (its own process, not
counted). Counting starts after warm-up conversations and covers whole conversations,
so every bot is measured on the same conversations. Then the worker idles for a few seconds,
counted too. Under valgrind an event takes about sixty times as long, so what a worker
does by the clock would weigh more per event here than under load: the batched delivery
records (Krasip's and the floors', every 100 ms natively) wait ``--clock-scale`` times
as long (50 by default), so that a batch holds about as many events as under load, and
what the idle worker does per second (Krasip's heartbeat) is taken out of the per-event
figure; the raw count is printed beside it.

Without the clock-driven work, the figures do not depend on the machine's load: two runs
differ only by what differs between conversations (random ids and tokens, the order of
threads). The raw figure still holds the heartbeats of however long the window took.

``--bots krasip,echo,replay`` (default) picks the bots; the replay floor answers with
Krasip's replies, recorded first (``bench.replies``). SQLite by default; ``--database
URL`` for PostgreSQL (the server's own work is not counted: it is another process).
``--keep`` keeps callgrind's dumps, to read by function with ``callgrind_annotate``.
Needs valgrind and gcc (Debian's ``valgrind`` and ``gcc``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from bench import callgrind_hooks as hooks
from bench import free_port
from bench.load import LOOKUP, SCRIPTS, TOKEN_RE, build_event, sign
from bench.run import (
    CHANNEL_SECRET,
    CONVERSING,
    KRASIP_WORKER,
    Fleet,
    Options,
    bot_env,
    drop_database,
    gunicorn_command,
    prepare_database,
    start_platform,
    wait_http,
)

CACHES = ("--I1=32768,8,64", "--D1=49152,12,64", "--LL=1048576,16,64")


@dataclass
class Counts:
    events: int
    seconds: float
    totals: dict[str, int]

    def per_event(self, name: str) -> float:
        return self.totals[name] / self.events if self.events else 0.0


def read_totals(dump: Path) -> dict[str, int]:
    """The totals of one callgrind dump, by the names on its ``events:`` line."""
    names: list[str] = []
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("totals:"):
            values = [int(v) for v in line.split()[1:]]
            # A count callgrind never saw is left off the end of the line.
            values += [0] * (len(names) - len(values))
            return dict(zip(names, values, strict=True))
    raise ValueError(f"{dump.name}: no totals line")


LIBRARY = """
#include <valgrind/callgrind.h>
void krasip_count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void krasip_count_dump(void) { CALLGRIND_DUMP_STATS; }
"""


def build_library(folder: Path) -> Path:
    """callgrind's client requests as a C library (valgrind's header, Debian's gcc)."""
    source, library = folder / "count.c", folder / "libcount.so"
    source.write_text(LIBRARY)
    subprocess.run(  # noqa: S603 - the machine's compiler on our own file
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return library


class Counter:
    """Tells the web worker (bench.callgrind_hooks) to start counting or to dump its counts."""

    def __init__(self, pid: int, out: Path, done: Path) -> None:
        self.pid = pid
        self.out = out
        self.done = done
        self.dumps = 0

    def _signal(self, signum: int, word: str) -> None:
        said = self._said()
        os.kill(self.pid, signum)
        deadline = time.monotonic() + 300
        while self._said() == said:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web worker did not {word}")
            time.sleep(0.05)

    def _said(self) -> int:
        return len(self.done.read_text().splitlines()) if self.done.exists() else 0

    def start(self) -> None:
        self._signal(hooks.START, "start counting")

    def dump(self) -> dict[str, int]:
        self._signal(hooks.DUMP, "dump its counts")
        self.dumps += 1
        return read_totals(Path(f"{self.out}.{self.pid}.{self.dumps}"))


class Driver:
    """One reporter at a time, each event waiting for its reply at the platform."""

    def __init__(self, bot_url: str, line_url: str, lookups: bool) -> None:
        self.bot_url = bot_url
        self.line_url = line_url
        self.lookups = lookups
        self.http = requests.Session()

    def conversation(self, number: int) -> int:
        """One complete report (and the lookup with its token); the events sent."""
        user_id = "U" + secrets.token_hex(16)
        script = SCRIPTS[number % len(SCRIPTS)]
        steps = [*script, *([(LOOKUP, "")] if self.lookups else [])]
        tokens = [secrets.token_hex(16) for _ in steps]
        self.http.post(
            self.line_url + "/_bench/reply_tokens",
            json={"tokens": [[t, user_id] for t in tokens]},
            timeout=30,
        ).raise_for_status()
        messages: list[dict[str, Any]] = []
        for (kind, value), token in zip(steps, tokens, strict=True):
            if kind == LOOKUP:
                found = (TOKEN_RE.fullmatch(m.get("text", "")) for m in messages)
                value = next((m.group(0) for m in found if m), "")
                if not value:
                    raise RuntimeError("the receipt carried no token")
                kind = "text"
            messages = self._step(user_id, kind, value, token)
        return len(steps)

    def _step(self, user_id: str, kind: str, value: str, token: str) -> list[dict[str, Any]]:
        event = build_event(user_id, kind, value, token)
        body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False)
        data = body.encode()
        response = self.http.post(
            self.bot_url + "/callback",
            data=data,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Line-Signature": sign(CHANNEL_SECRET, data),
            },
            timeout=120,
        )
        if response.status_code != 200:
            raise RuntimeError(f"the webhook answered {response.status_code}")
        waited = self.http.get(
            self.line_url + "/_bench/wait", params={"token": token, "timeout": 120}, timeout=130
        )
        if waited.status_code != 200:
            raise RuntimeError("a reply did not reach the platform")
        messages: list[dict[str, Any]] = waited.json()["messages"]
        return messages


def count_bot(
    target: str,
    opts: Options,
    library: Path,
    *,
    warmup: int,
    conversations: int,
    idle: float,
    clock_scale: float,
) -> dict[str, Any]:
    fleet = Fleet(opts.folder)
    line_port, bot_port = free_port(), free_port()
    line_url, bot_url = f"http://127.0.0.1:{line_port}", f"http://127.0.0.1:{bot_port}"
    out, done = opts.folder / f"callgrind-{target}", opts.folder / f"callgrind-{target}.said"
    env = {
        **bot_env(target, opts, line_url),
        "KRASIP_CALLGRIND_LIB": str(library),
        "KRASIP_CALLGRIND_DONE": str(done),
        "KRASIP_CALLGRIND_CLOCK": str(clock_scale),
    }
    valgrind = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--cache-sim=yes", *CACHES,
        f"--callgrind-out-file={out}.%p",
    ]  # fmt: skip
    try:
        start_platform(fleet, f"line-{target}", line_port, env)
        # Slow under valgrind: gunicorn must not take the worker for a hung one.
        gunicorn = [
            *gunicorn_command(target, opts, bot_port),
            "--timeout", "600", "--config", "python:bench.callgrind_hooks",
        ]  # fmt: skip
        web = fleet.start(f"{target}-web", [*valgrind, *gunicorn], env)
        if target == "krasip":
            fleet.start("krasip-worker", KRASIP_WORKER, env)
        wait_http(bot_url + "/healthz", fleet, timeout=600)
        workers = psutil.Process(web.popen.pid).children()
        if len(workers) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {len(workers)}")
        counter = Counter(workers[0].pid, out, done)
        driver = Driver(bot_url, line_url, lookups=target in CONVERSING)
        for number in range(warmup):
            driver.conversation(number)
        counter.start()
        started, events = time.monotonic(), 0
        for number in range(warmup, warmup + conversations):
            events += driver.conversation(number)
        busy = Counts(events, time.monotonic() - started, counter.dump())
        counter.start()
        time.sleep(idle)
        quiet = Counts(0, idle, counter.dump())
    finally:
        fleet.stop()
    return summarise(target, busy, quiet)


def summarise(target: str, busy: Counts, quiet: Counts) -> dict[str, Any]:
    idle_ir_per_s = quiet.totals["Ir"] / quiet.seconds
    ll = ("ILmr", "DLmr", "DLmw")
    return {
        "bot": target,
        "events": busy.events,
        "seconds": round(busy.seconds, 1),
        "ir_per_event": round(busy.per_event("Ir")),
        # Less what the worker would have done by the clock alone over the window.
        "work_ir_per_event": round(
            (busy.totals["Ir"] - idle_ir_per_s * busy.seconds) / busy.events
        ),
        "data_refs_per_event": round(busy.per_event("Dr") + busy.per_event("Dw")),
        "d1_misses_per_event": round(busy.per_event("D1mr") + busy.per_event("D1mw")),
        "ll_misses_per_event": round(sum(busy.per_event(name) for name in ll)),
        "idle_ir_per_s": round(idle_ir_per_s),
        # What the worker would have done by the clock alone over the counted window.
        "idle_share": round(idle_ir_per_s * busy.seconds / busy.totals["Ir"], 4),
        "totals": busy.totals,
    }


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    base = next((r for r in rows if r["bot"] == "echo"), None)
    lines = [
        f"`{command}`",
        "",
        "| bot | events counted | instructions / event, raw | without the clock-driven work"
        " | data reads+writes / event | L1d misses / event | L2 misses / event"
        " | idle instructions / s (share of the window) | instructions, ratio to echo |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['work_ir_per_event'] / base['work_ir_per_event']:.2f}×" if base else ""
        lines.append(
            f"| {row['bot']} | {row['events']} | {row['ir_per_event']:,} | "
            f"{row['work_ir_per_event']:,} | "
            f"{row['data_refs_per_event']:,} | {row['d1_misses_per_event']:,} | "
            f"{row['ll_misses_per_event']:,} | {row['idle_ir_per_s']:,} "
            f"({row['idle_share']:.1%}) | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", default="krasip,echo,replay")
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--warmup", type=int, default=2, help="conversations before counting")
    parser.add_argument("--conversations", type=int, default=6, help="conversations counted")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idling counted")
    parser.add_argument(
        "--clock-scale", type=float, default=50.0,
        help="how many times longer the batched delivery records wait under valgrind",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="keep callgrind's dumps (for callgrind_annotate)"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        raise SystemExit("needs valgrind and gcc (Debian: apt-get install valgrind gcc)")

    from bench.replies import record as record_replies
    from store import migrate
    from store.keys import generate_keys

    bots = [b.strip() for b in args.bots.split(",") if b.strip()]
    folder = Path(tempfile.mkdtemp(prefix="krasip-instructions-"))
    database_url = prepare_database(args.database, folder)
    rows = []
    try:
        library = build_library(folder)
        keys = generate_keys(folder / "keys", "bench custodian passphrase")
        migrate.upgrade(database_url)
        opts = Options(
            workers=1, threads=1, reporters=1, duration=0, warmup=0, sender_threads=None,
            folder=folder, database_url=database_url, keys=keys,
            postgres=args.database != "sqlite",
        )  # fmt: skip
        if "replay" in bots:
            replies = folder / "replies.json"
            replies.write_text(json.dumps(record_replies(), ensure_ascii=False))
            opts.replies = replies
        for bot in bots:
            print(f"counting {bot} ...", file=sys.stderr)
            rows.append(
                count_bot(
                    bot, opts, library, warmup=args.warmup, conversations=args.conversations,
                    idle=args.idle, clock_scale=args.clock_scale,
                )
            )  # fmt: skip
    finally:
        drop_database(args.database)
        if args.keep:
            print(f"callgrind's dumps: {folder}/callgrind-*.*.1", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    command = " ".join(["python -m bench.instructions", *_public(sys.argv[1:])])
    print(markdown(rows, command))
    if args.json:
        args.json.write_text(json.dumps({"command": command, "bots": rows}, indent=2))


def _public(argv: list[str]) -> list[str]:
    from bench.webhook_cost import _public as public

    return public(argv)


if __name__ == "__main__":
    main()
