"""Fixtures for the stolen-server test: recorded cryptography, a recorded clock, traced
LINE users, and the thief's copy of the database (SQLite files, or a PostgreSQL dump and
data directory taken after a clean shutdown)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
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
from store.crypto import DataKeyring, Pepper
from tests.conftest import Bot, Chat, Clock, Keys

PG_CLUSTER_ENV = "KRASIP_TEST_PG_CLUSTER"


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every AES-GCM encryption and keyed hash the product makes from here on."""
    if os.environ.get("KRASIP_TEST_DATABASE_URL") and not os.environ.get(PG_CLUSTER_ENV):
        pytest.fail(
            f"{PG_CLUSTER_ENV} must name the test server's cluster (e.g. 15/main) so the "
            "stolen-server test can stop it and read its data directory"
        )
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
def clock(request: pytest.FixtureRequest) -> Clock:
    """A recording clock for tests that take the recorder, the plain one for the others.

    The bot fixture takes the clock, so the recorder is in place before any key is used."""
    if "recorder" in request.fixturenames:
        return RecordingClock(request.getfixturevalue("recorder"))
    return Clock()


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


def _current_lsn(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        lsn = connection.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar_one()
    engine.dispose()
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


WAL_SEGMENT = 16 * 1024 * 1024


def _wal_since(label: str, content: bytes, start_lsn: int) -> bytes:
    """The part of a log segment written at or after ``start_lsn`` (all of it for other
    files). Segment names are timeline, then the log position in 4 GiB and 16 MiB units."""
    name = label.rsplit("/", 1)[-1]
    if "/pg_wal/" not in label or len(name) != 24 or not all(c in "0123456789ABCDEF" for c in name):
        return content
    first = (int(name[8:16], 16) << 32) + int(name[16:24], 16) * WAL_SEGMENT
    if first + len(content) <= start_lsn:
        return b""
    return content[max(0, start_lsn - first) :]


def steal(bot: Bot, started: float, start_lsn: int = 0) -> list[tuple[str, bytes]]:
    """Stop the bot and copy what the thief takes; SQLite also keeps the live copy made
    before by the caller. On PostgreSQL: a pg_dump, then the cluster's files after a clean
    shutdown (only those written since ``started``; other databases' folders left out)."""
    url = bot.settings.database_url
    if url.startswith("sqlite"):
        stop_bot(bot)
        return _read_tree(bot.settings.instance_path, "stopped/")
    cluster = os.environ[PG_CLUSTER_ENV]  # checked by the recorder fixture
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
            files.append((label, _wal_since(label, content, start_lsn)))
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
    """Takes the copy at the end of the test; knows when the test began, and names the
    table behind a place in the copy (for the report only: the judging never looks)."""

    def __init__(self, keys: Keys, database_url: str) -> None:
        self.started = time.time()
        # PostgreSQL reuses old log segments: only the log written during the test is this
        # test's (older bytes there belong to earlier tests and could match by chance).
        self.start_lsn = _current_lsn(database_url) if database_url.startswith("postgres") else 0
        # The thief's keys folder: data keys and pepper, never the custodian's key.
        self.data_keys = {k.key: k.key_id for k in DataKeyring.parse(keys.material.data_keys)}
        self.pepper = Pepper.parse(keys.material.pepper)
        self._sqlite_pages: dict[int, str] = {}
        self._page_size = 4096
        self._pg_files: dict[str, str] = {}
        self._files: dict[str, bytes] = {}

    def take(self, bot: Bot) -> list[tuple[str, bytes]]:
        """SQLite: the live files of the running bot, then those left once it stopped.
        PostgreSQL: see :func:`steal`."""
        if bot.settings.database_url.startswith("sqlite"):
            files = sqlite_live_copy(bot) + steal(bot, self.started)
            self._map_sqlite(files)
        else:
            self._pg_files = _pg_relation_files(bot.settings.database_url)
            files = steal(bot, self.started, self.start_lsn)
        self._files = dict(files)
        return files

    def _map_sqlite(self, files: list[tuple[str, bytes]]) -> None:
        stopped = [data for name, data in files if name.endswith(".sqlite3") and data]
        if not stopped:
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "copy.sqlite3"
            path.write_bytes(stopped[-1])
            connection = sqlite3.connect(path)
            try:
                self._page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                rows = connection.execute("SELECT pageno, name FROM dbstat").fetchall()
            finally:
                connection.close()
        self._sqlite_pages = {page: name for page, name in rows}

    def locate(self, place: str) -> str:
        """``file@offset`` with the table (or index) it lies in, where that can be told."""
        name, _, offset_text = place.rpartition("@")
        if not name:
            return place
        offset = int(offset_text)
        if name.endswith(".sqlite3"):
            page = offset // self._page_size + 1
            return f"{place} ({self._sqlite_pages.get(page, 'free page')})"
        if name.endswith(".sqlite3-wal"):
            frame = (offset - 32) // (24 + self._page_size)
            start = 32 + frame * (24 + self._page_size)
            data = self._files.get(name, b"")
            if 0 <= start and start + 4 <= len(data):
                page = int.from_bytes(data[start : start + 4], "big")
                table = self._sqlite_pages.get(page, "page now free")
                return f"{place} (log frame {frame}, {table})"
        if name == "pg_dump.sql":
            head = self._files.get(name, b"")[:offset]
            found = list(re.finditer(rb"\nCOPY ([\w.\"]+)", head))
            return f"{place} ({found[-1].group(1).decode()})" if found else place
        if name.startswith("pgdata/base/"):
            filenode = re.sub(r"(_\w+)?(\.\d+)?$", "", name.rsplit("/", 1)[-1])
            return f"{place} ({self._pg_files.get(filenode, 'dropped or system')})"
        return place


def _pg_relation_files(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pg_relation_filenode(c.oid)::text, c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            )
        ).all()
    engine.dispose()
    return {filenode: name for filenode, name in rows if filenode}


@pytest.fixture
def thief(recorder: Recorder, keys: Keys, database_url: str) -> Thief:
    # Taken with the recorder, before the bot starts: files written from then on are read.
    return Thief(keys, database_url)


@pytest.fixture
def traced_chat(line: Emulator, bot: Bot, recorder: Recorder, clock: RecordingClock):  # type: ignore[no-untyped-def]
    """Make a chat with a new LINE user whose events and instants are recorded."""

    def make() -> TracedChat:
        user = TracedUser(line.url, "U" + uuid.uuid4().hex, recorder, clock)
        return TracedChat(user, bot)

    return make
