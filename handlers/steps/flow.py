"""The form's dispatcher: which module answers and prompts each kind of step.

The table :data:`ANSWERS` maps a step kind to its handler, the way python-telegram-bot's
ConversationHandler maps a state to its handlers; the steps themselves are data in
:mod:`handlers.form`."""

from __future__ import annotations

from typing import Any

from handlers.form import (
    Choice,
    Step,
    choices_for,
)
from handlers.messages import (
    read_postback,
    text,
)
from handlers.model import (
    Incoming,
    Message,
)
from handlers.steps.agency import answer_agency, answer_district, district_page
from handlers.steps.choice import answer_choice, answer_fixed
from handlers.steps.evidence import (
    append_description,
    append_evidence_note,
    evidence_media,
    evidence_quick,
)
from handlers.steps.language import LEGACY_STEP, SWITCH_AT, switch_item, switch_language
from handlers.steps.quick import choice_item, norm, says, with_cancel
from handlers.steps.review import answer_review, review_choices, review_message
from handlers.steps.turn import Turn, current, reask
from handlers.steps.typed import answer_date, answer_text
from handlers.texts import t


def form_event(turn: Turn, incoming: Incoming) -> None:
    step = current(turn)
    if incoming.kind == "postback":
        pb = read_postback(incoming.data)
        if pb.get("s") == LEGACY_STEP and step.id != LEGACY_STEP:
            switch_language(turn, pb.get("v", ""))
            return
        if pb.get("s") != step.id:
            reask(turn)  # a button from an earlier question, or garbage
            return
        answer(turn, step, pb.get("v"), None, pb.get("p"))
    elif incoming.kind == "text":
        said = incoming.text or ""
        choice = typed_choice(turn, step, said)
        answer(turn, step, choice.value if choice else None, said, None)
    elif incoming.kind == "media" and incoming.media is not None:
        if step.kind == "media":
            evidence_media(turn, step, incoming.media)
        else:
            turn.say("err.media_not_now")
            reask(turn)
    else:
        turn.say("err.choose" if step.kind in ("choice", "review") else "err.answer_in_text")
        reask(turn)


def choices(turn: Turn, step: Step) -> tuple[Choice, ...]:
    if step.kind == "review":
        return review_choices(turn)
    return choices_for(step, turn.state)


def typed_choice(turn: Turn, step: Step, said: str) -> Choice | None:
    for choice in choices(turn, step):
        if says(said, choice.button_key, choice.label_key) or norm(said) == choice.value:
            return choice
    return None


def answer(turn: Turn, step: Step, value: str | None, said: str | None, page: str | None) -> None:
    """Apply an answer (a choice ``value`` and/or typed text ``said``) to ``step``."""
    chosen = next((c for c in choices(turn, step) if value is not None and c.value == value), None)
    kind = step.kind
    if kind == "choice":
        answer_choice(turn, step, chosen, said)
    elif kind == "review":
        answer_review(turn, chosen)
    elif kind == "agency":
        answer_agency(turn, step, chosen, said)
    elif kind == "district":
        answer_district(turn, step, value, said, page)
    elif chosen is not None:
        answer_fixed(turn, step, chosen)
    elif said is None:
        reask(turn)
    elif kind == "multi_text":
        append_description(turn, step, said.strip())
    elif kind == "media":
        append_evidence_note(turn, step, said.strip())
    elif kind == "date":
        answer_date(turn, step, said.strip())
    else:
        answer_text(turn, step, said.strip())


def prompt(turn: Turn, step: Step) -> list[Message]:
    lang = turn.lang
    if step.kind == "review":
        return [review_message(turn)]
    if step.kind == "district":
        return [text(t(lang, step.prompt_key), district_page(turn, step, 0))]
    if step.kind == "media":
        return [
            text(
                t(lang, step.prompt_key, max=turn.ctx.limits.max_media_items),
                evidence_quick(turn, step),
            )
        ]
    items = [choice_item(turn, step, c) for c in choices(turn, step)]
    if step.kind == "multi_text" and not turn.state["form"].get(step.field or ""):
        items = items[:1]  # "clear" means nothing yet
    if step.id == SWITCH_AT:
        items.append(switch_item(turn))
    kw: dict[str, Any] = {}
    if step.kind == "multi_text":
        kw["limit"] = turn.ctx.limits.max_description_chars
    return [text(t(lang, step.prompt_key, **kw), with_cancel(turn, items))]
