"""LINE message objects (plain dicts in the Messaging API's JSON shape), clamped to its limits."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode

from handlers.model import Message

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_QUICK_REPLY = 13
MAX_LABEL = 20
MAX_DATA = 300
MAX_DISPLAY_TEXT = 300
ELLIPSIS = "…"


def wire_json(payload: Any) -> bytes:
    """``payload`` as the gateway sends it: compact UTF-8 JSON, Thai unescaped.

    LINE measures a Flex bubble (30 KB) on these bytes; the SDK's own ``json.dumps`` escapes
    every Thai character as ``\\uXXXX`` and nearly doubles a Thai card.
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def line_len(value: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji counts twice)."""
    return len(value.encode("utf-16-le")) // 2


def clamp(value: str, limit: int) -> str:
    """Cut ``value`` to at most ``limit`` LINE characters, marking the cut."""
    if line_len(value) <= limit:
        return value
    out = ""
    for ch in value:
        if line_len(out + ch) > limit - 1:
            break
        out += ch
    return out + ELLIPSIS


def postback_data(scope: str, value: str | None = None, **extra: str) -> str:
    """Compact postback data, e.g. ``s=category&v=money``."""
    return _postback_data(scope, value, tuple(extra.items()))


@lru_cache(maxsize=4096)
def _postback_data(scope: str, value: str | None, extra: tuple[tuple[str, str], ...]) -> str:
    # Every prompt encodes the same few buttons again: urlencode was 2 % of an event's CPU.
    fields = {"s": scope}
    if value is not None:
        fields["v"] = value
    fields.update(extra)
    data = urlencode(fields)
    if len(data) > MAX_DATA:
        raise ValueError("postback data over 300 characters")
    return data


def read_postback(data: str | None) -> dict[str, str]:
    """Parse postback data; anything malformed reads as empty (it is then just stale)."""
    if not data or len(data) > MAX_DATA:
        return {}
    parsed = parse_qs(data, keep_blank_values=False, max_num_fields=8)
    return {k: v[0] for k, v in parsed.items() if v}


def quick_item(label: str, data: str, display: str) -> dict[str, Any]:
    """One quick-reply button whose action is a postback."""
    return {
        "type": "action",
        "action": {
            "type": "postback",
            "label": clamp(label, MAX_LABEL),
            "data": data,
            "displayText": clamp(display, MAX_DISPLAY_TEXT),
        },
    }


def text(body: str, quick: list[dict[str, Any]] | None = None) -> Message:
    """A text message, with quick replies if given."""
    message: Message = {"type": "text", "text": clamp(body, MAX_TEXT)}
    return with_quick(message, quick)


def flex(
    alt_text: str, contents: dict[str, Any], quick: list[dict[str, Any]] | None = None
) -> Message:
    """A Flex message around one bubble."""
    message: Message = {
        "type": "flex",
        "altText": clamp(alt_text, MAX_ALT_TEXT),
        "contents": contents,
    }
    return with_quick(message, quick)


def with_quick(message: Message, quick: list[dict[str, Any]] | None) -> Message:
    """Attach quick replies (at most 13) to a message."""
    if quick:
        message["quickReply"] = {"items": quick[:MAX_QUICK_REPLY]}
    return message


def finish(replies: list[Message]) -> list[Message]:
    """At most five messages per reply; quick replies only count on the last one."""
    if len(replies) > MAX_MESSAGES:
        # Keep the last ones: they carry the current question and its buttons.
        replies = replies[-MAX_MESSAGES:]
    for message in replies[:-1]:
        message.pop("quickReply", None)
    return replies
