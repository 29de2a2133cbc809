"""The benchmark's sealed floor (`python -m bench --floor`) keeps what it says it keeps.

It stands for Krasip's promises at rest in the comparison (issue 12): a reply comes back,
no LINE identifier or message text is stored in the clear, and a delivered reply leaves
neither its ciphertext nor its key behind, only the chat's current state and its key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from bench import free_port
from emulator.client import Emulator, LineUser
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET

ROOT = Path(__file__).resolve().parents[1]
SAID = "the floor must not keep this text"


@pytest.fixture
def floor(database_url: str, line: Emulator) -> Iterator[str]:
    """The sealed floor on the suite's database (SQLite, or PostgreSQL in CI)."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line.url,
        "FLOOR_SEALED": "1",
    }
    server = subprocess.Popen(  # noqa: S603 - the benchmark's own bot
        [sys.executable, "-m", "gunicorn", "bench.floor_bot:app", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        else:
            pytest.fail("the floor bot did not start")
        line.app.config["EMULATOR_WEBHOOK_URL"] = url + "/callback"  # type: ignore[attr-defined]
        yield database_url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_sealed_floor_replies_and_keeps_nothing_in_the_clear(
    floor: str, line: Emulator
) -> None:
    user = LineUser(line.url, "U" + uuid.uuid4().hex)
    for _ in range(2):
        assert user.say(SAID) == 200
    engine = create_engine(floor)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as db:
                waiting = db.scalar(text("SELECT count(*) FROM floor_outbox WHERE state != 'sent'"))
            if len(user.messages()) == 2 and waiting == 0:
                break
            time.sleep(0.05)
        with engine.connect() as db:
            chats = db.execute(text("SELECT u, key_id, s FROM floor_chat")).all()
            outbox = db.execute(
                text("SELECT state, key_id, to_ct, payload_ct FROM floor_outbox")
            ).all()
            keys = db.scalars(text("SELECT id FROM floor_key")).all()
            events = db.scalars(text("SELECT id FROM floor_event")).all()
    finally:
        engine.dispose()
    assert [m["message"]["text"] for m in user.messages()] == [SAID, SAID]
    assert len(chats) == 1 and chats[0][0] != user.user_id
    assert SAID.encode() not in bytes(chats[0][2])
    # Each step sealed the state under a new key and destroyed the old one; each
    # delivered reply lost its ciphertext and its key.
    assert keys == [chats[0][1]]
    assert [tuple(row) for row in outbox] == [("sent", None, None, None)] * 2
    assert len(events) == 2 and all(len(each) == 64 for each in events)
    if floor.startswith("sqlite:///"):
        database = Path(floor.removeprefix("sqlite:///"))
        raw = database.read_bytes() + Path(f"{database}-wal").read_bytes()
        assert SAID.encode() not in raw
        assert user.user_id.encode() not in raw
