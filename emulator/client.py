"""Clients for the emulator's control API: play a LINE user, inject faults, read the log."""

from __future__ import annotations

import time
from typing import Any

import requests

DEFAULT_TIMEOUT = 35.0  # a little over the emulator's own webhook timeout


class EmulatorError(RuntimeError):
    """The emulator could not do what was asked (e.g. the webhook was unreachable)."""


def _check(resp: requests.Response) -> Any:
    if resp.status_code >= 400:
        try:
            detail = resp.json()
        except ValueError:
            detail = resp.text
        raise EmulatorError(f"{resp.request.method} {resp.url}: {resp.status_code} {detail}")
    return resp.json()


class Emulator:
    """Control client for the whole emulator."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = session or requests.Session()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _check(self.http.get(self.url + path, params=params, timeout=DEFAULT_TIMEOUT))

    def _post(self, path: str, json: Any = None) -> Any:
        return _check(self.http.post(self.url + path, json=json, timeout=DEFAULT_TIMEOUT))

    def faults(
        self,
        path: str,
        status: int | None = 500,
        times: int = 1,
        retry_after: int | float | None = None,
        latency_ms: int = 0,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Make the next ``times`` API requests under ``path`` fail with ``status`` (or, with
        status None, only be delayed by ``latency_ms``)."""
        fault = {
            "path": path,
            "status": status,
            "times": times,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
            "body": body,
        }
        return self._post("/_emulator/faults", fault)["faults"]

    def clear_faults(self) -> None:
        _check(self.http.delete(self.url + "/_emulator/faults", timeout=DEFAULT_TIMEOUT))

    def config(self, **settings: Any) -> dict[str, Any]:
        """Change ``latency_ms``, ``reply_token_ttl``, ``webhook_url`` at run time."""
        return self._post("/_emulator/config", settings)

    def requests(self, path_prefix: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path_prefix} if path_prefix else {}
        return self._get("/_emulator/requests", params)["requests"]

    def reset(self) -> None:
        self._post("/_emulator/reset")

    def stream_content(
        self,
        size: int,
        *,
        length: str = "declared",
        declared: int = 0,
        chunk: int = 64 * 1024,
        message_id: str = "*",
    ) -> dict[str, Any]:
        """Serve media content as a stream of ``size`` bytes whose Content-Length is true
        ("declared"), absent ("omit") or ``declared`` ("lie")."""
        body = {"size": size, "length": length, "declared": declared, "chunk": chunk}
        return dict(self._post(f"/_emulator/streams/{message_id}", body))

    def clear_streams(self) -> None:
        _check(self.http.delete(self.url + "/_emulator/streams", timeout=DEFAULT_TIMEOUT))

    def streamed(self, message_id: str = "*") -> dict[str, Any]:
        """How much of a streamed content was handed to the server, and if all of it."""
        return dict(self._get(f"/_emulator/streams/{message_id}"))

    def register_reply_tokens(self, pairs: list[tuple[str, str]]) -> None:
        """Make reply tokens (token, chat id) valid, for events posted to the bot directly."""
        self._post("/_emulator/reply_tokens", {"tokens": [list(p) for p in pairs]})

    def post_raw_events(self, events: list[dict[str, Any]], signature: str | None = None) -> int:
        payload: dict[str, Any] = {"events": events}
        if signature is not None:
            payload["signature"] = signature
        return int(self._post("/_emulator/events", payload)["status"])

    def users(self) -> list[dict[str, Any]]:
        return self._get("/_emulator/users")["users"]

    def user(self, user_id: str) -> LineUser:
        return LineUser(self.url, user_id, session=self.http)


