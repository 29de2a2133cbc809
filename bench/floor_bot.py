"""The leanest bot that does what any bot keeping its events must do: a floor for Krasip.

Per event it checks LINE's signature, reads the JSON as dicts, claims the event and stores
the user's state in one write transaction, and replies through line-bot-sdk's
asynchronous client on one event-loop thread, as Krasip's web process does, so it never
waits for LINE in the request. Delivered events are recorded in one transaction every
20 ms. No conversation, no encryption, no ORM. It echoes, as the echo bot does.

``python -m bench --floor`` runs it beside Krasip and the echo bot: what Krasip costs
beyond this is the price of its own work and design, not of Flask, gunicorn, the SDK
or a durable write. ``gunicorn 'bench.floor_bot:app'`` with DATABASE_URL (SQLite or
PostgreSQL), LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN and LINE_API_BASE_URL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from typing import Any

import aiohttp
import psycopg
from flask import Flask, abort, request
from linebot.v3.messaging import AsyncApiClient, Configuration

REPLY = "/v2/bot/message/reply"
FLUSH_DELAY = 0.02  # as Krasip's Dispatcher: delivered rows are recorded in batches
CONNECTIONS = 64  # as Krasip's gateway: sends in flight at once per process

app = Flask(__name__)
_secret = os.environ["LINE_CHANNEL_SECRET"].encode()
_host = os.environ["LINE_API_BASE_URL"]
_configuration = Configuration(host=_host, access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"])
_configuration.connection_pool_maxsize = CONNECTIONS
_url = os.environ["DATABASE_URL"]
_sqlite = _url.startswith("sqlite:///")


class _Store:
    """One connection per process and thread; its own tables beside Krasip's."""

    def __init__(self) -> None:
        self._local = threading.local()

    def connection(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():
            held = self._local.held = (os.getpid(), self._connect())
        return held[1]

    @staticmethod
    def _connect() -> Any:
        if _sqlite:
            connection = sqlite3.connect(
                _url.removeprefix("sqlite:///"), isolation_level=None, timeout=5
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            blob = "BLOB"
        else:
            connection = psycopg.connect(_url.replace("postgresql+psycopg://", "postgresql://"))
            blob = "BYTEA"
        if not _sqlite:
            # Both web workers start at once: one makes the tables, the other waits for it.
            connection.execute("SELECT pg_advisory_xact_lock(4242)")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS floor_event (id TEXT PRIMARY KEY, sent INTEGER NOT NULL)"
        )
        connection.execute(f"CREATE TABLE IF NOT EXISTS floor_state (u TEXT PRIMARY KEY, s {blob})")
        if not _sqlite:
            connection.commit()
        return connection

    def keep(self, event: dict[str, Any]) -> None:
        connection = self.connection()
        state = os.urandom(64)  # what a sealed conversation state would weigh
        if _sqlite:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO floor_event VALUES (?, 0)", (event["webhookEventId"],))
            connection.execute(
                "INSERT OR REPLACE INTO floor_state VALUES (?, ?)",
                (event["source"]["userId"], state),
            )
            connection.execute("COMMIT")
            return
        connection.execute("INSERT INTO floor_event VALUES (%s, 0)", (event["webhookEventId"],))
        connection.execute(
            "INSERT INTO floor_state VALUES (%s, %s) ON CONFLICT (u) DO UPDATE SET s = excluded.s",
            (event["source"]["userId"], state),
        )
        connection.commit()

    def mark_sent(self, ids: list[str]) -> None:
        connection = self.connection()
        if _sqlite:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "UPDATE floor_event SET sent = 1 WHERE id = ?", [(i,) for i in ids]
            )
            connection.execute("COMMIT")
            return
        connection.execute("UPDATE floor_event SET sent = 1 WHERE id = ANY(%s)", (ids,))
        connection.commit()


class _Sender:
    """The SDK's asynchronous client on a loop thread of this process, and the recorder."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = asyncio.run_coroutine_threadsafe(self._client(), self.loop).result()
        self._sent: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._record, daemon=True).start()

    @staticmethod
    async def _client() -> AsyncApiClient:
        client = AsyncApiClient(_configuration)
        sdk_session = client.rest_client.pool_manager
        # As Krasip's gateway: no trust_env, so no netrc and proxy lookups per request.
        client.rest_client.pool_manager = aiohttp.ClientSession(
            connector=sdk_session.connector, trust_env=False
        )
        sdk_session.detach()
        return client

    def send(self, event_id: str, body: bytes) -> None:
        asyncio.run_coroutine_threadsafe(self._send(event_id, body), self.loop)

    async def _send(self, event_id: str, body: bytes) -> None:
        headers = {
            **self.client.default_headers,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.client.update_params_for_auth(headers, [], ["Bearer"], REPLY, "POST", None)
        async with self.client.rest_client.pool_manager.post(
            _host + REPLY, data=body, headers=headers
        ) as response:
            await response.read()
        if response.status == 200:
            with self._lock:
                self._sent.append(event_id)
            self._wake.set()

    def _record(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_DELAY)
            self._wake.clear()
            with self._lock:
                ids, self._sent = self._sent, []
            if ids:
                _store.mark_sent(ids)


_store = _Store()
_senders: dict[int, _Sender] = {}
_senders_lock = threading.Lock()


def _sender() -> _Sender:
    with _senders_lock:  # made after gunicorn forks: threads do not survive a fork
        sender = _senders.get(os.getpid())
        if sender is None:
            sender = _senders[os.getpid()] = _Sender()
        return sender


@app.route("/callback", methods=["POST"])
def callback() -> str:
    body = request.get_data()
    expected = base64.b64encode(hmac.new(_secret, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, request.headers.get("X-Line-Signature", "")):
        abort(400)
    for event in json.loads(body)["events"]:
        if event["type"] == "message":
            text = event["message"].get("text", "")
        elif event["type"] == "postback":
            text = event["postback"]["data"]
        else:
            continue
        _store.keep(event)
        reply = {"replyToken": event["replyToken"], "messages": [{"type": "text", "text": text}]}
        _sender().send(event["webhookEventId"], json.dumps(reply, ensure_ascii=False).encode())
    return "OK"


@app.route("/healthz")
def healthz() -> str:
    return "ok"
