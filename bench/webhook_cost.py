"""`python -m bench.webhook_cost`: what one event costs the web process, in CPU.

No gunicorn and no concurrency: complete conversations (the load generator's scripts,
then a status lookup with the receipt's token) go one event at a time through the Flask
test client into the real webhook, and the replies go out through the real sender to the
benchmark's LINE platform (its own process, answering at once). Each event waits for its
reply before the next is sent. Prints, per event, the CPU this process spent (the webhook
transaction, the send and its bookkeeping: every thread) and the webhook's own wall time,
and the median CPU of each kind of event: a step of the form, the receipt (the step that
files the report) and the status lookup with the receipt's token.

With ``--cases N`` the register first holds N seeded cases, as ``python -m bench --cases N``
seeds them, so what an event costs can be compared with and without a large register.

With ``--profile OUT``, the webhook and the send threads also run under cProfile (which
roughly doubles their CPU, so the CPU figure is then not comparable) and OUT gets the top
costs by cumulative and by own time, and the SQL statements run per event.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from bench import free_port
from bench.load import LOOKUP, SCRIPTS, TOKEN_RE, build_event, sign
from bench.run import seed
from bot import create_app
from bot.config import load_settings
from bot.outbox import Dispatcher
from store import hot, migrate
from store.keys import generate_keys

SECRET = "bench-channel-secret-0123456789ab"  # noqa: S105 - a throwaway bench channel
ACCESS_TOKEN = "bench-access-token"  # noqa: S105


class Platform:
    """The benchmark's LINE platform in a subprocess, so its CPU is not counted here."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.line_platform", "--port", port,
             "--channel-secret", SECRET, "--access-token", ACCESS_TOKEN],
        )  # fmt: skip
        self.http = requests.Session()
        for _ in range(100):
            try:
                self.http.get(self.url + "/_emulator/config", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def reply_tokens(self, user_id: str, count: int) -> list[str]:
        tokens = [secrets.token_hex(16) for _ in range(count)]
        self.http.post(
            self.url + "/_bench/reply_tokens", json={"tokens": [[t, user_id] for t in tokens]}
        ).raise_for_status()
        return tokens

    def wait(self, token: str) -> list[dict[str, Any]]:
        response = self.http.get(self.url + "/_bench/wait", params={"token": token, "timeout": 10})
        if response.status_code != 200:
            raise RuntimeError("a reply did not arrive")
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Profiler:
    """cProfile in every thread that does the event's work: the request thread and the send
    threads (one profile per thread, each enabled only around the work, merged at the end);
    and a count of the SQL statements run.

    The statements are counted where they reach the driver, not with SQLAlchemy's
    statement events: a listener for those sends the webhook's own statements through
    SQLAlchemy's execution path (store.hot), so the profile would not be of the real path."""

    def __init__(self, engine: Any) -> None:
        self.local = threading.local()
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()
        self.statements: Counter[str] = Counter()
        dialect = engine.dialect
        for name in ("do_execute", "do_execute_no_params", "do_executemany"):
            setattr(dialect, name, self._counting(getattr(dialect, name)))
        on_driver = hot._on_driver

        def counted(connection: Any, cursor: Any, sql: str, *rest: Any) -> Any:
            self._count(sql)
            return on_driver(connection, cursor, sql, *rest)

        hot._on_driver = counted
        for name in ("_run_claimed", "flush"):
            setattr(Dispatcher, name, self.wrap(getattr(Dispatcher, name)))
        Dispatcher._serve = self.wrap_loop(Dispatcher._serve)  # type: ignore[method-assign]

    def _counting(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        def counted(cursor: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
            self._count(statement)
            return execute(cursor, statement, *args, **kwargs)

        return counted

    def _count(self, statement: str) -> None:
        # The statement's text only (parameters are bound separately, never read here).
        self.statements[" ".join(statement.split())[:110]] += 1

    def profile(self) -> cProfile.Profile:
        found: cProfile.Profile | None = getattr(self.local, "profile", None)
        if found is None:
            found = self.local.profile = cProfile.Profile(time.thread_time)
            with self.lock:
                self.profiles.append(found)
        return found

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def profiled(*args: Any, **kwargs: Any) -> Any:
            profile = self.profile()
            profile.enable()
            try:
                return function(*args, **kwargs)
            finally:
                profile.disable()

        return profiled

    def wrap_loop(self, serve: Callable[[Dispatcher], None]) -> Callable[[Dispatcher], None]:
        """The send loop's thread whole, but not its wait for sockets: under cProfile that
        wait is charged the time the thread then waits for the interpreter lock."""

        def profiled(dispatcher: Dispatcher) -> None:
            profile = self.profile()
            selector = dispatcher._loop._selector  # type: ignore[attr-defined]
            wait = selector.select

            def select(timeout: float | None = None) -> Any:
                profile.disable()
                try:
                    return wait(timeout)
                finally:
                    profile.enable()

            selector.select = select
            profile.enable()
            try:
                serve(dispatcher)
            finally:
                profile.disable()

        return profiled

    def report(self, events: int, header: str) -> str:
        out = io.StringIO()
        out.write(header)
        stats = pstats.Stats(*self.profiles, stream=out)
        stats.strip_dirs()
        for order in ("cumulative", "tottime"):
            out.write(f"\n## top 25 by {order} ({events} events, all threads)\n")
            stats.sort_stats(order).print_stats(25)
        out.write("\n## top 40 of Krasip's and the LINE SDK's functions by cumulative\n")
        own = pstats.Stats(*self.profiles, stream=out).sort_stats("cumulative")
        own.print_stats(r"/(bot|store|handlers|linebot)/", 40)
        total = sum(self.statements.values())
        out.write(f"\n## SQL statements: {total / events:.2f} per event\n\n")
        for statement, count in self.statements.most_common():
            out.write(f"{count / events:7.3f}  {statement}\n")
        return out.getvalue()


def krasip_app(folder: Path, url: str, material: Any, platform: Platform) -> Flask:
    """Krasip's web app in this process on ``url``, sending to ``platform``."""
    settings = load_settings(
        environ={},
        overrides={
            "env": "development",
            "instance_path": folder,
            "keys": material,
            "line_channel_secret": SECRET,
            "line_channel_access_token": ACCESS_TOKEN,
            "line_api_base_url": platform.url,
            "line_data_api_base_url": platform.url,
        },
    )
    migrate.upgrade(url)
    return create_app(replace(settings, database_url=url))


class Stepper:
    """Sends one signed event into the webhook through the Flask test client and waits for
    the reply to reach the platform."""

    def __init__(
        self, app: Flask, platform: Platform, wrap: Callable[..., Any] | None = None
    ) -> None:
        client = app.test_client()
        self.post = wrap(client.post) if wrap else client.post
        self.platform = platform

    def __call__(
        self, user_id: str, kind: str, value: str, token: str
    ) -> tuple[float, list[dict[str, Any]]]:
        event = build_event(user_id, kind, value, token)
        body = json.dumps({"destination": "U0", "events": [event]}, ensure_ascii=False).encode()
        started = time.perf_counter()
        response = self.post(
            "/callback",
            data=body,
            headers={"X-Line-Signature": sign(SECRET, body), "Content-Type": "application/json"},
        )
        webhook = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}")
        return webhook, self.platform.wait(token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite)")
    parser.add_argument("--profile", type=Path, help="write a cProfile summary to this file")
    parser.add_argument("--cases", type=int, default=0, help="seed this many cases first")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="krasip-webhook-cost-"))
    material = generate_keys(folder / "keys", "benchmark passphrase only")
    url = args.database or f"sqlite:///{folder / 'krasip.sqlite3'}"
    if args.cases:
        migrate.upgrade(url)
        seed(url, material, args.cases, folder)
    platform = Platform()
    app = krasip_app(folder, url, material, platform)
    profiler = Profiler(app.extensions["krasip"].db.engine) if args.profile else None
    step = Stepper(app, platform, profiler.wrap if profiler else None)

    cpu_per_event, webhook_ms = [], []
    by_kind: dict[str, list[float]] = {"step": [], "receipt": [], "lookup": []}
    try:
        for number in range(args.rounds):
            events, cpu = 0, 0.0
            for conversation in range(args.conversations):
                user_id = "U" + secrets.token_hex(16)
                script = SCRIPTS[(number + conversation) % len(SCRIPTS)]
                tokens = platform.reply_tokens(user_id, len(script) + 1)
                steps = [*script, (LOOKUP, "")]
                messages: list[dict] = []
                for index, (kind, value) in enumerate(steps):
                    label = "receipt" if index == len(script) - 1 else "step"
                    if kind == LOOKUP:
                        found = (TOKEN_RE.fullmatch(m.get("text", "")) for m in messages)
                        value = next(m.group(0) for m in found if m)
                        kind, label = "text", "lookup"
                    before = time.process_time()
                    webhook, messages = step(user_id, kind, value, tokens[index])
                    spent = time.process_time() - before
                    by_kind[label].append(spent * 1000)
                    cpu += spent
                    webhook_ms.append(webhook * 1000)
                    events += 1
            cpu_per_event.append(cpu / events * 1000)
    finally:
        platform.stop()
    webhook_ms.sort()
    summary = json.dumps(
        {
            "database": url.split(":", 1)[0],
            "events": len(webhook_ms),
            "cpu_ms_per_event": [round(x, 2) for x in cpu_per_event],
            "median_cpu_ms_per_event": round(statistics.median(cpu_per_event), 2),
            "median_cpu_ms_by_kind": {
                kind: round(statistics.median(spent), 2) for kind, spent in by_kind.items()
            },
            "webhook_ms_p50": round(webhook_ms[len(webhook_ms) // 2], 2),
            "webhook_ms_p99": round(webhook_ms[int(len(webhook_ms) * 0.99)], 2),
        }
    )
    print(summary)
    if profiler:
        command = " ".join(["python -m bench.webhook_cost", *_public(sys.argv[1:])])
        header = f"# {command}\n# {summary}\n# (CPU figures above are under cProfile)\n"
        args.profile.write_text(profiler.report(len(webhook_ms), header))


def _public(argv: list[str]) -> list[str]:
    """The command line without a database password."""
    return [re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", arg) for arg in argv]


if __name__ == "__main__":
    main()