class LineUser:
    """One simulated LINE user talking to the bot through the emulator.

    Each action returns the HTTP status the bot's webhook answered. The bot replies after
    answering, so use ``wait_for_messages`` to collect what it sent back.
    """

    def __init__(
        self, emulator_url: str, user_id: str, session: requests.Session | None = None
    ) -> None:
        self.url = emulator_url.rstrip("/")
        self.user_id = user_id
        self.http = session or requests.Session()
        self.last_event: dict[str, Any] | None = None
        self._cursor = 0
        self._waited = True

    # ------------------------------------------------------------ actions

    def _act(
        self,
        action: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        headers = {"Content-Type": content_type} if content_type else None
        resp = self.http.post(
            f"{self.url}/_emulator/users/{self.user_id}/{action}",
            json=json,
            data=data,
            headers=headers,
            params=params,
            timeout=DEFAULT_TIMEOUT,
        )
        result = _check(resp)
        # Count replies from the first action not yet waited for, so say(); say(); wait(2)
        # sees both answers even if the first arrived before the second say.
        if self._waited:
            self._cursor = result.get("seq_before", self._cursor)
            self._waited = False
        self.last_event = result.get("event")
        return int(result["status"])

    def follow(self, display_name: str | None = None, language: str | None = None) -> int:
        body = {
            k: val
            for k, val in (("displayName", display_name), ("language", language))
            if val is not None
        }
        return self._act("follow", json=body)

    def unfollow(self) -> int:
        return self._act("unfollow", json={})

    def say(self, text: str) -> int:
        return self._act("text", json={"text": text})

    def tap(
        self, data: str, display_text: str | None = None, params: dict[str, Any] | None = None
    ) -> int:
        body: dict[str, Any] = {"data": data}
        if display_text is not None:
            body["displayText"] = display_text
        if params is not None:
            body["params"] = params
        return self._act("postback", json=body)

    def send_image(self, data: bytes, content_type: str = "image/jpeg") -> int:
        return self._act("image", data=data, content_type=content_type)

    def send_file(
        self, data: bytes, file_name: str, content_type: str = "application/octet-stream"
    ) -> int:
        return self._act(
            "file", data=data, content_type=content_type, params={"fileName": file_name}
        )

    def send_video(
        self, data: bytes, content_type: str = "video/mp4", duration_ms: int = 5000
    ) -> int:
        return self._act(
            "video", data=data, content_type=content_type, params={"duration": duration_ms}
        )

    def send_audio(
        self, data: bytes, content_type: str = "audio/m4a", duration_ms: int = 5000
    ) -> int:
        return self._act(
            "audio", data=data, content_type=content_type, params={"duration": duration_ms}
        )

    def send_sticker(self, package_id: str = "446", sticker_id: str = "1988") -> int:
        return self._act("sticker", json={"packageId": package_id, "stickerId": sticker_id})

    def send_location(
        self,
        latitude: float = 13.7525,
        longitude: float = 100.4942,
        address: str = "Bangkok City Hall",
        title: str | None = None,
    ) -> int:
        body: dict[str, Any] = {"latitude": latitude, "longitude": longitude, "address": address}
        if title is not None:
            body["title"] = title
        return self._act("location", json=body)

    def unsend(self, message_id: str) -> int:
        return self._act("unsend", json={"messageId": message_id})

    # ------------------------------------------------------------ what the bot sent

    def _fetch(self, since: int, wait: float = 0.0) -> list[dict[str, Any]]:
        resp = self.http.get(
            f"{self.url}/_emulator/users/{self.user_id}/messages",
            params={"since": since, "wait": wait},
            timeout=DEFAULT_TIMEOUT + wait,
        )
        return _check(resp)["messages"]

    def messages_after(self, seq: int, wait: float = 0.0) -> list[dict[str, Any]]:
        """Messages delivered after ``seq``; with ``wait``, waits up to that many seconds
        for one when there is none yet (a long poll)."""
        return self._fetch(seq, wait)

    def messages(self) -> list[dict[str, Any]]:
        """Every message delivered to this user so far (reply, push, multicast)."""
        return self._fetch(0)

    def wait_for_messages(self, count_new: int = 1, timeout: float = 10.0) -> list[dict]:
        """Wait for ``count_new`` messages after the last wait or action and return them."""
        deadline = time.monotonic() + timeout
        while True:
            new = self._fetch(self._cursor)
            if len(new) >= count_new:
                got = new[:count_new]
                if got:
                    self._cursor = got[-1]["seq"]
                self._waited = True
                return got
            if time.monotonic() >= deadline:
                texts = [m["message"].get("text") or m["message"].get("type") for m in new]
                raise TimeoutError(
                    f"{self.user_id}: waited {timeout}s for {count_new} message(s), "
                    f"got {len(new)}: {texts}"
                )
            time.sleep(0.05)

    def last_text(self) -> str | None:
        """Text of the latest text message this user received (altText for flex/template)."""
        for item in reversed(self.messages()):
            message = item["message"]
            if message.get("type") in ("text", "textV2"):
                return message.get("text")
            if message.get("type") in ("flex", "template", "imagemap"):
                return message.get("altText")
        return None
