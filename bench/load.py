"""The load generator: simulated reporters filing complete reports, then looking them up.

Each reporter sends signed webhook events straight to the bot (built the way LINE and
the emulator build them, signed with the channel secret), so the emulator spends its CPU
only on what the bot sends. A reporter answers each step as soon as the bot's reply to
the previous one has reached LINE (one stream from the platform, ``/_bench/stream``,
tells every reporter when its reply arrived), like a person who reads the prompt and taps
at once: a closed loop, with no think time. After the receipt, it sends its
tracking token back and waits for the status card, then starts a new report as a new
reporter. Tokens stay in memory; nothing here prints one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")

# (kind, value): "text" says the value, "postback" taps data `s=<step>&v=<value>`.
ANONYMOUS_THAI = [
    ("text", "ร้องเรียน"),
    ("postback", "s=language&v=th"),
    ("postback", "s=intro&v=ok"),
    ("postback", "s=identity_mode&v=anonymous"),
    ("postback", "s=category&v=registration"),
    ("postback", "s=agency&v=district"),
    ("text", "เขตบางรัก"),
    ("text", "นายสมมติ ตัวอย่าง"),
    ("postback", "s=official_position&v=skip"),
    ("text", "เจ้าหน้าที่ฝ่ายทะเบียนเรียกเงินใต้โต๊ะ 5,000 บาท เพื่อเร่งออกใบอนุญาต"),
    ("postback", "s=description&v=done"),
    ("text", "15/10/2568"),
    ("text", "สำนักงานเขตบางรัก ชั้น 2 ห้องทะเบียน"),
    ("text", "มีใบเสร็จปลอมและรูปถ่ายเก็บไว้"),
    ("postback", "s=evidence&v=done"),
    ("text", "นางสมศรี ผู้ยื่นคำขอคนถัดไป"),
    ("postback", "s=notify&v=yes"),
    ("postback", "s=review&v=confirm"),
]
CONFIDENTIAL_ENGLISH = [
    ("text", "report"),
    ("postback", "s=language&v=en"),
    ("postback", "s=intro&v=ok"),
    ("postback", "s=identity_mode&v=confidential"),
    ("postback", "s=category&v=public_works"),
    ("postback", "s=agency&v=other"),
    ("text", "Department of Public Works, building control division"),
    ("text", "Inspector Wichai"),
    ("text", "Chief building inspector"),
    ("text", "The building inspector asked for 20,000 baht to sign off the permit"),
    ("postback", "s=description&v=done"),
    ("text", "yesterday"),
    ("text", "Soi Sukhumvit 55, the construction site"),
    ("text", "I have a voice recording, will bring it"),
    ("postback", "s=evidence&v=done"),
    ("text", "My neighbour saw the payment"),
    ("text", "Somchai Jaidee"),
    ("text", "081-234-5678"),
    ("postback", "s=reporter_relation&v=witness"),
    ("postback", "s=notify&v=no"),
    ("postback", "s=review&v=confirm"),
]
SCRIPTS = (ANONYMOUS_THAI, CONFIDENTIAL_ENGLISH)
LOOKUP = "lookup"  # the step kind of "send the token back"


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def build_event(user_id: str, kind: str, value: str, reply_token: str) -> dict[str, Any]:
    """A webhook event shaped as LINE (and emulator.app.base_event) shapes it."""
    now = time.time()
    event: dict[str, Any] = {
        "type": "postback" if kind == "postback" else "message",
        "mode": "active",
        "timestamp": int(now * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": secrets.token_hex(13).upper(),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
    }
    if kind == "postback":
        event["postback"] = {"data": value}
    else:
        event["message"] = {
            "type": "text",
            "id": str(secrets.randbelow(10**18)),
            "text": value,
            "quoteToken": secrets.token_urlsafe(16),
        }
    return event


@dataclass
class Sample:
    kind: str  # "step" | "receipt" | "lookup"
    sent: float  # wall clock, comparable with the emulator's times
    webhook_ms: float
    status: int
    reply_token: str
    replied: bool = False


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    conversations: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0


class _Connection:
    """One keep-alive HTTP connection (http.client: far cheaper per request than requests)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class ReplyFeed(threading.Thread):
    """Reads the platform's reply stream and wakes the reporter each reply is for."""

    def __init__(self, line_url: str) -> None:
        super().__init__(name="reply-feed", daemon=True)
        parts = urlsplit(line_url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        self.expected: dict[str, tuple[threading.Event, list[list[dict]]]] = {}
        self.subscribed = threading.Event()

    def expect(self, token: str) -> tuple[threading.Event, list[list[dict]]]:
        """Register before sending the event, so a fast reply cannot be missed."""
        waiter: tuple[threading.Event, list[list[dict]]] = (threading.Event(), [])
        with self.lock:
            self.expected[token] = waiter
        return waiter

    def forget(self, token: str) -> None:
        with self.lock:
            self.expected.pop(token, None)

    def run(self) -> None:
        self.conn.request("GET", "/_bench/stream")
        response = self.conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"reply stream: HTTP {response.status}")
        self.subscribed.set()
        try:
            for raw in iter(response.readline, b""):
                if not raw.strip():
                    continue
                item = json.loads(raw)
                with self.lock:
                    waiter = self.expected.pop(item["token"], None)
                if waiter is not None:
                    waiter[1].append(item["messages"])
                    waiter[0].set()
        except OSError:
            pass  # closed under our feet: the run is over
        finally:
            self.conn.close()

    def close(self) -> None:
        # Closing the connection from here would wait on the reader's buffer lock; ending
        # the socket makes the reader see the end of the stream and close it itself.
        if self.conn.sock is not None:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout=10)


