"""The conversation state: its shape, its language, how long the shell keeps it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.form import (
    STEP_BY_ID,
)
from handlers.model import (
    Limits,
    State,
)
from handlers.texts import LANGS

STATE_VERSION = 1
DEFAULT_LANG = "th"


def state_lang(state: State | None) -> str:
    """The reporter's language in ``state``: ``"th"`` unless English was chosen."""
    if isinstance(state, dict) and state.get("lang") in LANGS:
        return str(state["lang"])
    return DEFAULT_LANG


def idle(lang: str) -> State:
    """An idle state. Wrong tokens are remembered by the shell, outside the state."""
    return {"v": STATE_VERSION, "lang": lang, "mode": "idle"}


def is_blank_idle(state: State) -> bool:
    return state.get("mode") == "idle" and state_lang(state) == DEFAULT_LANG


def keep_until(state: State | None, now: datetime, limits: Limits) -> datetime | None:
    """Until when the shell must keep ``state``; None when it need not be kept at all.

    After this the state is useless (a draft expired, a follow-up window closed), so it
    is destroyed rather than left to link a chat to a case.
    """
    if not isinstance(state, dict):
        return None
    mode = state.get("mode")
    if mode == "form":
        return now + limits.draft_ttl
    if mode == "followup":
        return (parse_instant(state.get("followup_at")) or now) + limits.followup_ttl
    if mode == "await_token" or state_lang(state) != DEFAULT_LANG:
        # A language choice is remembered for a while, not for ever: a row kept long
        # after a report would date its filing.
        return now + limits.followup_ttl
    return None


def _copied(value: Any) -> Any:
    """A copy of a tree of dicts and lists as JSON gives them, for a third of the CPU of
    ``copy.deepcopy`` (``python -m bench.micro``), which ran on every event. Other values
    are shared."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def coerce(state: State | None) -> State:
    """A private, well-formed copy of the stored state; anything unreadable starts afresh."""
    if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
        return idle(state_lang(state))
    working = _copied(state)
    # Per-chat wrong tokens of states saved before the shell kept them (unfollow lost them).
    working.pop("lookup_failures", None)
    working.pop("cooldown_until", None)
    mode = working.get("mode")
    if mode == "form":
        ok = (
            working.get("step") in STEP_BY_ID
            and isinstance(working.get("form"), dict)
            and isinstance(working.get("done"), list)
            and isinstance(working.get("draft_id"), str)
        )
        if not ok:
            return idle(state_lang(working))
    elif mode == "followup":
        if not isinstance(working.get("case_id"), int):
            return idle(state_lang(working))
    elif mode not in ("idle", "await_token"):
        return idle(state_lang(working))
    return working


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
