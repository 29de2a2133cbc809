"""Recognising typed commands and button labels; the quick replies every step shares."""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.form import (
    Choice,
    Step,
)
from handlers.messages import (
    postback_data,
    quick_item,
)
from handlers.steps.turn import Turn
from handlers.texts import t, variants

CMD = "cmd"  # postback scope of the global commands
LANG = "lang"
RESTART = "restart"
CANCEL = "cx"  # the answer to "delete this draft?"
FOLLOWUP = "fu"


def norm(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


@cache
def _wordings(key: str) -> frozenset[str]:
    # The catalogues never change while the process runs; every event asks several keys.
    return frozenset(norm(v) for v in variants(key))


def says(value: str | None, *keys: str) -> bool:
    said = norm(value)
    return bool(said) and any(said in _wordings(key) for key in keys)


def cmd_item(turn: Turn, value: str) -> dict[str, Any]:
    key = "btn.cancel" if value == "cancel" else f"btn.cmd.{value}"
    return quick_item(t(turn.lang, key), postback_data(CMD, value), t(turn.lang, key))


def quick_help(turn: Turn) -> list[dict[str, Any]]:
    other = "en" if turn.lang == "th" else "th"
    return [
        cmd_item(turn, "report"),
        cmd_item(turn, "status"),
        quick_item(
            t(other, "btn.lang.self"), postback_data(LANG, other), t(other, "btn.lang.self")
        ),
    ]


def quick_restart(turn: Turn) -> list[dict[str, Any]]:
    return [
        quick_item(
            t(turn.lang, f"btn.restart.{v}"),
            postback_data(RESTART, v),
            t(turn.lang, f"label.restart.{v}"),
        )
        for v in ("continue", "over")
    ]


def quick_cancel(turn: Turn) -> list[dict[str, Any]]:
    """ "Delete this draft?": keeping it comes first, so a slip of the thumb loses nothing."""
    return [
        quick_item(
            t(turn.lang, f"btn.cancel_confirm.{v}"),
            postback_data(CANCEL, v),
            t(turn.lang, f"label.cancel_confirm.{v}"),
        )
        for v in ("keep", "drop")
    ]


def choice_item(turn: Turn, step: Step, choice: Choice) -> dict[str, Any]:
    return quick_item(
        t(turn.lang, choice.button_key),
        postback_data(step.id, choice.value),
        t(turn.lang, choice.label_key),
    )


def with_cancel(turn: Turn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(items) < 13:
        items = [*items, cmd_item(turn, "cancel")]
    return items
