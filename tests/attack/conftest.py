"""Fixtures for the stolen-server test: recorded cryptography, a recorded clock, traced
LINE users, and the thief's copy of the database (SQLite files, or a PostgreSQL dump and
data directory taken after a clean shutdown)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from carving import Recorder
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import store.crypto
from emulator.client import Emulator, LineUser
from tests.conftest import Bot, Chat, Clock

PG_CLUSTER_ENV = "KRASIP_TEST_PG_CLUSTER"


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every AES-GCM encryption and keyed hash the product makes from here on."""
    recorded = Recorder()
    monkeypatch.setattr(store.crypto, "AESGCM", recorded.aesgcm_class())
    monkeypatch.setattr(store.crypto, "hmac", recorded.hmac_module())
    return recorded


class RecordingClock(Clock):
    """The bot's clock; readings taken while a user is being served are that user's."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __call__(self):  # type: ignore[no-untyped-def]
        value = super().__call__()
        self.recorder.note_instant(value)
        return value


@pytest.fixture
def clock(recorder: Recorder) -> RecordingClock:
    # The bot fixture takes the clock, so the recorder is in place before any key is used.
    return RecordingClock(recorder)


class TracedUser(LineUser):
    """A LINE user whose every event is kept, and who is the recorder's actor while served.

    Each action starts a few seconds after the last one on the bot's clock, so the
    instants of one user's activity are theirs alone to the second."""

    def __init__(self, url: str, user_id: str, recorder: Recorder, clock: Clock) -> None:
        super().__init__(url, user_id)
        self.recorder = recorder
        self.clock = clock
        self.events: list[dict[str, Any]] = []

    def _act(self, action: str, **kwargs: Any) -> int:  # type: ignore[override]
        self.clock.advance(seconds=3)
        self.recorder.actor = self.user_id
        status = super()._act(action, **kwargs)
        if self.last_event:
            self.events.append(self.last_event)
        return status


class TracedChat(Chat):
    def _after(self, status: int) -> list[dict[str, Any]]:
        try:
            return super()._after(status)
        finally:
            self.user.recorder.actor = None  # type: ignore[attr-defined]


# --- the thief's copy --------------------------------------------------------------------


def _read_tree(root: Path, prefix: str, since: float = 0.0) -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since:
            files.append((f"{prefix}{path.relative_to(root)}", path.read_bytes()))
    return files


def sqlite_live_copy(bot: Bot) -> list[tuple[str, bytes]]:
    """The instance folder of a running bot, write-ahead log included."""
    return _read_tree(bot.settings.instance_path, "live/")


def stop_bot(bot: Bot) -> None:
    bot.server.stop()
    bot.runtime.close()


def steal(bot: Bot, started: float) -> list[tuple[str, bytes]]:
    """Stop the bot and copy what the thief takes; SQLite also keeps the live copy made
    before by the caller. On PostgreSQL: a pg_dump, then the cluster's files after a clean
    shutdown (only those written since ``started``; other databases' folders left out)."""
    url = bot.settings.database_url
    if url.startswith("sqlite"):
        stop_bot(bot)
        return _read_tree(bot.settings.instance_path, "stopped/")
    cluster = os.environ.get(PG_CLUSTER_ENV)
    if not cluster:
        pytest.fail(
            f"{PG_CLUSTER_ENV} must name the test server's cluster (e.g. 15/main) so the "
            "stolen-server test can stop it and read its data directory"
        )
    engine = create_engine(url)
    with engine.connect() as connection:
        oid = connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    engine.dispose()
    stop_bot(bot)
    files = [("pg_dump.sql", _pg_dump(url, cluster))]
    version, name = cluster.split("/", 1)
    data_dir = _data_directory(version, name)
    subprocess.run(["pg_ctlcluster", version, name, "stop", "-m", "fast"], check=True)
    try:
        for label, content in _read_tree(data_dir, "pgdata/", since=started - 2):
            parts = label.split("/")
            if parts[1] == "base" and len(parts) > 2 and parts[2] != str(oid):
                continue  # another database of the same server
            files.append((label, content))
    finally:
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
        _wait_ready(url)
    return files


def _pg_binary(version: str, tool: str) -> str:
    path = Path(f"/usr/lib/postgresql/{version}/bin/{tool}")
    return str(path) if path.exists() else (shutil.which(tool) or tool)


def _pg_dump(url: str, cluster: str) -> bytes:
    parsed = make_url(url)
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    command = [
        _pg_binary(cluster.split("/", 1)[0], "pg_dump"),
        "--host",
        parsed.host or "127.0.0.1",
        "--port",
        str(parsed.port or 5432),
        "--username",
        parsed.username or "postgres",
        "--dbname",
        parsed.database or "",
    ]
    return subprocess.run(command, check=True, capture_output=True, env=env).stdout


def _data_directory(version: str, name: str) -> Path:
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True
    ).stdout
    for line in listing.splitlines():
        fields = line.split()
        if fields[:2] == [version, name]:
            return Path(fields[5])
    pytest.fail(f"cluster {version}/{name} not found by pg_lsclusters")


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except Exception:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            engine.dispose()


class Thief:
    """Takes the copy at the end of the test; knows when the test began."""

    def __init__(self) -> None:
        self.started = time.time()

    def take(self, bot: Bot) -> list[tuple[str, bytes]]:
        """SQLite: the live files of the running bot, then those left once it stopped.
        PostgreSQL: see :func:`steal`."""
        files = sqlite_live_copy(bot) if bot.settings.database_url.startswith("sqlite") else []
        return files + steal(bot, self.started)


@pytest.fixture
def thief() -> Thief:
    return Thief()


@pytest.fixture
def traced_chat(line: Emulator, bot: Bot, recorder: Recorder, clock: RecordingClock):  # type: ignore[no-untyped-def]
    """Make a chat with a new LINE user whose events and instants are recorded."""

    def make() -> TracedChat:
        user = TracedUser(line.url, "U" + uuid.uuid4().hex, recorder, clock)
        return TracedChat(user, bot)

    return make
