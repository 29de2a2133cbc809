"""Krasip's conversation with a reporter: pure functions, no I/O.

The shell (``bot/``) calls :func:`handle` for each event of a 1:1 chat and applies the
returned effects; it sends :func:`receipt` after a ``SubmitReport`` and uses the notices
below for groups, failures on its side and opt-in update pushes.
"""

from __future__ import annotations

from handlers import flex
from handlers.engine import handle, keep_until, state_lang
from handlers.messages import flex as flex_message
from handlers.messages import text
from handlers.model import Message
from handlers.texts import t

__all__ = [
    "failure_notice",
    "group_notice",
    "handle",
    "keep_until",
    "receipt",
    "state_lang",
    "update_notice",
]


def receipt(lang: str, case_number: str, token: str) -> list[Message]:
    """The reply after a report was filed: a Flex receipt and the token alone, easy to copy.

    The token is left out of the Flex ``altText`` because that text shows in
    notifications and the chat list.
    """
    bubble = flex.receipt_bubble(lang, case_number, token)
    return [
        flex_message(t(lang, "receipt.alt", case_number=case_number), bubble),
        text(token),
    ]


def group_notice(lang: str) -> list[Message]:
    """What the bot says when addressed in a group or room: reports only in a 1:1 chat."""
    return [text(t(lang, "group.notice"))]


def failure_notice(lang: str) -> list[Message]:
    """Something failed on our side: nothing the reporter sent is lost; try again soon."""
    return [text(t(lang, "failure.notice"))]


def update_notice(lang: str) -> list[Message]:
    """The opt-in push: there is an update, send your token to read it. Never case content."""
    return [text(t(lang, "update.notice"))]