class Reporter(threading.Thread):
    def __init__(
        self,
        number: int,
        bot_url: str,
        line_url: str,
        channel_secret: str,
        stop_at: float,
        result: LoadResult,
        lock: threading.Lock,
        lookups: bool,
        feed: ReplyFeed,
        interval: float | None = None,
    ) -> None:
        super().__init__(name=f"reporter-{number}", daemon=True)
        self.feed = feed
        self.number = number
        self.bot = _Connection(bot_url)
        self.bot_path = urlsplit(bot_url).path or "/callback"
        self.line = _Connection(line_url)
        self.secret = channel_secret
        self.stop_at = stop_at
        self.result = result
        self.lock = lock
        self.lookups = lookups
        self.rng = random.Random(number)
        # Paced: one event every ``interval`` seconds at most, from a random phase, so the
        # reporters together send at a set rate (as long as the bot keeps up).
        self.interval = interval
        self.next_at = time.time() + self.rng.random() * (interval or 0)
        # All reporters start at once: left alone, their receipts (the costliest step)
        # would fall in the same second, conversation after conversation. So each leaves
        # its first report after a random number of steps, as people do, and files its
        # reports out of step with the others from then on.
        self.first_steps: int | None = self.rng.randrange(1, len(SCRIPTS[0]) + 1)

    def _register(self, user_id: str, count: int) -> list[str]:
        tokens = [secrets.token_hex(16) for _ in range(count)]
        body = json.dumps({"tokens": [[t, user_id] for t in tokens]}).encode()
        status, _ = self.line.request(
            "POST", "/_bench/reply_tokens", body, {"Content-Type": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"registering reply tokens: HTTP {status}")
        return tokens

    def _step(self, user_id: str, kind: str, value: str, token: str, label: str) -> list[dict]:
        event = build_event(user_id, "text" if kind == LOOKUP else kind, value, token)
        body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": sign(self.secret, body),
        }
        if self.interval:
            time.sleep(max(0.0, self.next_at - time.time()))
            self.next_at = max(time.time(), self.next_at) + self.interval
        arrived, replies = self.feed.expect(token)
        sent = time.time()
        started = time.perf_counter()
        status, _ = self.bot.request("POST", self.bot_path, body, headers)
        sample = Sample(label, sent, (time.perf_counter() - started) * 1000, status, token)
        messages: list[dict] = []
        if status == 200:
            sample.replied = arrived.wait(30)
            if sample.replied:
                messages = replies[0]
        self.feed.forget(token)
        with self.lock:
            self.result.samples.append(sample)
            if status != 200 or not sample.replied:
                self.result.errors.append(f"{label}: webhook {status}, reply {sample.replied}")
        return messages

    def run(self) -> None:
        try:
            while time.time() < self.stop_at:
                self._conversation()
        except Exception as exc:  # noqa: BLE001 - reported in the result, not raised
            with self.lock:
                self.result.errors.append(f"{self.name}: {type(exc).__name__}")

    def _conversation(self) -> None:
        user_id = "U" + secrets.token_hex(16)
        script = SCRIPTS[self.rng.randrange(len(SCRIPTS))]
        tokens = self._register(user_id, len(script) + 1)
        messages: list[dict] = []
        first_steps, self.first_steps = self.first_steps, None
        for index, (kind, value) in enumerate(script):
            if time.time() >= self.stop_at:
                return  # the measured window is over; an unfinished report is abandoned
            if first_steps is not None and index >= first_steps:
                return  # left unfinished, so the receipts spread out (see __init__)
            label = "receipt" if index == len(script) - 1 else "step"
            messages = self._step(user_id, kind, value, tokens[index], label)
            if not messages:
                return
        if not self.lookups:
            with self.lock:
                self.result.conversations += 1
            return
        found = [TOKEN_RE.fullmatch(m.get("text", "")) for m in messages if m.get("type") == "text"]
        tracking = next((m.group(0) for m in found if m), None)
        if tracking is None:
            with self.lock:
                self.result.errors.append("the receipt carried no token")
            return
        self._step(user_id, LOOKUP, tracking, tokens[-1], "lookup")
        with self.lock:
            self.result.conversations += 1


def run_load(
    *,
    bot_url: str,
    line_url: str,
    channel_secret: str,
    reporters: int,
    duration: float,
    lookups: bool = True,
    rate: float | None = None,
) -> LoadResult:
    """Run ``reporters`` closed-loop reporters for ``duration`` seconds; with ``rate``,
    paced to send that many events per second together at most."""
    result = LoadResult()
    lock = threading.Lock()
    feed = ReplyFeed(line_url)
    feed.start()
    if not feed.subscribed.wait(30):
        raise RuntimeError("the reply stream did not open")
    result.started = time.time()
    stop_at = result.started + duration
    threads = [
        Reporter(
            n,
            bot_url,
            line_url,
            channel_secret,
            stop_at,
            result,
            lock,
            lookups,
            feed,
            interval=reporters / rate if rate else None,
        )  # fmt: skip
        for n in range(reporters)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    result.ended = time.time()
    feed.close()
    return result
