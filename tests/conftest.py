"""Fixtures: the bot on a temporary instance folder, the LINE emulator, and LINE users.

The bot and the emulator each run on a real local socket, so every message goes through
the real line-bot-sdk HTTP client and a real signed webhook. The database is SQLite in
the test's folder, or PostgreSQL when KRASIP_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, text

import emulator
from bot import create_app
from bot.config import Settings, load_settings
from bot.runtime import Runtime, build_runtime
from bot.worker import Worker
from emulator.client import Emulator, LineUser
from emulator.server import EmulatorServer
from store import migrate
from store import outbox as outbox_store
from store.db import Database
from store.keys import KeyMaterial, generate_keys

CHANNEL_SECRET = "test-channel-secret-0123456789ab"
ACCESS_TOKEN = "test-access-token"
CUSTODIAN_PASSPHRASE = "test custodian passphrase"


class Clock:
    """Real time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


@dataclass(frozen=True)
class Keys:
    material: KeyMaterial
    private_key_file: Path
    passphrase: str


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    material = generate_keys(folder, CUSTODIAN_PASSPHRASE)
    return Keys(material, folder / "identity_private.json", CUSTODIAN_PASSPHRASE)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = os.environ.get("KRASIP_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'instance' / 'krasip.sqlite3'}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A register at the latest schema, without the app around it."""
    migrate.upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def line(clock: Clock) -> Iterator[Emulator]:
    """The LINE platform, with a control client (`line.faults(...)`, `line.requests()`).

    Its clock is the bot's, moved forward with it: events are stamped as LINE would stamp
    them, so the bot's age check on events sees what it would see live. The offset is read
    directly (not by calling the clock, which some tests record)."""
    app = emulator.create_app(
        channel_secret=CHANNEL_SECRET,
        access_token=ACCESS_TOKEN,
        clock=lambda: (datetime.now(UTC) + clock.offset).timestamp(),
    )
    server = EmulatorServer(app).start()
    client = Emulator(server.url)
    client.app = app  # type: ignore[attr-defined]
    yield client
    server.stop()


class Bot:
    """The running bot: its app, runtime and worker, and ways to wait for it."""

    def __init__(self, app: Any, server: EmulatorServer, settings: Settings) -> None:
        self.app = app
        self.server = server
        self.settings = settings
        self.runtime: Runtime = app.extensions["krasip"]
        self.worker = Worker(self.runtime)

    @property
    def url(self) -> str:
        return self.server.url

    def settle(self, timeout: float = 15.0, *, record_now: bool = False) -> None:
        """Wait until everything queued has been delivered (or given up on). With
        ``record_now``, what the web process delivered is recorded at once rather than with
        its next batch (within 100 ms): every step of a chat settles, and waiting for the
        batch made the suite a quarter slower."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if record_now and self.runtime.dispatcher is not None:
                self.runtime.dispatcher.flush()
            with self.runtime.db.transaction() as session:
                counts = outbox_store.counts(session)
            if not counts.get("pending") and not counts.get("sending"):
                return
            self.runtime.sender.deliver()
            time.sleep(0.02)
        raise AssertionError(f"outbox did not settle: {counts}")

    def run_worker(self) -> dict[str, int]:
        return self.worker.run_once()

    def stored_bytes(self) -> bytes:
        """Everything the database holds: the raw bytes of the SQLite file and its log, or
        on PostgreSQL every value of every row of every table, as it is stored."""
        if self.settings.database_url.startswith("sqlite"):
            path = Path(self.settings.database_url.removeprefix("sqlite:///"))
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        chunks: list[bytes] = []
        metadata = MetaData()
        metadata.reflect(self.runtime.db.engine)
        with self.runtime.db.engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(table.select()):
                    for value in row:
                        if isinstance(value, bytes | bytearray | memoryview):
                            chunks.append(bytes(value))
                        elif value is not None:
                            chunks.append(str(value).encode())
        return b"\n".join(chunks)


def make_settings(
    tmp_path: Path, database_url: str, keys: Keys, line_url: str, **overrides: Any
) -> Settings:
    settings = load_settings(
        environ={},
        overrides={
            "env": "development",
            "instance_path": tmp_path / "instance",
            "keys": keys.material,
            "line_channel_secret": CHANNEL_SECRET,
            "line_channel_access_token": ACCESS_TOKEN,
        },
    )
    chosen = {
        "database_url": database_url,
        "line_api_base_url": line_url,
        "line_data_api_base_url": line_url,
        "line_timeout_seconds": 5.0,
        **overrides,
    }
    return replace(settings, **chosen)


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    """Override in a test module to change the bot's settings."""
    return {}


@pytest.fixture
def bot(
    tmp_path: Path,
    database_url: str,
    keys: Keys,
    line: Emulator,
    clock: Clock,
    bot_overrides: dict[str, Any],
) -> Iterator[Bot]:
    settings = make_settings(tmp_path, database_url, keys, line.url, **bot_overrides)
    migrate.upgrade(settings.database_url, keyring=keys.material.keyring())
    app = create_app(settings, clock=clock)
    server = EmulatorServer(app).start()
    line.app.config["EMULATOR_WEBHOOK_URL"] = server.url + "/callback"  # type: ignore[attr-defined]
    running = Bot(app, server, settings)
    yield running
    server.stop()
    running.runtime.close()


@pytest.fixture
def other_runtime(bot: Bot, clock: Clock) -> Iterator[Callable[[], Runtime]]:
    """Runtimes of other processes on the bot's database (a second ``krasip worker``),
    closed after the test: a sender's heartbeat left running holds a short write turn
    every 2 s, and with it this process's collections, for the rest of the session."""
    made: list[Runtime] = []

    def make() -> Runtime:
        made.append(build_runtime(bot.settings, clock))
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()


class Chat:
    """A LINE user talking to the bot, one step at a time, as a person would."""

    def __init__(self, user: LineUser, bot: Bot) -> None:
        self.user = user
        self.bot = bot
        self._seen = 0
        self.status: int | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    def _after(self, status: int) -> list[dict[str, Any]]:
        self.status = status
        assert status == 200, f"webhook answered {status}"
        self.bot.settle(record_now=True)
        return self.new_messages()

    def new_messages(self) -> list[dict[str, Any]]:
        messages = [m["message"] for m in self.user.messages()]
        fresh = messages[self._seen :]
        self._seen = len(messages)
        self.last = fresh or getattr(self, "last", [])
        return fresh

    def say(self, text: str) -> list[dict[str, Any]]:
        return self._after(self.user.say(text))

    def follow(self) -> list[dict[str, Any]]:
        return self._after(self.user.follow())

    def send_image(self, data: bytes) -> list[dict[str, Any]]:
        return self._after(self.user.send_image(data))

    def send_file(self, data: bytes, name: str) -> list[dict[str, Any]]:
        return self._after(self.user.send_file(data, name))

    def sticker(self) -> list[dict[str, Any]]:
        return self._after(self.user.send_sticker())

    def quick_replies(self) -> list[dict[str, Any]]:
        """The actions of the quick-reply buttons under the latest message."""
        for message in reversed(self.last):
            items = (message.get("quickReply") or {}).get("items") or []
            if items:
                return [item["action"] for item in items]
        return []

    def choose(self, *needles: str) -> list[dict[str, Any]]:
        """Tap the quick reply whose label or data contains any of ``needles``."""
        actions = self.quick_replies()
        for needle in needles:
            for action in actions:
                if needle in action.get("label", "") or needle in action.get("data", ""):
                    if action["type"] == "postback":
                        return self._after(self.user.tap(action["data"], action.get("displayText")))
                    return self.say(action["text"])
        labels = [a.get("label") for a in actions]
        raise AssertionError(f"no quick reply matching {needles}; offered: {labels}")


def texts_of(messages: list[dict[str, Any]]) -> str:
    """All the words in some messages, Flex included, as one string to search."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "altText", "label", "displayText") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(messages)
    return "\n".join(found)


@pytest.fixture
def chat(line: Emulator, bot: Bot) -> Chat:
    return Chat(LineUser(line.url, "U" + uuid.uuid4().hex), bot)


@pytest.fixture
def new_chat(line: Emulator, bot: Bot):  # type: ignore[no-untyped-def]
    def make() -> Chat:
        return Chat(LineUser(line.url, "U" + uuid.uuid4().hex), bot)

    return make
