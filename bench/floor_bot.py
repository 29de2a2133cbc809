"""The leanest bot that does what any bot keeping its events must do: a floor for Krasip.

Per event it checks LINE's signature, reads the JSON as dicts, claims the event and stores
the user's state in one write transaction, and replies through line-bot-sdk's
asynchronous client on one event-loop thread, as Krasip's web process does, so it never
waits for LINE in the request. Delivered events are recorded in one transaction every
100 ms at most, as Krasip's are. No conversation, no encryption, no ORM. It echoes, as
the echo bot does.

``python -m bench --floor`` runs it beside Krasip and the echo bot: what Krasip costs
beyond this is the price of its own work and design, not of Flask, gunicorn, the SDK
or a durable write. ``gunicorn 'bench.floor_bot:app'`` with DATABASE_URL (SQLite or
PostgreSQL), LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN and LINE_API_BASE_URL.

With FLOOR_SEALED=1 (``python -m bench --floor``'s second floor, "sealed") it also keeps
what Krasip's design promises at rest, the same way, in hand-written SQL: the chat and
the event known only by keyed hashes (the event's under a day key), the state sealed
under a fresh vault key each step and the old key destroyed, the reply kept in an outbox
row sealed under a key of its own, and once delivered the row emptied and its key
destroyed. Still no conversation and no ORM: what is left between it and Krasip is the
form itself and how Krasip is written.

With FLOOR_REPLIES set too (``python -m bench --floor``'s third floor, "replay"), the
sealed floor answers with Krasip's own replies to the same conversation, read from that
JSON file (``bench.replies``) by the conversation's first words, kept in the sealed
state, and by what the event said. LINE's platform and the simulated reporters then do
for it what they do for Krasip, on the same two cores: it is the most a bot could make
that keeps what Krasip keeps and sends what Krasip sends, with the form's work left out.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, abort, request
from linebot.v3.messaging import AsyncApiClient, Configuration

REPLY = "/v2/bot/message/reply"
FLUSH_DELAY = 0.1  # as Krasip's Dispatcher: delivered rows are recorded in batches
CONNECTIONS = 64  # as Krasip's gateway: sends in flight at once per process

app = Flask(__name__)
_secret = os.environ["LINE_CHANNEL_SECRET"].encode()
_host = os.environ["LINE_API_BASE_URL"]
_configuration = Configuration(host=_host, access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"])
_configuration.connection_pool_maxsize = CONNECTIONS
_url = os.environ["DATABASE_URL"]
_sqlite = _url.startswith("sqlite:///")
_sealed = os.environ.get("FLOOR_SEALED") == "1"
# As Krasip's keys, not interchangeable with them: the cost is what is measured here.
_pepper = hashlib.sha256(b"floor pepper" + _secret).digest()
_data_key = AESGCM(hashlib.sha256(b"floor data key" + _secret).digest())
_replies: dict[str, dict[str, list[Any]]] | None = (
    json.loads(Path(os.environ["FLOOR_REPLIES"]).read_text(encoding="utf-8"))
    if _sealed and os.environ.get("FLOOR_REPLIES")
    else None
)


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
        if _sealed:
            serial = "INTEGER PRIMARY KEY" if _sqlite else "BIGSERIAL PRIMARY KEY"
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS floor_key (id BIGINT PRIMARY KEY, wrapped {blob})"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS floor_chat "
                f"(u TEXT PRIMARY KEY, key_id BIGINT, s {blob})"
            )
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS floor_outbox (id {serial}, key_id BIGINT, "
                f"to_ct {blob}, payload_ct {blob}, state TEXT NOT NULL)"
            )
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

    def keep_sealed(self, event: dict[str, Any], text: str) -> tuple[tuple[int, int], bytes]:
        """The event claimed, the state opened and sealed again, the reply in the outbox;
        returns the outbox row and its key, and the reply's body. On PostgreSQL in three
        round trips, as few as the plain floor's: the claim rides on the read, and the
        writes go in one statement."""
        connection = self.connection()
        day = _digest(_day_pepper(), "event", event["webhookEventId"])
        chat = _digest(_day_pepper(), "chat", event["source"]["userId"])
        if _sqlite:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO floor_event VALUES (?, 0)", (day,))
            row = connection.execute(_OPEN_SQLITE, (chat,)).fetchone()
        else:
            row = connection.execute(_OPEN_POSTGRES, (day, chat)).fetchone()
        state: dict[str, Any] = {"steps": 0}
        if row is not None and row[2] is not None:
            secret = _open(_data_key, row[2], "vault.key")
            state = json.loads(_open(AESGCM(secret), row[1], "chat"))
        state["steps"] += 1
        state["last"] = text
        if _replies is not None:
            state.setdefault("first", text)  # which conversation: Krasip's replies depend on it
        messages = _messages(text, state.get("first", text))
        if messages is None:
            if _sqlite:
                connection.execute("ROLLBACK")
            else:
                connection.rollback()
            abort(500)  # not Krasip's conversation: counted as an error, never made cheaper
        body = _body(event["replyToken"], messages)
        state_key, reply_key = _RowKey(), _RowKey()
        values = {
            "chat": chat,
            "state_key": state_key.id,
            "state": state_key.seal(json.dumps(state, ensure_ascii=False).encode(), "chat"),
            "old_key": row[0] if row is not None else None,
            "reply_key": reply_key.id,
            "to": reply_key.seal(event["source"]["userId"].encode(), "to"),
            "payload": reply_key.seal(body, "payload"),
        }
        if not _sqlite:
            values |= {"state_wrapped": state_key.wrapped, "reply_wrapped": reply_key.wrapped}
            (outbox_id,) = connection.execute(_KEEP_POSTGRES, values).fetchone()
            connection.commit()
            return (outbox_id, reply_key.id), body
        connection.executemany(
            "INSERT INTO floor_key VALUES (?, ?)",
            [(state_key.id, state_key.wrapped), (reply_key.id, reply_key.wrapped)],
        )
        connection.execute(
            "INSERT OR REPLACE INTO floor_chat VALUES (:chat, :state_key, :state)", values
        )
        if values["old_key"] is not None:
            connection.execute("DELETE FROM floor_key WHERE id = :old_key", values)
        (outbox_id,) = connection.execute(
            "INSERT INTO floor_outbox (key_id, to_ct, payload_ct, state) "
            "VALUES (:reply_key, :to, :payload, 'sending') RETURNING id",
            values,
        ).fetchone()
        connection.execute("COMMIT")
        return (outbox_id, reply_key.id), body

    def mark_sealed_sent(self, rows: list[tuple[int, int]]) -> None:
        """Delivered: the outbox rows emptied and their keys destroyed."""
        connection = self.connection()
        ids, keys = [row for row, _ in rows], [key for _, key in rows]
        if _sqlite:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "UPDATE floor_outbox SET state = 'sent', to_ct = NULL, payload_ct = NULL, "
                "key_id = NULL WHERE id = ?",
                [(i,) for i in ids],
            )
            connection.executemany("DELETE FROM floor_key WHERE id = ?", [(k,) for k in keys])
            connection.execute("COMMIT")
            return
        connection.execute(
            "WITH emptied AS (UPDATE floor_outbox SET state = 'sent', to_ct = NULL, "
            "payload_ct = NULL, key_id = NULL WHERE id = ANY(%s)) "
            "DELETE FROM floor_key WHERE id = ANY(%s)",
            (ids, keys),
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


_OPEN_SQLITE = (
    "SELECT c.key_id, c.s, k.wrapped FROM floor_chat c "
    "LEFT JOIN floor_key k ON k.id = c.key_id WHERE c.u = ?"
)
_OPEN_POSTGRES = (
    "WITH claimed AS (INSERT INTO floor_event VALUES (%s, 0)) "
    "SELECT c.key_id, c.s, k.wrapped FROM floor_chat c "
    "LEFT JOIN floor_key k ON k.id = c.key_id WHERE c.u = %s FOR UPDATE OF c"
)
_KEEP_POSTGRES = """
WITH new_keys AS (
    INSERT INTO floor_key VALUES
    (%(state_key)s, %(state_wrapped)s), (%(reply_key)s, %(reply_wrapped)s)
), chat AS (
    INSERT INTO floor_chat VALUES (%(chat)s, %(state_key)s, %(state)s)
    ON CONFLICT (u) DO UPDATE SET key_id = excluded.key_id, s = excluded.s
), gone AS (
    DELETE FROM floor_key WHERE id = %(old_key)s
)
INSERT INTO floor_outbox (key_id, to_ct, payload_ct, state)
VALUES (%(reply_key)s, %(to)s, %(payload)s, 'sending') RETURNING id
"""


class _RowKey:
    """A fresh vault key: its id, and the key wrapped under the data key for its row."""

    def __init__(self) -> None:
        self.id = secrets.randbits(62) + 1
        secret = AESGCM.generate_key(bit_length=256)
        self.box = AESGCM(secret)
        self.wrapped = _seal(_data_key, secret, "vault.key")

    def seal(self, plaintext: bytes, aad: str) -> bytes:
        return _seal(self.box, plaintext, aad)


def _seal(box: AESGCM, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + box.encrypt(nonce, plaintext, aad.encode())


def _open(box: AESGCM, blob: bytes, aad: str) -> bytes:
    return box.decrypt(blob[:12], blob[12:], aad.encode())


_days: dict[int, bytes] = {}


def _day_pepper() -> bytes:
    """Today's HMAC key, as Krasip's day keys (kept in memory here: a floor, not a vault)."""
    day = int(time.time() // 86400)
    found = _days.get(day)
    if found is None:
        found = _days[day] = hmac.new(_pepper, str(day).encode(), hashlib.sha256).digest()
    return found


def _digest(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


class _Sender:
    """The SDK's asynchronous client on a loop thread of this process, and the recorder."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = asyncio.run_coroutine_threadsafe(self._client(), self.loop).result()
        self._sent: list[Any] = []
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

    def send(self, sent: Any, body: bytes) -> None:
        asyncio.run_coroutine_threadsafe(self._send(sent, body), self.loop)

    async def _send(self, sent: Any, body: bytes) -> None:
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
                self._sent.append(sent)
            self._wake.set()

    def _record(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_DELAY)
            self._wake.clear()
            with self._lock:
                ids, self._sent = self._sent, []
            if ids and _sealed:
                _store.mark_sealed_sent(ids)
            elif ids:
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
        if _sealed:
            _sender().send(*_store.keep_sealed(event, text))
            continue
        _store.keep(event)
        _sender().send(event["webhookEventId"], _body(event["replyToken"], _echo(text)))
    return "OK"


def _echo(text: str) -> list[Any]:
    return [{"type": "text", "text": text}]


def _messages(text: str, first: str) -> list[Any] | None:
    """The echo, or with FLOOR_REPLIES what Krasip answered to ``text`` in the
    conversation that began with ``first`` (None: Krasip was never asked that)."""
    if _replies is None:
        return _echo(text)
    return _replies.get(first, {}).get(text)


def _body(reply_token: str, messages: list[Any]) -> bytes:
    return json.dumps(
        {"replyToken": reply_token, "messages": messages}, ensure_ascii=False
    ).encode()


@app.route("/healthz")
def healthz() -> str:
    return "ok"
