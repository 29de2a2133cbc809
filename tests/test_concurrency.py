"""Many reporters at once against the production shape: gunicorn web workers and separate
`krasip worker` processes on one database, with LINE redelivering and duplicating events.

The emulator runs in this process; the bot runs as real subprocesses exactly as the
Procfile starts them, configured only through the environment.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

import emulator
import emulator.app as emulator_app
from bench.load import ANONYMOUS_THAI, CONFIDENTIAL_ENGLISH, build_event
from emulator.client import Emulator
from emulator.server import EmulatorServer
from store import migrate, repo
from store.db import Database
from store.models import Case
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, Keys, texts_of

REPORTERS = 200  # simulated reporters, each filing one complete report
CONCURRENT = 32  # reporters talking at the same moment
WEB_WORKERS = 4
OUTBOX_WORKERS = 2
DUPLICATE_SHARE = 0.15  # steps LINE delivers twice (or three times) at the same moment
REDELIVERY_SHARE = 0.15  # steps after which LINE redelivers an earlier event
SEED = 20260213
REPLY_TIMEOUT = 30.0

TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
NUMBER_RE = re.compile(r"KRS-\d{4}-\d{6}")

# The same complete reports the benchmark files: (kind, value) steps.
Step = tuple[str, str]

SCRIPTS = {"anonymous_thai": ANONYMOUS_THAI, "confidential_english": CONFIDENTIAL_ENGLISH}


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def krasip_command() -> list[str]:
    script = Path(sys.executable).with_name("krasip")
    if script.exists():
        return [str(script)]
    found = shutil.which("krasip")
    return [found] if found else [sys.executable, "-c", "from bot.cli import main; main()"]


class Processes:
    """Subprocesses in their own process groups, each logging to a file; all killed at end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.folder,
        )
        log.close()
        self.running.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.running:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.folder / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            if process.poll() is None or _group_alive(process.pid):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Deployment:
    line: Emulator
    line_app: Any
    bot_url: str
    database_url: str
    processes: Processes


