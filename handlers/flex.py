"""Flex bubbles built from catalogue texts: the receipt, the status card, the review summary.

Each builder returns a bubble ``dict``; :func:`handlers.messages.flex` wraps it. Flex
text components must not be empty, so every value passes through :func:`_value`.
"""

from __future__ import annotations

from typing import Any

from handlers.messages import clamp
from handlers.texts import t

Bubble = dict[str, Any]

MAX_VALUE = 1200  # one row in a card; keeps a bubble well under LINE's 30 KB
ACCENT = "#1F6F8B"
MUTED = "#666666"


def _value(text: str | None, limit: int = MAX_VALUE) -> str:
    cleaned = (text or "").strip()
    return clamp(cleaned, limit) if cleaned else "-"


def _text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": _value(value), "wrap": True, **style}


def _row(label: str, value: str | None) -> dict[str, Any]:
    return {
        "type": "box",
        "layout": "vertical",
        "spacing": "xs",
        "contents": [
            _text(label, size="xs", color=MUTED),
            _text(value or "", size="sm"),
        ],
    }


def _bubble(
    title: str, body: list[dict[str, Any]], footer: list[dict[str, Any]] | None = None
) -> Bubble:
    bubble: Bubble = {
        "type": "bubble",
        "header": {
            "type": "box",
            "layout": "vertical",
            "backgroundColor": ACCENT,
            "contents": [_text(title, weight="bold", color="#FFFFFF", size="md")],
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body},
    }
    if footer:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": footer,
        }
    return bubble


def postback_button(label: str, data: str, display: str, primary: bool = False) -> dict[str, Any]:
    """A footer button whose action is a postback."""
    return {
        "type": "button",
        "style": "primary" if primary else "secondary",
        "color": ACCENT if primary else "#EEEEEE",
        "height": "sm",
        "action": {
            "type": "postback",
            "label": clamp(label, 20),
            "data": data,
            "displayText": clamp(display, 300),
        },
    }


def receipt_bubble(lang: str, case_number: str, token: str) -> Bubble:
    """The receipt after submission: the token large, the case number, what to do next."""
    body = [
        _text(t(lang, "receipt.token_label"), size="xs", color=MUTED),
        _text(token, size="xl", weight="bold", color=ACCENT),
        _text(t(lang, "receipt.keep_secret"), size="sm"),
        {"type": "separator"},
        _row(t(lang, "receipt.case_number"), case_number),
        _text(t(lang, "receipt.case_number_note"), size="xs", color=MUTED),
        {"type": "separator"},
        _text(t(lang, "receipt.next"), size="sm"),
    ]
    return _bubble(t(lang, "receipt.title"), body)


def status_bubble(
    lang: str,
    *,
    case_number: str,
    category: str,
    filed: str,
    status: str,
    status_detail: str,
    updated: str,
    public_note: str | None,
    staff_messages: list[tuple[str, str]],
    more_waiting: bool,
    notice: str | None = None,
) -> Bubble:
    """The status card a token shows; all values already in the reporter's language."""
    body: list[dict[str, Any]] = [
        _row(t(lang, "status.case_number"), case_number),
        _row(t(lang, "status.category"), category),
        _row(t(lang, "status.filed"), filed),
        _row(t(lang, "status.status"), status),
        _text(status_detail, size="xs", color=MUTED),
        _row(t(lang, "status.updated"), updated),
    ]
    if public_note:
        body.append(_row(t(lang, "status.note"), public_note))
    if staff_messages:
        body.append({"type": "separator"})
        body.append(_text(t(lang, "status.messages"), size="sm", weight="bold"))
        body.extend(_row(sent, message) for sent, message in staff_messages)
    if more_waiting:
        body.append(_text(t(lang, "status.more_messages"), size="xs", color=MUTED))
    if notice:
        body.append({"type": "separator"})
        body.append(_text(notice, size="sm", color="#B00020"))
    return _bubble(t(lang, "status.title"), body)


def review_bubble(
    lang: str, rows: list[tuple[str, str]], confirm_data: str, warning: str | None = None
) -> Bubble:
    """The summary before sending, with a "confirm and send" button."""
    body: list[dict[str, Any]] = [_row(label, value) for label, value in rows]
    if warning:
        body.append(_text(warning, size="xs", color="#B00020"))
    footer = [
        postback_button(
            t(lang, "btn.review.confirm"), confirm_data, t(lang, "label.review.confirm"), True
        )
    ]
    return _bubble(t(lang, "review.title"), body, footer)
