"""`python -m bench.micro`: the single-step figures behind issue 12's levers, in CPU.

Each lever is measured alone, in this process, against what it replaced:

- a hot statement run through the ORM session, on ``session.connection()`` each time
  (SQLAlchemy's execution path, as ``store.hot.execute`` ran it before issue 12's sixth
  round), and on the driver's cursor, compiled once, as ``store.hot.execute`` runs it; on
  SQLite and, with ``--database URL``, on PostgreSQL;
- one send through aiohttp with the SDK's session (``trust_env``) and without it, one at a
  time and eight at once, against the benchmark's LINE platform in its own process (whose
  CPU is not counted);
- reading one signed text event with the SDK's ``WebhookParser`` and with the signature
  check plus ``bot.events.parse``;
- copying a conversation state with ``copy.deepcopy`` and as ``handlers`` now does;
- a signed webhook request with no events, through Flask's request handling (a route of
  its own calling the same code) and as ``bot.webhook.Webhook`` answers it, in front of
  Flask: the request around the events;
- a reply's body made at the send: the whole body serialised there, as the sender did
  before, and the reply token spliced around the messages serialised when they were
  queued (``bot.line``), for the form's first question;
- an empty write transaction as the webhook opens one (``Database.transaction`` with a
  wait), on SQLite and, with ``--database URL``, on PostgreSQL: what every event pays
  before its first statement and after its last;
- a write turn that was not free, waited for in the kernel (``store.writers``): by a
  thread started for the wait, as before issue 12's twenty-first round, and by a kept one.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import fcntl
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import handlers
from bench import free_port
from bench.load import build_event, sign
from bot import line
from handlers.messages import wire_json
from handlers.model import Context, Incoming

SECRET = "micro-channel-secret-0123456789abcdef"  # noqa: S105 - local platform only
TOKEN = "micro-access-token"  # noqa: S105 - local platform only


def cpu_us(run: Callable[[], Any], count: int) -> float:
    """Process CPU per call, best of three rounds, in microseconds."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(count):
            run()
        best = min(best, (time.process_time() - started) / count)
    return round(best * 1e6, 1)


def statements(urls: list[str], count: int = 5000) -> dict[str, dict[str, float]]:
    from store import migrate

    figures = {}
    for url in urls:
        migrate.upgrade(url)
        engine = create_engine(url)
        figures[url.split(":", 1)[0]] = _statement(engine, count)
        engine.dispose()
    return figures


def _statement(engine: Any, count: int) -> dict[str, float]:
    from store import hot

    params = {"b_line_key": "nobody"}
    with Session(engine) as session, session.begin():
        statement = hot.statements(session).staff_for_line
        return {
            "session.execute": cpu_us(lambda: session.execute(statement, params).first(), count),
            "session.connection().execute": cpu_us(
                lambda: session.connection().execute(statement, params).first(), count
            ),
            "hot.execute": cpu_us(lambda: hot.execute(session, statement, params).first(), count),
        }


def sends(count: int = 1000) -> dict[str, float]:
    port = free_port()
    platform = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.line_platform", "--port", str(port),
         "--channel-secret", SECRET, "--access-token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v2/bot/message/push"
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/_emulator/config", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        body = json.dumps(
            {"to": "U" + "0" * 32, "messages": [{"type": "text", "text": "สวัสดีครับ" * 10}]}
        ).encode()

        async def run(trust_env: bool, together: int) -> float:
            session = aiohttp.ClientSession(trust_env=trust_env)
            gate = asyncio.Semaphore(together)

            async def one() -> None:
                headers = {
                    "Authorization": f"Bearer {TOKEN}",
                    "Content-Type": "application/json",
                    "X-Line-Retry-Key": str(uuid.uuid4()),
                }
                async with gate, session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"the platform answered {response.status}")

            started = time.process_time()
            await asyncio.gather(*(one() for _ in range(count)))
            spent = time.process_time() - started
            await session.close()
            return round(spent / count * 1000, 3)

        return {
            f"trust_env={trust}, {together} at once (ms)": asyncio.run(run(trust, together))
            for trust in (True, False)
            for together in (1, 8)
        }
    finally:
        platform.terminate()
        platform.wait(10)


def events(count: int = 5000) -> dict[str, float]:
    from linebot.v3 import SignatureValidator, WebhookParser

    from bot import events as line_events

    event = build_event("U" + secrets.token_hex(16), "text", "ร้องเรียน", secrets.token_hex(16))
    body = json.dumps({"destination": "U0", "events": [event]}, ensure_ascii=False)
    signature = sign(SECRET, body.encode())
    parser, validator = WebhookParser(SECRET), SignatureValidator(SECRET)

    def lean() -> None:
        if not validator.validate(body, signature):
            raise RuntimeError("bad signature")
        line_events.parse(body)

    return {
        "SDK WebhookParser.parse": cpu_us(lambda: parser.parse(body, signature), count),
        "signature + bot.events.parse": cpu_us(lean, count),
    }


