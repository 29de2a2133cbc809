"""Flex bubbles built from catalogue texts: the receipt, the status card, the review summary.

Each builder returns a bubble ``dict``; :func:`handlers.messages.flex` wraps it. Flex
text components must not be empty, so every value passes through :func:`_value`.
"""

from __future__ import annotations

from typing import Any

from handlers.messages import clamp, wire_json
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


# LINE's limits on a Flex container, measured on the JSON bytes as sent (handlers.messages.
# wire_json). Counted in thousands, not 1024s, to stay clear of either reading of "KB".
BUBBLE_MAX_BYTES = 30_000
CAROUSEL_MAX_BYTES = 50_000
CAROUSEL_MAX_BUBBLES = 12
STATUS_VALUE_MAX = 4000  # UTF-16 units: the console's 2,000 characters, even all emoji
PIECE_CHARS = 400  # a long value is cut into pieces of about this size, so a card can split


def _pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut after a line or a space when
    there is one in the second half of the piece (Thai has few spaces: then anywhere)."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        window = rest[:size]
        cut = max(window.rfind("\n"), window.rfind(" "))
        cut = cut + 1 if cut >= size // 2 else size
        pieces.append(rest[:cut].strip() or rest[:cut])
        rest = rest[cut:]
    if rest.strip() or not pieces:
        pieces.append(rest.strip())
    return pieces


def _long_row(label: str, value: str | None, limit: int) -> list[dict[str, Any]]:
    """A row whose value may be long: the label with the first piece, then one text per piece,
    so that the card can be split between two pieces."""
    pieces = _pieces(_value(value, limit))
    first = _row(label, pieces[0])
    return [first, *(_text(piece, size="sm") for piece in pieces[1:])]


def _size(container: Bubble) -> int:
    return len(wire_json(container))


def _pack(titles: tuple[str, str], blocks: list[dict[str, Any]]) -> Bubble | None:
    """The blocks in as few bubbles as fit LINE's limits, in order; one bubble as it is,
    several as a carousel. None when they do not fit in a carousel."""
    title, part_title = titles
    widest = part_title.format(part=CAROUSEL_MAX_BUBBLES, parts=CAROUSEL_MAX_BUBBLES)
    bubbles: list[list[dict[str, Any]]] = [[]]
    for block in blocks:
        if bubbles[-1] and _size(_bubble(widest, [*bubbles[-1], block])) > BUBBLE_MAX_BYTES:
            bubbles.append([])
        bubbles[-1].append(block)
        if _size(_bubble(widest, bubbles[-1])) > BUBBLE_MAX_BYTES:
            return None  # one block alone is too large: the caller shortens the values
    if len(bubbles) == 1:
        return _bubble(title, bubbles[0])
    if len(bubbles) > CAROUSEL_MAX_BUBBLES:
        return None
    carousel: Bubble = {
        "type": "carousel",
        "contents": [
            _bubble(part_title.format(part=i, parts=len(bubbles)), body)
            for i, body in enumerate(bubbles, start=1)
        ],
    }
    return carousel if _size(carousel) <= CAROUSEL_MAX_BYTES else None


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
    """The status card a token shows; all values already in the reporter's language.

    One bubble when it fits LINE's 30 KB, else a carousel of bubbles (50 KB in all), the
    note and messages cut between pieces. Values are shortened only if even that is too
    much: the console allows at most 2,000 characters each, which always fit.
    """
    titles = (t(lang, "status.title"), t(lang, "status.title_part"))
    limit = STATUS_VALUE_MAX
    while True:
        body: list[dict[str, Any]] = [
            _row(t(lang, "status.case_number"), case_number),
            _row(t(lang, "status.category"), category),
            _row(t(lang, "status.filed"), filed),
            _row(t(lang, "status.status"), status),
            _text(status_detail, size="xs", color=MUTED),
            _row(t(lang, "status.updated"), updated),
        ]
        if public_note:
            body.extend(_long_row(t(lang, "status.note"), public_note, limit))
        if staff_messages:
            body.append({"type": "separator"})
            body.append(_text(t(lang, "status.messages"), size="sm", weight="bold"))
            for sent, message in staff_messages:
                body.extend(_long_row(sent, message, limit))
        if more_waiting:
            body.append(_text(t(lang, "status.more_messages"), size="xs", color=MUTED))
        if notice:
            body.append({"type": "separator"})
            body.append(_text(notice, size="sm", color="#B00020"))
        card = _pack(titles, body)
        if card is not None or limit <= 1:
            return card or _bubble(titles[0], body[:6])
        limit //= 2


def review_bubble(
    lang: str, rows: list[tuple[str, str]], confirm_data: str, warning: str | None = None
) -> Bubble:
    """The summary before sending, with a "confirm and send" button."""
    body: list[dict[str, Any]] = [_row(label, value) for label, value in rows]
    if warning:
        body.append(_text(warning, size="xs", color="#B00020"))
    # Said once, calmly, where the person decides to send (seed 003, 8.2.2), not up front.
    body.append(_text(t(lang, "review.truthful"), size="xs", color=MUTED))
    footer = [
        postback_button(
            t(lang, "btn.review.confirm"), confirm_data, t(lang, "label.review.confirm"), True
        )
    ]
    return _bubble(t(lang, "review.title"), body, footer)
