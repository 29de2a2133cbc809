"""The benchmark's sealed floor (`python -m bench --floor`) keeps what it says it keeps.

It stands for Krasip's promises at rest in the comparison (issue 12): a reply comes back,
no LINE identifier or message text is stored in the clear, and a delivered reply leaves
neither its ciphertext nor its key behind, only the chat's current state and its key.
The replay floor is the same bot answering with Krasip's own replies (`bench.replies`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from bench import free_port, replies
from bench.load import SCRIPTS, TOKEN_RE
from emulator.client import Emulator, LineUser
from handlers.messages import wire_json
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET

ROOT = Path(__file__).resolve().parents[1]
SAID = "the floor must not keep this text"


@pytest.fixture
def floor(database_url: str, line: Emulator) -> Iterator[str]:
    """The sealed floor on the suite's database (SQLite, or PostgreSQL in CI)."""
    yield from _serve(database_url, line, {})


# Made-up replies for two conversations that share a postback, as Krasip's two scripts do.
REPLIES = {
    "hello": {"hello": [{"type": "text", "text": "A"}], "s=ok": [{"type": "text", "text": "B"}]},
    "hi": {
        "hi": [{"type": "text", "text": "C"}],
        "s=ok": [{"type": "text", "text": "D"}, {"type": "text", "text": "E"}],
    },
}


@pytest.fixture
def replay(database_url: str, line: Emulator, tmp_path: Path) -> Iterator[str]:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(REPLIES))
    yield from _serve(database_url, line, {"FLOOR_REPLIES": str(replies)})


def _serve(database_url: str, line: Emulator, extra: dict[str, str]) -> Iterator[str]:
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
        **extra,
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


def test_the_replay_answers_each_conversation_with_its_own_replies(
    replay: str, line: Emulator
) -> None:
    first, second = (LineUser(line.url, "U" + uuid.uuid4().hex) for _ in range(2))
    assert first.say("hello") == 200
    assert [m["message"]["text"] for m in first.wait_for_messages(1)] == ["A"]
    assert second.say("hi") == 200
    assert [m["message"]["text"] for m in second.wait_for_messages(1)] == ["C"]
    # The same postback is answered as the conversation it is part of answers it.
    assert first.tap("s=ok") == 200
    assert [m["message"]["text"] for m in first.wait_for_messages(1)] == ["B"]
    assert second.tap("s=ok") == 200
    assert [m["message"]["text"] for m in second.wait_for_messages(2)] == ["D", "E"]
    # Anything Krasip was never asked is an error the benchmark counts, and keeps nothing.
    stranger = LineUser(line.url, "U" + uuid.uuid4().hex)
    assert stranger.say("not in any script") == 500
    assert first.say("hi") == 500
    # ...and leaves no transaction open for the next event on the same connection.
    assert second.say("hi") == 200
    assert [m["message"]["text"] for m in second.wait_for_messages(1)] == ["C"]
    engine = create_engine(replay)
    try:
        with engine.connect() as db:
            events = db.scalar(text("SELECT count(*) FROM floor_event"))
            chats = db.scalar(text("SELECT count(*) FROM floor_chat"))
            queued = db.scalar(text("SELECT count(*) FROM floor_outbox"))
    finally:
        engine.dispose()
    assert (events, chats, queued) == (5, 2, 5)
    assert stranger.messages() == [] and len(first.messages()) == 2


def test_krasips_replies_are_recorded_for_each_script_and_the_lookup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(threading.enumerate())
    folders = set(Path(tempfile.gettempdir()).glob("krasip-replies-*"))
    replies.main([str(tmp_path / "replies.json")])
    # Krasip is closed after: none of its threads lives on in the load generator's process,
    # and nothing of its register is left behind.
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []
    assert set(Path(tempfile.gettempdir()).glob("krasip-replies-*")) == folders
    recorded = json.loads((tmp_path / "replies.json").read_text(encoding="utf-8"))
    # What each conversation's replies weigh, as RESULTS quotes it.
    printed = capsys.readouterr().out.splitlines()
    assert printed == replies.sizes(recorded)
    # Weighed as the gateway sends them: compact UTF-8 JSON, Thai unescaped.
    review = max(recorded[SCRIPTS[0][0][1]].values(), key=lambda m: len(wire_json(m)))
    assert f"{len(wire_json(review)):,} bytes of messages" in printed[0]
    assert [line.split(":")[0] for line in printed] == [script[0][1] for script in SCRIPTS]
    counts = [int(line.split(": ")[1].split(" ")[0]) for line in printed]
    assert counts == [len(script) + 1 for script in SCRIPTS]
    assert list(recorded) == [script[0][1] for script in SCRIPTS]
    for script in SCRIPTS:
        said = recorded[script[0][1]]
        *steps, token = said
        assert steps == [value for _, value in script]
        # The receipt carries the token the lookup was recorded under.
        receipt = said[script[-1][1]]
        assert TOKEN_RE.fullmatch(token)
        assert token in [m.get("text") for m in receipt]
        assert all(said[value] for value in said)
    # Each conversation's own language: the same postback, answered in Thai and in English.
    thai, english = (recorded[script[0][1]]["s=intro&v=ok"] for script in SCRIPTS)
    assert thai != english
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in json.dumps(thai, ensure_ascii=False))