def state_copy(count: int = 5000) -> dict[str, float]:
    from handlers.steps import state as states

    state = {
        "v": 1, "mode": "form", "lang": "th", "step": "witnesses", "draft_id": "d" * 24,
        "done": ["language", "intro", "identity_mode", "category", "agency", "district",
                 "official", "description", "when", "where", "evidence"],
        "form": {"category": "registration", "agency": "district", "district": "1004",
                 "official_name": {"ct": "x" * 80, "k": 1}, "description": "x" * 400,
                 "when": {"kind": "date", "date": "2025-10-15"}, "where": "x" * 60,
                 "evidence": [{"id": "m1", "kind": "image"}, {"id": "m2", "kind": "file"}]},
    }  # fmt: skip
    return {
        "copy.deepcopy": cpu_us(lambda: copy.deepcopy(state), count),
        "handlers' JSON-tree copy": cpu_us(lambda: states._copied(state), count),
    }


def webhook_request(folder: Path, count: int = 5000) -> dict[str, float]:
    import io

    import flask

    from bot import create_app
    from bot.config import load_settings
    from store import migrate
    from store.keys import generate_keys

    url = f"sqlite:///{folder / 'webhook.sqlite3'}"
    settings = load_settings(
        environ={},
        overrides={
            "env": "development",
            "instance_path": folder / "instance",
            "keys": generate_keys(folder / "keys", "micro passphrase only"),
            "line_channel_secret": SECRET,
            "line_channel_access_token": TOKEN,
        },
    )
    migrate.upgrade(url)
    app = create_app(replace(settings, database_url=url))
    webhook = app.wsgi_app
    app.add_url_rule(
        "/through-flask", "through_flask", lambda: webhook.answer(flask.request), methods=["POST"]
    )
    body = json.dumps({"destination": "U0", "events": []}).encode()
    signature = sign(SECRET, body)

    def post(path: str) -> None:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "HTTP_X_LINE_SIGNATURE": signature,
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }  # fmt: skip
        statuses = []
        answer = app(environ, lambda status, _headers, _info=None: statuses.append(status))
        b"".join(answer)
        getattr(answer, "close", lambda: None)()
        if statuses != ["200 OK"]:
            raise RuntimeError(f"{path} answered {statuses}")

    figures = {
        "through Flask": cpu_us(lambda: post("/through-flask"), count),
        "bot.webhook.Webhook": cpu_us(lambda: post("/callback"), count),
    }
    app.extensions["krasip"].close()
    return figures


def reply_body(count: int = 20000) -> dict[str, float]:
    turn = Context(now=datetime.now(UTC), lookup=lambda _token: None)
    started = handlers.handle(None, Incoming(kind="message", text="แจ้งเบาะแส"), turn)
    messages = list(started.replies)
    fields = {"replyToken": secrets.token_hex(16)}
    queued = wire_json(messages)
    whole = {**fields, "messages": messages}
    assert line._body(fields, queued) == wire_json(whole)
    return {
        "serialised at the send": cpu_us(lambda: wire_json(whole), count),
        "queued bytes, token spliced": cpu_us(lambda: line._body(fields, queued), count),
        "bytes": len(queued),
    }


def transactions(urls: list[str], count: int = 3000) -> dict[str, float]:
    from store import migrate
    from store.db import Database

    figures = {}
    for url in urls:
        migrate.upgrade(url)
        database = Database(url)

        def empty(database: Database = database) -> None:
            with database.transaction(wait=1.0):
                pass

        figures[url.split(":", 1)[0]] = cpu_us(empty, count)
        database.dispose()
    return figures


def turn_waits(folder: Path, count: int = 2000) -> dict[str, float]:
    from store import writers

    handle = writers._Handle(str(folder / "micro.sqlite3-writers"))

    def thread_each() -> None:
        got = threading.Event()

        def wait_in_kernel() -> None:
            fcntl.flock(handle.fd, fcntl.LOCK_EX)
            got.set()

        threading.Thread(target=wait_in_kernel, daemon=True).start()
        got.wait(1.0)
        fcntl.flock(handle.fd, fcntl.LOCK_UN)

    waiters = writers._Waiters()

    def kept() -> None:
        if not writers._wait_for(handle, 1.0, waiters):
            raise RuntimeError("the turn did not come")
        fcntl.flock(handle.fd, fcntl.LOCK_UN)

    figures = {"a thread started for each wait": cpu_us(thread_each, count)}
    figures["a kept thread (store.writers)"] = cpu_us(kept, count)
    waiters.close()
    handle.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", help="also a PostgreSQL URL, for the hot statement and the transaction"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="krasip-micro-"))
    urls = [f"sqlite:///{folder / 'micro.sqlite3'}", *filter(None, [args.database])]
    report = {
        "hot statement, µs CPU": statements(urls),
        "send through aiohttp, ms CPU": sends(),
        "read one text event, µs CPU": events(),
        "copy a conversation state, µs CPU": state_copy(),
        "signed webhook request with no events, µs CPU": webhook_request(folder),
        "a reply's body at the send, µs CPU": reply_body(),
        "empty write transaction, µs CPU": transactions(urls),
        "a write turn waited for in the kernel, µs CPU": turn_waits(folder),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
