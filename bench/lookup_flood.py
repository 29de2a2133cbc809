"""Wrong tokens in a flood, right tokens answered: the lookup throttle under load.

50 LINE accounts send 1,000 wrong tokens between them while 20 real reporters look up
their cases (filed straight into the register with known tokens). Every real lookup must
be answered with its status card; the time from sending the token to the card reaching
LINE is measured. Events are signed and delivered by the LINE emulator, one webhook call
each, as LINE sends them.

    python -m bench.lookup_flood [--database-url URL] [--processes [--workers N]]

Without ``--database-url`` a SQLite file in a temporary folder is used. With
``--processes`` the bot runs as deployed (gunicorn, ``krasip worker``) and the accounts
post their signed events to its webhook themselves, as LINE does; the emulator takes the
replies, and the run prints the CPU seconds each process spent. Nothing here prints a
token or a user id.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import secrets
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.load import sign
from emulator.client import Emulator

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHANNEL_SECRET = "bench-channel-secret-0123456789ab"  # noqa: S105 - emulator only
ACCESS_TOKEN = "bench-access-token"  # noqa: S105 - emulator only

Clock = Callable[[], datetime]
# LINE's own redelivery waits are longer and unpublished; short ones keep the run quick,
# and like LINE it keeps trying for a while (here about a minute).
REDELIVERY_WAITS = (0.2, 0.4, 0.8, 1.6, 3.2, *[5.0] * 10)
BUSY = [0]  # webhook calls answered 503 (and so redelivered), over the whole run
BUSY_LOCK = threading.Lock()


def random_token() -> str:
    """A well-formed token no case has (80 random bits: a match is out of the question)."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(symbols[i : i + 4] for i in range(0, 16, 4))


def _event_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(26))


def event(kind: str, user_id: str, at: datetime, text: str | None = None) -> dict[str, Any]:
    """A webhook event from a 1:1 chat, as LINE builds it, stamped with the bot's clock."""
    body: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(at.timestamp() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": _event_id(),
        "deliveryContext": {"isRedelivery": False},
    }
    if kind != "unfollow":
        body["replyToken"] = secrets.token_hex(16)
    if kind == "follow":
        body["follow"] = {"isUnblocked": True}
    if kind == "message":
        body["message"] = {
            "type": "text",
            "id": str(secrets.randbelow(10**15)),
            "text": text,
            "quoteToken": secrets.token_urlsafe(48),
        }
    return body


