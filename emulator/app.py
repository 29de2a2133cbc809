"""A local stand-in for the LINE platform: the Messaging API (api and api-data hosts) plus a
control API that plays LINE users and delivers signed webhook events to the bot."""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, g, jsonify, request, send_from_directory

from . import validation as v

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/v2/"
RETRY_KEY_WINDOW = 24 * 3600.0
WEBHOOK_TIMEOUT = 30.0
MAX_LOG = 5000

AUTH_FAILED = {
    "message": "Authentication failed. Confirm that the access token in the authorization "
    "header is valid."
}
NOT_FOUND = {"message": "Not found"}
DEFAULT_FAULT_MESSAGES = {
    429: "The API rate limit has been exceeded. Try again later.",
    500: "An error occurred on the server.",
    502: "Bad gateway",
    503: "Service unavailable",
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def _ulid(now: float) -> str:
    """26 Crockford base32 symbols, time first, like LINE's webhookEventId."""
    ms = int(now * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class EmulatorState:
    """Everything the fake platform remembers; one lock guards all of it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)  # a message was added to some chat
        self._ids = itertools.count(int(time.time() * 1000) * 1000 + secrets.randbelow(1000))
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.seq = 0
            self.users: dict[str, dict[str, Any]] = {}
            self.inbox: list[dict[str, Any]] = []
            # The same entries per chat: a page polling its chat reads only its own.
            self.chats: dict[str, list[dict[str, Any]]] = {}
            self.contents: dict[str, tuple[bytes, str]] = {}
            # Content served as a generated stream (test support), by message id or "*".
            self.streams: dict[str, dict[str, Any]] = {}
            self.reply_tokens: dict[str, dict[str, Any]] = {}
            self.retry_keys: dict[str, dict[str, Any]] = {}
            self.faults: list[dict[str, Any]] = []
            self.log: list[dict[str, Any]] = []
            self.rich_menus: dict[str, dict[str, Any]] = {}
            self.rich_menu_images: dict[str, tuple[bytes, str]] = {}
            self.default_rich_menu: str | None = None
            self.user_rich_menus: dict[str, str] = {}
            self.loading_until: dict[str, float] = {}
            self.groups: set[str] = set()

    def new_message_id(self) -> str:
        return str(next(self._ids))

    def touch_user(self, user_id: str, **profile: Any) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                user = {
                    "userId": user_id,
                    "displayName": f"Test user {user_id[-4:]}",
                    "language": "th",
                    "followed": False,
                    "createdAt": self.clock(),
                }
                self.users[user_id] = user
            user.update({k: val for k, val in profile.items() if val is not None})
            return user

    def add_entry(self, chat_id: str, via: str, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.seq += 1
            entry = {
                "seq": self.seq,
                "to": chat_id,
                "via": via,
                "message": message,
                "at": self.clock(),
            }
            self.inbox.append(entry)
            self.chats.setdefault(chat_id, []).append(entry)
            if via != "user":
                # LINE hides the loading animation once a message arrives.
                self.loading_until.pop(chat_id, None)
            self.arrived.notify_all()
            return entry

    def deliver(self, chat_id: str, via: str, messages: list[dict[str, Any]]) -> list[dict]:
        sent = []
        with self.lock:
            blocked = (
                chat_id in self.users
                and not self.users[chat_id]["followed"]
                and (self.users[chat_id].get("unfollowedAt") is not None)
            )
            for message in messages:
                sent_message = {"id": self.new_message_id()}
                if message.get("type") in ("text", "textV2", "sticker"):
                    sent_message["quoteToken"] = secrets.token_urlsafe(48)
                # A user who blocked the account gets nothing, yet LINE still answers 200.
                if not blocked:
                    self.add_entry(chat_id, via, {**message, "id": sent_message["id"]})
                sent.append(sent_message)
        return sent

    def issue_reply_token(self, chat_id: str) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.reply_tokens[token] = {"chat": chat_id, "issued": self.clock(), "used": False}
        return token

    def take_fault(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault["path"]) and fault["times"] > 0:
                    fault["times"] -= 1
                    self.faults = [f for f in self.faults if f["times"] > 0]
                    return fault
        return None


def create_app(
    *,
    channel_secret: str,
    access_token: str,
    webhook_url: str | None = None,
    reply_token_ttl: float = 60.0,
    clock: Callable[[], float] = time.time,
) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config.update(
        EMULATOR_CHANNEL_SECRET=channel_secret,
        EMULATOR_ACCESS_TOKEN=access_token,
        EMULATOR_WEBHOOK_URL=webhook_url,
        EMULATOR_REPLY_TOKEN_TTL=reply_token_ttl,
        EMULATOR_LATENCY_MS=0,
        # LINE's own waits are longer and unpublished; these keep a local session brisk.
        EMULATOR_REDELIVERY_WAITS=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
        EMULATOR_DESTINATION="U" + hashlib.sha256(channel_secret.encode()).hexdigest()[:32],
    )
    state = EmulatorState(clock)
    app.extensions["emulator"] = state

    # ---------------------------------------------------------------- plumbing

    def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
        return jsonify({"message": message, **extra}), status

    def api_json() -> tuple[dict[str, Any] | None, tuple[Response, int] | None]:
        raw = request.get_data()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None, error(400, "The request body could not be parsed as JSON")
        if not isinstance(body, dict):
            return None, error(400, "The request body could not be parsed as JSON")
        return body, None

    def with_request_id(resp: Response, status: int = 200) -> tuple[Response, int]:
        resp.headers["x-line-request-id"] = str(uuid.uuid4())
        return resp, status

    @app.before_request
    def api_gate() -> Any:
        g.started = time.time()
        if not request.path.startswith(API_PREFIX):
            return None
        latency = app.config["EMULATOR_LATENCY_MS"]
        if latency:
            time.sleep(latency / 1000)
        fault = state.take_fault(request.path)
        if fault is not None:
            if fault.get("latency_ms"):
                time.sleep(fault["latency_ms"] / 1000)
            if fault.get("status"):
                g.faulted = True
                status = int(fault["status"])
                body = fault.get("body") or {
                    "message": DEFAULT_FAULT_MESSAGES.get(status, "Injected fault")
                }
                resp = jsonify(body)
                resp.status_code = status
                if fault.get("retry_after") is not None:
                    resp.headers["Retry-After"] = str(fault["retry_after"])
                resp.headers["x-line-request-id"] = str(uuid.uuid4())
                return resp
        expected = f"Bearer {app.config['EMULATOR_ACCESS_TOKEN']}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return jsonify(AUTH_FAILED), 401
        return None

    @app.after_request
    def api_log(resp: Response) -> Response:
        if request.path.startswith(API_PREFIX):
            body: Any = None
            if request.mimetype == "application/json":
                body = request.get_json(silent=True)
            reply: Any = resp.get_json(silent=True) if resp.is_json else None
            entry = {
                "method": request.method,
                "path": request.path,
                "status": resp.status_code,
                "retry_key": request.headers.get("X-Line-Retry-Key"),
                "at": time.time(),
                "duration_ms": round((time.time() - g.get("started", time.time())) * 1000, 1),
                "faulted": bool(g.get("faulted")),
                "content_type": request.mimetype,
                "size": request.content_length or 0,
                "body": body,
                "response": reply,
            }
            with state.lock:
                state.log.append(entry)
                del state.log[:-MAX_LOG]
        return resp

    @app.errorhandler(404)
    def not_found(_e: Exception) -> Any:
        return jsonify(NOT_FOUND), 404

    @app.errorhandler(405)
    def not_allowed(_e: Exception) -> Any:
        return jsonify({"message": "Method not allowed"}), 405

    # ---------------------------------------------------------------- messaging API

    def reject_retry_key() -> tuple[Response, int] | None:
        if request.headers.get("X-Line-Retry-Key") is not None:
            return error(400, "The X-Line-Retry-Key header is not supported for this endpoint")
        return None

    def check_retry_key() -> tuple[str | None, tuple[Response, int] | None]:
        key = request.headers.get("X-Line-Retry-Key")
        if key is None:
            return None, None
        if not v.UUID_RE.match(key):
            return None, error(400, "The value of X-Line-Retry-Key must be a UUID")
        key = key.lower()
        with state.lock:
            seen = state.retry_keys.get(key)
            if seen and state.clock() - seen["accepted"] < RETRY_KEY_WINDOW:
                extra = {"sentMessages": seen["sent"]} if seen["sent"] is not None else {}
                resp = jsonify({"message": "The retry key is already accepted", **extra})
                resp.headers["x-line-accepted-request-id"] = seen["request_id"]
                resp.headers["x-line-request-id"] = str(uuid.uuid4())
                return None, (resp, 409)
        return key, None

    def remember_retry_key(key: str | None, resp: Response, sent: list | None) -> None:
        if key is not None:
            with state.lock:
                state.retry_keys[key] = {
                    "accepted": state.clock(),
                    "request_id": resp.headers["x-line-request-id"],
                    "sent": sent,
                }

    def known_chat(chat_id: Any) -> bool:
        return isinstance(chat_id, str) and (
            chat_id in state.users or chat_id in state.groups or bool(v.CHAT_ID_RE.match(chat_id))
        )

    def is_user(chat_id: Any) -> bool:
        # Multicast and the loading animation only take user ids, never groups.
        return isinstance(chat_id, str) and (
            chat_id in state.users or (chat_id.startswith("U") and known_chat(chat_id))
        )

    def bad_to() -> tuple[Response, int]:
        return error(400, "The property, 'to', in the request body is invalid (line: -, column: -)")

    @app.post("/v2/bot/message/reply")
    def reply_message() -> Any:
        if (bad := reject_retry_key()) is not None:
            return bad
        body, bad = api_json()
        if bad is not None:
            return bad
        errors = v.Errors()
        v.check_str(errors, body, "replyToken", "replyToken")
        messages = v.check_messages(errors, body)
        if errors:
            return jsonify(errors.body()), 400
        ttl = app.config["EMULATOR_REPLY_TOKEN_TTL"]
        with state.lock:
            token = state.reply_tokens.get(body["replyToken"])
            if token is None or token["used"] or state.clock() - token["issued"] > ttl:
                return error(400, "Invalid reply token")
            token["used"] = True
            sent = state.deliver(token["chat"], "reply", messages)
        return with_request_id(jsonify({"sentMessages": sent}))

    @app.post("/v2/bot/message/push")
    def push_message() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        key, bad = check_retry_key()
        if bad is not None:
            return bad
        errors = v.Errors()
        messages = v.check_messages(errors, body)
        if body.get("to") is None:
            errors.add("to", "must be specified")
        if errors:
            return jsonify(errors.body()), 400
        if not known_chat(body["to"]):
            return bad_to()
        with state.lock:
            # Re-check under the lock so two racing retries deliver only once.
            key, bad = check_retry_key()
            if bad is not None:
                return bad
            sent = state.deliver(body["to"], "push", messages)
            resp, status = with_request_id(jsonify({"sentMessages": sent}))
            remember_retry_key(key, resp, sent)
        return resp, status

    @app.post("/v2/bot/message/multicast")
    def multicast_message() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        key, bad = check_retry_key()
        if bad is not None:
            return bad
        errors = v.Errors()
        messages = v.check_messages(errors, body)
        to = v.check_list(errors, body, "to", "to", 1, 500)
        if errors:
            return jsonify(errors.body()), 400
        if not all(is_user(t) for t in to):
            return bad_to()
        with state.lock:
            key, bad = check_retry_key()
            if bad is not None:
                return bad
            for user_id in dict.fromkeys(to):
                state.deliver(user_id, "multicast", messages)
            resp, status = with_request_id(jsonify({}))
            remember_retry_key(key, resp, None)
        return resp, status

    @app.post("/v2/bot/message/broadcast")
    def broadcast_message() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        key, bad = check_retry_key()
        if bad is not None:
            return bad
        errors = v.Errors()
        messages = v.check_messages(errors, body)
        if errors:
            return jsonify(errors.body()), 400
        with state.lock:
            key, bad = check_retry_key()
            if bad is not None:
                return bad
            for user_id, user in state.users.items():
                if user["followed"]:
                    state.deliver(user_id, "broadcast", messages)
            resp, status = with_request_id(jsonify({}))
            remember_retry_key(key, resp, None)
        return resp, status

    @app.post("/v2/bot/message/validate/<kind>")
    def validate_message(kind: str) -> Any:
        if kind not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
            return jsonify(NOT_FOUND), 404
        body, bad = api_json()
        if bad is not None:
            return bad
        errors = v.Errors()
        v.check_messages(errors, body)
        if errors:
            return jsonify(errors.body()), 400
        return with_request_id(jsonify({}))

    @app.get("/v2/bot/message/<message_id>/content")
    def message_content(message_id: str) -> Any:
        with state.lock:
            found = state.contents.get(message_id)
            stream = state.streams.get(message_id) or state.streams.get("*")
        if found is None:
            return jsonify(NOT_FOUND), 404
        if stream is not None:
            return with_request_id(streamed_content(stream, found[1]))
        data, content_type = found
        return with_request_id(Response(data, content_type=content_type))

    def streamed_content(stream: dict[str, Any], content_type: str) -> Response:
        """``size`` bytes in ``chunk``-sized pieces, counting in ``served`` what was handed
        to the server; the Content-Length is true, omitted or ``declared`` (a lie)."""

        def pieces() -> Iterator[bytes]:
            left = int(stream["size"])
            chunk = int(stream.get("chunk") or 64 * 1024)
            while left > 0:
                piece = b"\0" * min(chunk, left)
                left -= len(piece)
                with state.lock:
                    stream["served"] += len(piece)
                yield piece
            with state.lock:
                stream["finished"] = True

        resp = Response(pieces(), content_type=content_type, direct_passthrough=True)
        if stream["length"] == "declared":
            resp.headers["Content-Length"] = str(stream["size"])
        elif stream["length"] == "lie":
            resp.headers["Content-Length"] = str(stream["declared"])
        return resp

    @app.get("/v2/bot/message/<message_id>/content/transcoding")
    def message_transcoding(message_id: str) -> Any:
        with state.lock:
            found = message_id in state.contents
        if not found:
            return jsonify(NOT_FOUND), 404
        return with_request_id(jsonify({"status": "succeeded"}))

    @app.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str) -> Any:
        with state.lock:
            user = state.users.get(user_id)
            if user is None:
                return jsonify(NOT_FOUND), 404
            out = {k: user[k] for k in ("userId", "displayName", "language")}
            for optional in ("pictureUrl", "statusMessage"):
                if user.get(optional):
                    out[optional] = user[optional]
        return with_request_id(jsonify(out))

    @app.get("/v2/bot/group/<group_id>/member/<user_id>")
    def group_member_profile(group_id: str, user_id: str) -> Any:
        with state.lock:
            user = state.users.get(user_id)
            if group_id not in state.groups or user is None:
                return jsonify(NOT_FOUND), 404
            out = {k: user[k] for k in ("userId", "displayName")}
            if user.get("pictureUrl"):
                out["pictureUrl"] = user["pictureUrl"]
        return with_request_id(jsonify(out))

    @app.get("/v2/bot/info")
    def bot_info() -> Any:
        return with_request_id(
            jsonify(
                {
                    "userId": app.config["EMULATOR_DESTINATION"],
                    "basicId": "@krasip-emulator",
                    "displayName": "Krasip (emulator)",
                    "chatMode": "bot",
                    "markAsReadMode": "auto",
                }
            )
        )

    @app.post("/v2/bot/chat/loading/start")
    def loading_start() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        errors = v.Errors()
        chat_id = v.check_str(errors, body, "chatId", "chatId")
        seconds = body.get("loadingSeconds", 20)
        if not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
            errors.add("loadingSeconds", "must be a multiple of 5 between 5 and 60")
        if errors:
            return jsonify(errors.body()), 400
        if not is_user(chat_id):
            return error(400, "The property, 'chatId', in the request body is invalid")
        with state.lock:
            state.loading_until[chat_id] = state.clock() + seconds
        return with_request_id(jsonify({}), 202)

    # ---------------------------------------------------------------- rich menus

    @app.post("/v2/bot/richmenu")
    def rich_menu_create() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        errors = v.Errors()
        v.check_rich_menu(errors, body)
        if errors:
            return jsonify(errors.body()), 400
        menu_id = "richmenu-" + secrets.token_hex(16)
        with state.lock:
            state.rich_menus[menu_id] = {"richMenuId": menu_id, **body}
        return with_request_id(jsonify({"richMenuId": menu_id}))

    @app.post("/v2/bot/richmenu/validate")
    def rich_menu_validate() -> Any:
        body, bad = api_json()
        if bad is not None:
            return bad
        errors = v.Errors()
        v.check_rich_menu(errors, body)
        if errors:
            return jsonify(errors.body()), 400
        return with_request_id(jsonify({}))

    @app.get("/v2/bot/richmenu/list")
    def rich_menu_list() -> Any:
        with state.lock:
            menus = list(state.rich_menus.values())
        return with_request_id(jsonify({"richmenus": menus}))

    @app.get("/v2/bot/richmenu/<menu_id>")
    def rich_menu_get(menu_id: str) -> Any:
        with state.lock:
            menu = state.rich_menus.get(menu_id)
        if menu is None:
            return error(404, "richmenu not found")
        return with_request_id(jsonify(menu))

    @app.delete("/v2/bot/richmenu/<menu_id>")
    def rich_menu_delete(menu_id: str) -> Any:
        with state.lock:
            if state.rich_menus.pop(menu_id, None) is None:
                return error(404, "richmenu not found")
            state.rich_menu_images.pop(menu_id, None)
            if state.default_rich_menu == menu_id:
                state.default_rich_menu = None
            state.user_rich_menus = {u: m for u, m in state.user_rich_menus.items() if m != menu_id}
        return with_request_id(jsonify({}))

    @app.post("/v2/bot/richmenu/<menu_id>/content")
    def rich_menu_upload(menu_id: str) -> Any:
        if request.mimetype not in ("image/jpeg", "image/png"):
            return error(415, "Unsupported Media Type")
        data = request.get_data()
        with state.lock:
            if menu_id not in state.rich_menus:
                return error(404, "richmenu not found")
            if menu_id in state.rich_menu_images:
                return error(400, "An image has already been uploaded to the richmenu")
            if not data or len(data) > 1024 * 1024:
                return error(400, "The image size must be 1 MB or less")
            state.rich_menu_images[menu_id] = (data, request.mimetype)
        return with_request_id(jsonify({}))

    @app.get("/v2/bot/richmenu/<menu_id>/content")
    def rich_menu_download(menu_id: str) -> Any:
        with state.lock:
            found = state.rich_menu_images.get(menu_id)
        if found is None:
            return jsonify(NOT_FOUND), 404
        return with_request_id(Response(found[0], content_type=found[1]))

    def linkable(menu_id: str) -> tuple[Response, int] | None:
        if menu_id not in state.rich_menus:
            return error(404, "richmenu not found")
        if menu_id not in state.rich_menu_images:
            return error(400, "must upload richmenu image before applying it to user")
        return None

    @app.post("/v2/bot/user/all/richmenu/<menu_id>")
    def rich_menu_set_default(menu_id: str) -> Any:
        with state.lock:
            if (bad := linkable(menu_id)) is not None:
                return bad
            state.default_rich_menu = menu_id
        return with_request_id(jsonify({}))

    @app.get("/v2/bot/user/all/richmenu")
    def rich_menu_get_default() -> Any:
        with state.lock:
            menu_id = state.default_rich_menu
        if menu_id is None:
            return error(404, "no default richmenu")
        return with_request_id(jsonify({"richMenuId": menu_id}))

    @app.delete("/v2/bot/user/all/richmenu")
    def rich_menu_clear_default() -> Any:
        with state.lock:
            state.default_rich_menu = None
        return with_request_id(jsonify({}))

    @app.post("/v2/bot/user/<user_id>/richmenu/<menu_id>")
    def rich_menu_link(user_id: str, menu_id: str) -> Any:
        with state.lock:
            if (bad := linkable(menu_id)) is not None:
                return bad
            state.user_rich_menus[user_id] = menu_id
        return with_request_id(jsonify({}))

    @app.get("/v2/bot/user/<user_id>/richmenu")
    def rich_menu_of_user(user_id: str) -> Any:
        with state.lock:
            menu_id = state.user_rich_menus.get(user_id)
        if menu_id is None:
            return error(404, "the user has no richmenu")
        return with_request_id(jsonify({"richMenuId": menu_id}))

    @app.delete("/v2/bot/user/<user_id>/richmenu")
    def rich_menu_unlink(user_id: str) -> Any:
        with state.lock:
            state.user_rich_menus.pop(user_id, None)
        return with_request_id(jsonify({}))

    # ---------------------------------------------------------------- webhook delivery

    def post_to_webhook(events: list[dict[str, Any]], signature: str | None = None) -> Any:
        url = app.config["EMULATOR_WEBHOOK_URL"]
        if not url:
            return jsonify({"status": None, "error": "no webhook URL configured"}), 409
        payload = {"destination": app.config["EMULATOR_DESTINATION"], "events": events}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": signature
            if signature is not None
            else sign(app.config["EMULATOR_CHANNEL_SECRET"], body),
        }
        try:
            resp = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            return jsonify({"status": None, "error": f"webhook unreachable: {exc}"}), 502
        return jsonify(
            {"status": resp.status_code, "events": events, "event": events[0] if events else None}
        )

    def deliver(events: list[dict[str, Any]]) -> Any:
        """Send a user's event as LINE does with "Webhook redelivery" on: a bot that did
        not answer 200 (a busy bot's fast 503) gets the same event again, marked as a
        redelivery, after growing waits."""
        resp = post_to_webhook(events)
        for wait in app.config["EMULATOR_REDELIVERY_WAITS"]:
            if not isinstance(resp, Response) or resp.get_json().get("status") == 200:
                break
            time.sleep(wait)
            events = [{**e, "deliveryContext": {"isRedelivery": True}} for e in events]
            resp = post_to_webhook(events)
        return resp

    def base_event(kind: str, source: dict[str, Any], *, reply: bool) -> dict[str, Any]:
        now = state.clock()
        event: dict[str, Any] = {
            "type": kind,
            "mode": "active",
            "timestamp": int(now * 1000),
            "source": source,
            "webhookEventId": _ulid(now),
            "deliveryContext": {"isRedelivery": False},
        }
        if reply:
            chat_id = source.get("groupId") or source.get("roomId") or source["userId"]
            event["replyToken"] = state.issue_reply_token(chat_id)
        return event

    def user_action(user_id: str, action: str, group_id: str | None) -> Any:
        if not _SAFE_ID.match(user_id) or (group_id is not None and not _SAFE_ID.match(group_id)):
            return error(400, "user and group ids must be 1-64 letters, digits, '-' or '_'")
        is_json = request.mimetype == "application/json"
        body = (request.get_json(silent=True) or {}) if is_json else {}
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        source: dict[str, Any] = {"type": "user", "userId": user_id}
        chat_id = user_id
        if group_id is not None:
            source = {"type": "group", "groupId": group_id, "userId": user_id}
            chat_id = group_id
            with state.lock:
                state.groups.add(group_id)
        state.touch_user(user_id)
        seq_before = state.seq
        shown: dict[str, Any] | None = None  # what the chat page shows as the user's bubble

        if action == "follow":
            with state.lock:
                user = state.touch_user(
                    user_id,
                    displayName=body.get("displayName"),
                    language=body.get("language"),
                    pictureUrl=body.get("pictureUrl"),
                )
                unblocked = user.get("unfollowedAt") is not None
                user["followed"] = True
                user["unfollowedAt"] = None
            event = base_event("follow", source, reply=True)
            event["follow"] = {"isUnblocked": unblocked}
            shown = {"type": "follow"}
        elif action == "unfollow":
            with state.lock:
                user = state.users[user_id]
                user["followed"] = False
                user["unfollowedAt"] = state.clock()
            event = base_event("unfollow", source, reply=False)
            shown = {"type": "unfollow"}
        elif action == "postback":
            data = body.get("data")
            if not isinstance(data, str) or not data:
                return error(400, "data is required")
            event = base_event("postback", source, reply=True)
            event["postback"] = {"data": data}
            if isinstance(body.get("params"), dict):
                event["postback"]["params"] = body["params"]
            shown = {"type": "postback", "data": data, "displayText": body.get("displayText")}
        elif action == "unsend":
            if not body.get("messageId"):
                return error(400, "messageId is required")
            event = base_event("unsend", source, reply=False)
            event["unsend"] = {"messageId": str(body["messageId"])}
            shown = {"type": "unsend", "messageId": str(body["messageId"])}
        elif action in ("text", "sticker", "location", "image", "video", "audio", "file"):
            message_id = state.new_message_id()
            message: dict[str, Any] = {"type": action, "id": message_id}
            if action == "text":
                text = body.get("text")
                if not isinstance(text, str) or not text:
                    return error(400, "text is required")
                message["text"] = text
                message["quoteToken"] = secrets.token_urlsafe(48)
            elif action == "sticker":
                message.update(
                    quoteToken=secrets.token_urlsafe(48),
                    packageId=str(body.get("packageId", "446")),
                    stickerId=str(body.get("stickerId", "1988")),
                    stickerResourceType=body.get("stickerResourceType", "STATIC"),
                    keywords=body.get("keywords", ["happy"]),
                )
            elif action == "location":
                try:
                    lat, lon = float(body["latitude"]), float(body["longitude"])
                except (KeyError, TypeError, ValueError):
                    return error(400, "latitude and longitude are required")
                message.update(address=str(body.get("address", "")), latitude=lat, longitude=lon)
                if body.get("title"):
                    message["title"] = str(body["title"])
            else:
                data = request.get_data()
                if not data:
                    return error(400, "send the file bytes as the request body")
                content_type = request.content_type or "application/octet-stream"
                with state.lock:
                    state.contents[message_id] = (data, content_type)
                if action == "file":
                    message["fileName"] = request.args.get("fileName") or "file.bin"
                    message["fileSize"] = len(data)
                else:
                    message["contentProvider"] = {"type": "line"}
                    if action == "image":
                        message["quoteToken"] = secrets.token_urlsafe(48)
                    if action in ("video", "audio"):
                        message["duration"] = int(request.args.get("duration", 5000))
                    if action == "video":
                        message["quoteToken"] = secrets.token_urlsafe(48)
            event = base_event("message", source, reply=True)
            event["message"] = message
            shown = dict(message)
            if action in ("image", "video", "audio", "file"):
                shown["contentUrl"] = f"/_emulator/content/{message_id}"
        else:
            return error(404, f"unknown action {action!r}")

        if shown is not None:
            state.add_entry(chat_id, "user", {**shown, "from": user_id})
        resp = deliver([event])
        if isinstance(resp, Response):
            data = resp.get_json()
            data["seq_before"] = seq_before
            return jsonify(data)
        return resp

    # ---------------------------------------------------------------- control API

    @app.post("/_emulator/users/<user_id>/<action>")
    def control_user_action(user_id: str, action: str) -> Any:
        return user_action(user_id, action, None)

    @app.post("/_emulator/groups/<group_id>/users/<user_id>/<action>")
    def control_group_action(group_id: str, user_id: str, action: str) -> Any:
        return user_action(user_id, action, group_id)

    @app.post("/_emulator/events")
    def control_raw_events() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return error(400, 'body must be {"events": [...]}')
        for event in body["events"]:
            token = event.get("replyToken") if isinstance(event, dict) else None
            source = event.get("source") if isinstance(event, dict) else None
            # Hand-made events get working reply tokens; a replayed token keeps its state.
            if isinstance(token, str) and isinstance(source, dict):
                chat_id = source.get("groupId") or source.get("roomId") or source.get("userId")
                with state.lock:
                    if token not in state.reply_tokens and chat_id:
                        state.reply_tokens[token] = {
                            "chat": chat_id,
                            "issued": state.clock(),
                            "used": False,
                        }
        return post_to_webhook(body["events"], body.get("signature"))

    @app.post("/_emulator/reply_tokens")
    def control_reply_tokens() -> Any:
        """Reply tokens made by a load generator that posts its events to the bot itself,
        as LINE does (``{"tokens": [[token, chat id], ...]}``): replies with them work."""
        body = request.get_json(silent=True)
        pairs = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p)
            for p in pairs
        ):
            return error(400, 'body must be {"tokens": [[token, chat id], ...]}')
        with state.lock:
            for token, chat_id in pairs:
                state.reply_tokens.setdefault(
                    token, {"chat": chat_id, "issued": state.clock(), "used": False}
                )
        return jsonify({"registered": len(pairs)})

    @app.get("/_emulator/users")
    def control_users() -> Any:
        with state.lock:
            users = [dict(u) for u in state.users.values()]
        return jsonify({"users": users})

    @app.get("/_emulator/users/<chat_id>/messages")
    def control_messages(chat_id: str) -> Any:
        since = request.args.get("since", default=0, type=int)
        include_user = request.args.get("include_user") in ("1", "true")
        # A long poll: with ``wait`` (seconds, at most 30) an empty answer waits for the
        # next message, so a client need not ask again and again.
        until = time.monotonic() + min(request.args.get("wait", default=0.0, type=float), 30.0)
        with state.lock:
            while True:
                chat = state.chats.get(chat_id, [])
                items = [
                    {k: e[k] for k in ("seq", "via", "message", "at")}
                    for e in chat[bisect.bisect_right(chat, since, key=lambda e: e["seq"]) :]
                    if include_user or e["via"] != "user"
                ]
                left = until - time.monotonic()
                if items or left <= 0:
                    break
                state.arrived.wait(left)
            loading = state.loading_until.get(chat_id, 0) > state.clock()
            last = state.seq
        return jsonify({"messages": items, "last_seq": last, "loading": loading})

    @app.get("/_emulator/users/<user_id>/richmenu")
    def control_user_rich_menu(user_id: str) -> Any:
        with state.lock:
            menu_id = state.user_rich_menus.get(user_id) or state.default_rich_menu
            menu = state.rich_menus.get(menu_id) if menu_id else None
        if menu is None:
            return jsonify({"richMenu": None})
        return jsonify({"richMenu": menu, "imageUrl": f"/_emulator/richmenu/{menu_id}/image"})

    @app.get("/_emulator/richmenu/<menu_id>/image")
    def control_rich_menu_image(menu_id: str) -> Any:
        with state.lock:
            found = state.rich_menu_images.get(menu_id)
        if found is None:
            return jsonify(NOT_FOUND), 404
        return Response(found[0], content_type=found[1])

    @app.delete("/_emulator/streams")
    def control_streams_clear() -> Any:
        with state.lock:
            state.streams = {}
        return jsonify({"streams": []})

    @app.route("/_emulator/streams/<message_id>", methods=["GET", "POST"])
    def control_stream(message_id: str) -> Any:
        """Serve a message's content (or every message's, ``*``) as a generated stream of
        ``size`` bytes, ``length`` "declared", "omit" or "lie" (with ``declared``); GET says
        how many bytes were handed to the server so far."""
        if request.method == "POST":
            body = request.get_json(silent=True) or {}
            if body.get("length", "declared") not in ("declared", "omit", "lie"):
                return error(400, "length must be declared, omit or lie")
            with state.lock:
                state.streams[message_id] = {
                    "size": int(body.get("size", 0)),
                    "chunk": int(body.get("chunk") or 64 * 1024),
                    "length": body.get("length", "declared"),
                    "declared": int(body.get("declared") or 0),
                    "served": 0,
                    "finished": False,
                }
        with state.lock:
            found = dict(state.streams.get(message_id) or {})
        if not found:
            return jsonify(NOT_FOUND), 404
        return jsonify(found)

    @app.get("/_emulator/content/<message_id>")
    def control_content(message_id: str) -> Any:
        with state.lock:
            found = state.contents.get(message_id)
        if found is None:
            return jsonify(NOT_FOUND), 404
        resp = Response(found[0], content_type=found[1])
        resp.headers["Content-Security-Policy"] = "sandbox"
        return resp

    @app.route("/_emulator/faults", methods=["GET", "POST", "DELETE"])
    def control_faults() -> Any:
        if request.method == "DELETE":
            with state.lock:
                state.faults = []
            return jsonify({"faults": []})
        if request.method == "POST":
            body = request.get_json(silent=True)
            items = body if isinstance(body, list) else [body]
            for item in items:
                if not isinstance(item, dict) or not str(item.get("path", "")).startswith("/"):
                    return error(400, "a fault needs a path prefix starting with '/'")
                if item.get("status") is None and not item.get("latency_ms"):
                    return error(400, "a fault needs a status or latency_ms")
            with state.lock:
                for item in items:
                    state.faults.append(
                        {
                            "path": item["path"],
                            "status": item.get("status"),
                            "times": int(item.get("times", 1)),
                            "retry_after": item.get("retry_after"),
                            "latency_ms": int(item.get("latency_ms") or 0),
                            "body": item.get("body"),
                        }
                    )
        with state.lock:
            return jsonify({"faults": list(state.faults)})

    @app.route("/_emulator/config", methods=["GET", "POST"])
    def control_config() -> Any:
        body = request.get_json(silent=True) or {}
        if request.method == "POST":
            mapping = {
                "latency_ms": "EMULATOR_LATENCY_MS",
                "reply_token_ttl": "EMULATOR_REPLY_TOKEN_TTL",
                "webhook_url": "EMULATOR_WEBHOOK_URL",
                "access_token": "EMULATOR_ACCESS_TOKEN",
                "channel_secret": "EMULATOR_CHANNEL_SECRET",
            }
            for key, conf in mapping.items():
                if key in body:
                    app.config[conf] = body[key]
        return jsonify(
            {
                "latency_ms": app.config["EMULATOR_LATENCY_MS"],
                "reply_token_ttl": app.config["EMULATOR_REPLY_TOKEN_TTL"],
                "webhook_url": app.config["EMULATOR_WEBHOOK_URL"],
                "destination": app.config["EMULATOR_DESTINATION"],
            }
        )

    @app.get("/_emulator/requests")
    def control_requests() -> Any:
        prefix = request.args.get("path", "")
        with state.lock:
            items = [e for e in state.log if e["path"].startswith(prefix)]
        return jsonify({"requests": items})

    @app.post("/_emulator/reset")
    def control_reset() -> Any:
        state.reset()
        return jsonify({"ok": True})

    # ---------------------------------------------------------------- chat page

    @app.get("/")
    def chat_page() -> Any:
        resp = send_from_directory(STATIC_DIR, "chat.html")
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' https: data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'"
        )
        return resp

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Any:
        return send_from_directory(STATIC_DIR, name)

    return app
