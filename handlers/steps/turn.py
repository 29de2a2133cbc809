"""One event being handled (:class:`Turn`), moving through the form, and shared checks.

The form's navigation (advance, re-ask, complete a step) lives here; the prompt for a
step is :func:`handlers.steps.flow.prompt`, handed in as ``Turn.prompter`` so that the
step modules need not import the dispatcher that imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers import identity
from handlers.form import (
    STEP_BY_ID,
    Step,
    next_step,
)
from handlers.messages import (
    finish,
    text,
)
from handlers.model import (
    Context,
    DiscardDraft,
    Effect,
    MediaRef,
    Message,
    Result,
    State,
)
from handlers.steps.state import idle, is_blank_idle, parse_instant, state_lang
from handlers.texts import t


@dataclass
class Turn:
    """One event being handled: the working copy of the state and what goes out."""

    state: State
    ctx: Context
    prompter: Callable[[Turn, Step], list[Message]]  # handlers.steps.flow.prompt
    replies: list[Message] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    followup_expired: bool = False

    @property
    def lang(self) -> str:
        return state_lang(self.state)

    def say(self, key: str, quick: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        self.replies.append(text(t(self.lang, key, **kw), quick))

    def result(self) -> Result:
        if self.state.get("mode") == "idle":
            # An idle state keeps no instant: after a report it would be the filing time.
            self.state.pop("updated_at", None)
        else:
            self.state["updated_at"] = self.ctx.now.isoformat()
        new_state: State | None = self.state
        if is_blank_idle(self.state):
            new_state = None  # nothing worth keeping: no conversation row at all
        return Result(new_state, finish(self.replies), self.effects)


def expire(turn: Turn) -> None:
    """Stale drafts are discarded, stale follow-ups end."""
    st, now, limits = turn.state, turn.ctx.now, turn.ctx.limits
    last = parse_instant(st.get("updated_at"))
    if st["mode"] == "form" and (last is None or now - last > limits.draft_ttl):
        drop_draft(turn)
        turn.say("draft.expired")
    elif st["mode"] == "followup":
        since = parse_instant(st.get("followup_at"))
        if since is None or now - since > limits.followup_ttl:
            turn.state = idle(turn.lang)
            turn.followup_expired = True


def drop_draft(turn: Turn) -> None:
    st = turn.state
    # Only media leaves anything behind outside the state (fetched under the draft id).
    if int(st.get("media_count") or 0) > 0 and isinstance(st.get("draft_id"), str):
        turn.effects.append(DiscardDraft(st["draft_id"]))
    turn.state = idle(turn.lang)


def current(turn: Turn) -> Step:
    return STEP_BY_ID[turn.state["step"]]


def advance(turn: Turn) -> None:
    step = next_step(turn.state)
    turn.state["step"] = step.id
    turn.replies.extend(turn.prompter(turn, step))


def reask(turn: Turn) -> None:
    turn.replies.extend(turn.prompter(turn, current(turn)))


def complete(turn: Turn, step: Step, value: Any) -> None:
    st = turn.state
    if step.field in identity.FIELDS and isinstance(value, str):
        # Sealed now, validated before: the draft never holds the answer in the clear.
        choice = step.kind == "choice" and any(c.value == value for c in step.choices)
        value = identity.seal_answer(turn.ctx, st["draft_id"], step.field, value, choice)
    if step.field:
        st["form"][step.field] = value
    if step.id not in st["done"]:
        st["done"].append(step.id)
    advance(turn)


def text_limit(turn: Turn, step: Step) -> int:
    limits = turn.ctx.limits
    return limits.max_short_chars if step.limit == "short" else limits.max_text_chars


def refuse_text(turn: Turn, body: str, limit: int) -> bool:
    """Over-long or empty input changes nothing and says why."""
    if not body:
        turn.say("err.empty")
        return True
    if len(body) > limit:
        turn.say("err.too_long", limit=limit, length=len(body))
        return True
    return False


def refuse_media(
    turn: Turn, media: MediaRef, count: int, quick: list[dict[str, Any]] | None = None
) -> bool:
    limits = turn.ctx.limits
    if count >= limits.max_media_items:
        turn.say("err.too_many_media", quick, max=limits.max_media_items)
        return True
    if media.size is not None and media.size > limits.max_file_bytes:
        turn.say("err.file_too_big", quick, max_mb=limits.max_file_bytes // (1024 * 1024))
        return True
    return False


def catalogue_or(lang: str, key: str, fallback: str) -> str:
    try:
        return t(lang, key)
    except KeyError:
        return fallback