@dataclass(frozen=True)
class Webhook:
    """The bot's webhook, for events posted to it signed, as LINE posts them."""

    url: str
    channel_secret: str

    def post(self, events: list[dict[str, Any]]) -> int:
        destination = "U" + hashlib.sha256(self.channel_secret.encode()).hexdigest()[:32]
        body = json.dumps({"destination": destination, "events": events}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Line-Signature": sign(self.channel_secret, body),
        }
        # The standard library's client: requests cost the load generator, which shares
        # the two cores with the bot, about 1 ms of CPU more per post.
        where = urlsplit(self.url)
        connection = http.client.HTTPConnection(where.netloc, timeout=10)
        try:
            connection.request("POST", where.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


class Account:
    """One LINE account talking to the bot: through the emulator, or, given the bot's
    ``webhook``, posting its events there itself as LINE does (the emulator then only
    takes the bot's replies). The latter keeps the relay's CPU, which is LINE's in real
    life, off the two cores the bot is measured on."""

    def __init__(
        self,
        line: Emulator,
        clock: Clock,
        user_id: str | None = None,
        webhook: Webhook | None = None,
    ) -> None:
        self.line = Emulator(line.url)  # its own HTTP session: accounts run in threads
        self.clock = clock
        self.user_id = user_id or "U" + uuid.uuid4().hex
        self.seen = 0
        self.last_seq = 0  # the emulator's sequence number of the last message seen
        self.webhook = webhook
        self._reply_tokens: list[str] = []

    def post(self, *events: dict[str, Any], batch: int = 50) -> None:
        for start in range(0, len(events), batch):
            self._deliver(list(events[start : start + batch]))

    def _reply_token(self) -> str:
        """A reply token the emulator knows, registered 50 at a time."""
        if not self._reply_tokens:
            self._reply_tokens = [secrets.token_hex(16) for _ in range(50)]
            self.line.register_reply_tokens([(t, self.user_id) for t in self._reply_tokens])
        return self._reply_tokens.pop()

    def _post_once(self, events: list[dict[str, Any]]) -> int:
        if self.webhook is None:
            return self.line.post_raw_events(events)
        return self.webhook.post(events)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        """Deliver as LINE does with redelivery on: a busy bot's fast 503 stored nothing,
        so the same events come again (marked as redeliveries) after a short wait."""
        if self.webhook is not None:
            events = [
                {**e, "replyToken": self._reply_token()} if "replyToken" in e else e for e in events
            ]
        for wait in REDELIVERY_WAITS:
            status = self._post_once(events)
            if status == 200:
                return
            if status != 503:
                raise AssertionError(f"webhook answered {status}")
            with BUSY_LOCK:
                BUSY[0] += 1
            time.sleep(wait)
            events = [{**e, "deliveryContext": {"isRedelivery": True}} for e in events]
        raise AssertionError(f"webhook still busy after {len(REDELIVERY_WAITS)} deliveries")

    def say(self, *texts: str, batch: int = 50) -> None:
        """Send messages, up to ``batch`` of them in one webhook call (LINE batches too)."""
        self.post(*(event("message", self.user_id, self.clock(), t) for t in texts), batch=batch)

    def unfollow(self) -> None:
        self.post(event("unfollow", self.user_id, self.clock()))

    def follow(self) -> None:
        self.post(event("follow", self.user_id, self.clock()))

    def messages(self) -> list[dict[str, Any]]:
        return [m["message"] for m in self.line.user(self.user_id).messages()]

    def new_messages(self) -> list[dict[str, Any]]:
        fresh = self.line.user(self.user_id).messages_after(self.last_seq)
        if fresh:
            self.last_seq = fresh[-1]["seq"]
        self.seen += len(fresh)
        return [item["message"] for item in fresh]

    def wait_for_card(self, case_number: str, timeout: float = 10.0) -> float:
        """Seconds until a status card of ``case_number`` arrives after what was seen.
        A long poll: the emulator answers when a message comes, so waiting costs LINE's
        side (this machine's CPU, shared with the bot) one request, not one every few ms."""
        started = time.perf_counter()
        chat = self.line.user(self.user_id)
        while (left := timeout - (time.perf_counter() - started)) > 0:
            fresh = chat.messages_after(self.last_seq, wait=min(left, 5.0))
            if fresh:
                self.last_seq = fresh[-1]["seq"]
                self.seen += len(fresh)
            for item in fresh:
                message = item["message"]
                if message.get("type") == "flex" and case_number in message.get("altText", ""):
                    return time.perf_counter() - started
        raise TimeoutError(f"no status card for {case_number} within {timeout}s")


@dataclass(frozen=True)
class Filed:
    token: str
    case_number: str


def file_cases(runtime: Any, count: int) -> list[Filed]:
    """``count`` anonymous cases filed straight into the register, with tokens we know."""
    from handlers import tokens
    from store import repo

    filed = []
    now = runtime.clock()
    with runtime.db.transaction() as session:
        for i in range(count):
            token = tokens.format_token(repo.new_token_bytes())
            created = repo.create_case(
                session,
                runtime.keys,
                now=now,
                token=token,
                channel="line",
                lang="th",
                category="other",
                district_code=None,
                anonymous=True,
                meets_anonymous_bar=False,
                content={"category": "other", "description": f"bench case {i}"},
                identity=None,
                notify_user_id=None,
            )
            filed.append(Filed(token, created.number))
    return filed


@dataclass
class FloodResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per real lookup
    webhook: list[float] = field(default_factory=list)  # of those, until the webhook answered
    unanswered: list[str] = field(default_factory=list)  # case numbers with no card
    wrong_sent: int = 0
    seconds: float = 0.0


def flood(
    line: Emulator,
    clock: Clock,
    reporters: list[Filed],
    *,
    accounts: int = 50,
    wrong_tokens: int = 1000,
    lookups_each: int = 3,
    card_timeout: float = 60.0,
    webhook: Webhook | None = None,
) -> FloodResult:
    """Flood with wrong tokens while every reporter looks up its case ``lookups_each`` times."""
    result = FloodResult()
    lock = threading.Lock()
    share, rest = divmod(wrong_tokens, accounts)
    per_account = [share + (i < rest) for i in range(accounts)]

    def flooder(count: int) -> None:
        account = Account(line, clock, webhook=webhook)
        for _ in range(count):
            account.say(random_token())
            with lock:
                result.wrong_sent += 1

    def reporter(filed: Filed, seed: int) -> None:
        account = Account(line, clock, webhook=webhook)
        pause = random.Random(seed)
        for _ in range(lookups_each):
            time.sleep(pause.uniform(0.05, 0.4))
            account.new_messages()
            started = time.perf_counter()
            account.say(filed.token)
            posted = time.perf_counter() - started
            try:
                account.wait_for_card(filed.case_number, card_timeout)
            except TimeoutError:
                with lock:
                    result.unanswered.append(filed.case_number)
                continue
            with lock:
                # From sending the token to the card reaching LINE.
                result.latencies.append(time.perf_counter() - started)
                result.webhook.append(posted)

    threads = [threading.Thread(target=flooder, args=(n,)) for n in per_account]
    threads += [threading.Thread(target=reporter, args=(f, i)) for i, f in enumerate(reporters)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(result: FloodResult) -> str:
    ms = [v * 1000 for v in result.latencies]
    if not ms:
        return f"no real lookup answered; unanswered: {len(result.unanswered)}"
    hook = [v * 1000 for v in result.webhook]
    return (
        f"{result.wrong_sent} wrong tokens and {len(ms)} real lookups in {result.seconds:.1f}s; "
        f"real lookups answered: p50 {percentile(ms, 50):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms (of which the webhook call: "
        f"p50 {percentile(hook, 50):.0f} ms, p99 {percentile(hook, 99):.0f} ms); "
        f"unanswered: {len(result.unanswered)}; webhook calls answered 503 and "
        f"redelivered: {BUSY[0]}"
    )


def main(argv: list[str] | None = None) -> None:
    import emulator
    from bot import create_app
    from bot.config import load_settings
    from emulator.server import EmulatorServer
    from store import migrate
    from store.keys import generate_keys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--wrong-tokens", type=int, default=1000)
    parser.add_argument("--reporters", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers with --processes (Procfile: 2)"
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="as deployed: the bot under gunicorn (2 workers) with `krasip worker`, and the "
        "LINE emulator, each its own process (default: all in this process)",
    )
    args = parser.parse_args(argv)
    if args.processes:
        _main_processes(args)
        return

    with tempfile.TemporaryDirectory(prefix="krasip-flood-") as tmp:
        folder = Path(tmp)
        material = generate_keys(folder / "keys", "bench custodian passphrase")
        database_url = args.database_url or f"sqlite:///{folder / 'instance' / 'krasip.sqlite3'}"
        line_app = emulator.create_app(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN)
        line_server = EmulatorServer(line_app).start()
        settings = load_settings(
            environ={},
            overrides={
                "env": "development",
                "instance_path": folder / "instance",
                "keys": material,
                "line_channel_secret": CHANNEL_SECRET,
                "line_channel_access_token": ACCESS_TOKEN,
            },
        )
        settings = replace(
            settings,
            database_url=database_url,
            line_api_base_url=line_server.url,
            line_data_api_base_url=line_server.url,
        )
        migrate.upgrade(database_url, keyring=material.keyring())
        app = create_app(settings)
        bot_server = EmulatorServer(app).start()
        line_app.config["EMULATOR_WEBHOOK_URL"] = bot_server.url + "/callback"
        runtime = app.extensions["krasip"]
        try:
            reporters = file_cases(runtime, args.reporters)
            result = flood(
                Emulator(line_server.url),
                lambda: datetime.now(UTC),
                reporters,
                accounts=args.accounts,
                wrong_tokens=args.wrong_tokens,
            )
        finally:
            bot_server.stop()
            runtime.close()
            line_server.stop()
        print(f"database: {database_url.split(':', 1)[0]}")
        print(summary(result))


def _main_processes(args: argparse.Namespace) -> None:
    import os
    import subprocess
    import sys

    import psutil
    import requests

    from bench.run import ROOT, Fleet, Monitor, Processes, free_port, postgres_processes, wait_http
    from bot import runtime as bot_runtime
    from bot.config import load_settings

    with tempfile.TemporaryDirectory(prefix="krasip-flood-") as tmp:
        folder = Path(tmp)
        database_url = args.database_url or f"sqlite:///{folder / 'krasip.sqlite3'}"
        line_port, bot_port = free_port(), free_port()
        line_url, bot_url = f"http://127.0.0.1:{line_port}", f"http://127.0.0.1:{bot_port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "KRASIP_ENV": "development",
            "KRASIP_INSTANCE": str(folder / "instance"),
            "DATABASE_URL": database_url,
            "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
            "LINE_API_BASE_URL": line_url,
            "LINE_DATA_API_BASE_URL": line_url,
        }
        # `krasip init`: development keys in the instance folder, the database migrated.
        subprocess.run([sys.executable, "-m", "bot", "init"], env=env, check=True, cwd=ROOT)
        fleet = Fleet(folder)
        try:
            fleet.start(
                "line",
                [sys.executable, "-m", "emulator", "--port", str(line_port),
                 "--channel-secret", CHANNEL_SECRET, "--access-token", ACCESS_TOKEN],
                env,
            )  # fmt: skip
            wait_http(line_url + "/_emulator/config", fleet)
            requests.post(
                line_url + "/_emulator/config",
                json={"webhook_url": bot_url + "/callback"},
                timeout=5,
            )
            fleet.start(
                "web",
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                 "bot:create_app()", "--workers", str(args.workers),
                 "--bind", f"127.0.0.1:{bot_port}"],
                env,
            )  # fmt: skip
            fleet.start("worker", [sys.executable, "-m", "bot", "worker"], env)
            wait_http(bot_url + "/healthz", fleet)
            runtime = bot_runtime.build_runtime(load_settings(environ=env))
            try:
                reporters = file_cases(runtime, args.reporters)
            finally:
                runtime.close()
            roots = {proc.name: proc.popen.pid for proc in fleet.procs}
            extra: dict[str, Processes] = {"loadgen": [psutil.Process()]}
            if not database_url.startswith("sqlite"):
                extra["postgres"] = postgres_processes
            monitor = Monitor(roots, extra)
            monitor.begin()
            result = flood(
                Emulator(line_url),
                lambda: datetime.now(UTC),
                reporters,
                accounts=args.accounts,
                wrong_tokens=args.wrong_tokens,
                webhook=Webhook(bot_url + "/callback", CHANNEL_SECRET),
            )
            monitor.end()
        finally:
            fleet.stop()
        print(
            f"database: {database_url.split(':', 1)[0]}, "
            f"bot under gunicorn ({args.workers} workers)"
        )
        print(summary(result))
        # Where the machine's two cores went: the bot's processes, and the harness's.
        busy = {name: f["cpu_s"] for name, f in monitor.figures().items() if f["cpu_s"] >= 0.05}
        print("CPU seconds per process: " + ", ".join(f"{n} {s}" for n, s in busy.items()))


if __name__ == "__main__":
    main()