@pytest.fixture
def deployment(
    tmp_path: Path, database_url: str, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    # Keep every API request in the log: this test checks each of them.
    monkeypatch.setattr(emulator_app, "MAX_LOG", 1_000_000)
    line_app = emulator.create_app(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN)
    line_server = EmulatorServer(line_app).start()
    migrate.upgrade(database_url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KRASIP_", "LINE_"))},
        "KRASIP_ENV": "development",
        "KRASIP_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_server.url,
        "LINE_DATA_API_BASE_URL": line_server.url,
        "KRASIP_IDENTITY_PUBLIC_KEY": keys.material.identity_public,
        "KRASIP_DATA_KEYS": keys.material.data_keys,
        "KRASIP_LOOKUP_PEPPER": keys.material.pepper,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    processes = Processes(tmp_path)
    try:
        processes.start(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bot:create_app()",
                "--workers",
                str(WEB_WORKERS),
                "--bind",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
            ],
            env,
        )
        for n in range(OUTBOX_WORKERS):
            processes.start(f"worker{n}", [*krasip_command(), "worker"], env)
        bot_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            processes.check_alive()
            try:
                if requests.get(bot_url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not answer:\n" + processes.tail("gunicorn"))
            time.sleep(0.2)
        line_app.config["EMULATOR_WEBHOOK_URL"] = bot_url + "/callback"
        yield Deployment(Emulator(line_server.url), line_app, bot_url, database_url, processes)
    finally:
        processes.stop_all()
        line_server.stop()


# --- reporters ---------------------------------------------------------------------------


def _event(user_id: str, step: Step) -> dict[str, Any]:
    """A webhook event as LINE builds it, with a reply token the emulator will honour."""
    kind, value = step
    return build_event(user_id, kind, value, uuid.uuid4().hex)


def _redelivered(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "deliveryContext": {"isRedelivery": True}}


@dataclass
class Reporter:
    user_id: str
    script_name: str
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)  # distinct events, in order
    redeliveries: int = 0
    duplicates: int = 0
    replies: list[list[dict[str, Any]]] = field(default_factory=list)  # messages per step
    webhook_statuses: list[int] = field(default_factory=list)

    @property
    def script(self) -> list[Step]:
        return SCRIPTS[self.script_name]


class Line:
    """Talks to the emulator's control API from many threads (one HTTP session each)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def deliver(self, events: list[dict[str, Any]]) -> int:
        resp = self.http.post(self.url + "/_emulator/events", json={"events": events}, timeout=60)
        resp.raise_for_status()
        return int(resp.json()["status"])

    def messages_since(self, user_id: str, since: int) -> list[dict[str, Any]]:
        resp = self.http.get(
            f"{self.url}/_emulator/users/{user_id}/messages", params={"since": since}, timeout=30
        )
        resp.raise_for_status()
        messages: list[dict[str, Any]] = resp.json()["messages"]
        return messages


def _wait_for(line: Line, user_id: str, since: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        got = line.messages_since(user_id, since)
        if len(got) >= count:
            return got[:count]
        if time.monotonic() > deadline:
            raise AssertionError(f"a reporter waited {REPLY_TIMEOUT}s for a reply")
        time.sleep(0.03)


def _concurrently(line: Line, events: list[dict[str, Any]]) -> list[int]:
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda e=e: statuses.append(line.deliver([e]))) for e in events
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def talk(line: Line, reporter: Reporter, replies_per_step: list[int] | None) -> None:
    """File one report step by step, answering each prompt once it has arrived.

    Along the way LINE sometimes delivers an event two or three times at once, and
    sometimes redelivers an event that was already handled."""
    seen = 0
    for index, step in enumerate(reporter.script):
        event = _event(reporter.user_id, step)
        reporter.events.append(event)
        duplicated = reporter.rng.random() < DUPLICATE_SHARE
        if duplicated:
            copies = reporter.rng.choice((2, 3))
            reporter.duplicates += copies - 1
            batch = [event] + [_redelivered(event)] * (copies - 1)
            reporter.webhook_statuses.extend(_concurrently(line, batch))
        else:
            reporter.webhook_statuses.append(line.deliver([event]))
        if replies_per_step is None:
            # The first reporter of a kind learns how many messages each step answers with.
            _wait_for(line, reporter.user_id, seen, 1)
            time.sleep(0.5)
            got = line.messages_since(reporter.user_id, seen)
        else:
            try:
                got = _wait_for(line, reporter.user_id, seen, replies_per_step[index])
            except AssertionError as exc:
                # A 503 here means the bot wanted LINE to redeliver, which this test does not.
                answered = reporter.webhook_statuses[-(len(batch) if duplicated else 1) :]
                message = f"{exc} (step {index}; the webhook answered {answered})"
                raise AssertionError(message) from None
        seen = got[-1]["seq"]
        reporter.replies.append([m["message"] for m in got])
        if reporter.rng.random() < REDELIVERY_SHARE:
            earlier = reporter.rng.choice(reporter.events)
            reporter.redeliveries += 1
            reporter.webhook_statuses.append(line.deliver([_redelivered(earlier)]))


def normalised(messages: list[dict[str, Any]]) -> str:
    """A reply's words and buttons, with what differs per report (token, number) masked."""
    text = texts_of(messages)
    text = TOKEN_RE.sub("<token>", NUMBER_RE.sub("<number>", text))
    buttons = [
        item["action"].get("data") or item["action"].get("text")
        for message in messages
        for item in (message.get("quickReply") or {}).get("items", [])
    ]
    return json.dumps([text, buttons], ensure_ascii=False)


# --- the test ----------------------------------------------------------------------------


def test_two_hundred_reporters_at_once_each_file_exactly_one_report(
    deployment: Deployment, keys: Keys
) -> None:
    line = Line(deployment.line.url)
    rng = random.Random(SEED)
    reporters = [
        Reporter(
            user_id="U" + uuid.UUID(int=rng.getrandbits(128)).hex,
            script_name=("anonymous_thai", "confidential_english")[n % 2],
            rng=random.Random(rng.getrandbits(64)),
        )
        for n in range(REPORTERS)
    ]

    # One reporter of each kind alone first: what every reporter must see, step by step.
    reference: dict[str, list[str]] = {}
    for first in reporters[:2]:
        talk(line, first, None)
        reference[first.script_name] = [normalised(r) for r in first.replies]
    counts = {first.script_name: [len(r) for r in first.replies] for first in reporters[:2]}

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        for future in [pool.submit(talk, line, r, counts[r.script_name]) for r in reporters[2:]]:
            future.result()
    deployment.processes.check_alive()
    time.sleep(1.5)  # anything sent twice by mistake would arrive in this time

    assert sum(r.duplicates for r in reporters) > 0 and sum(r.redeliveries for r in reporters) > 0
    for reporter in reporters:
        assert set(reporter.webhook_statuses) == {200}

    # Each reporter saw exactly the prompts of their own form, in order, once each, and
    # the receipt last.
    for reporter in reporters:
        everything = line.messages_since(reporter.user_id, 0)
        assert [m["message"] for m in everything] == [
            m for step in reporter.replies for m in step
        ], "a reporter received a message after the receipt, or one twice"
        assert [normalised(r) for r in reporter.replies] == reference[reporter.script_name]
        assert TOKEN_RE.search(texts_of(reporter.replies[-1])), "the receipt comes last"

    # Every reply went out exactly once, as a reply to the event that caused it.
    log = deployment.line_app.extensions["emulator"].log
    sent = [e for e in log if e["path"].startswith("/v2/bot/message/")]
    assert [e["path"] for e in sent if e["path"] != "/v2/bot/message/reply"] == [], (
        "no reply had to fall back to a push"
    )
    answered = Counter(e["body"]["replyToken"] for e in sent if e["status"] == 200)
    assert max(answered.values()) == 1, "a reply token was used twice"
    assert [e["status"] for e in sent if e["status"] != 200] == []
    tokens_sent = {event["replyToken"] for r in reporters for event in r.events}
    assert set(answered) == tokens_sent, "every distinct event got exactly one reply"
    assert len(answered) == sum(len(r.script) for r in reporters)

    # Exactly one case per reporter, and each receipt's token finds its own case.
    database = Database(deployment.database_url)
    keyring = keys.material.keyring()
    try:
        with database.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == REPORTERS
            found = set()
            for reporter in reporters:
                receipt = texts_of(reporter.replies[-1])
                token = TOKEN_RE.search(receipt)
                number = NUMBER_RE.search(receipt)
                assert token and number
                case = repo.find_case_by_token(session, keyring, token.group(0))
                assert case is not None and case.number == number.group(0)
                assert case.anonymous == (reporter.script_name == "anonymous_thai")
                found.add(case.id)
            assert len(found) == REPORTERS
    finally:
        database.dispose()
