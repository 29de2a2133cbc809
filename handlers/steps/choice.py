"""Choice steps (language, intro, identity mode, category, agency kind, relation,
notify, anonymous bar) and the fixed quick replies of text steps (skip, done, clear)."""

from __future__ import annotations

from handlers.form import (
    CHOICE_VALUES,
    Choice,
    Step,
    choices_for,
)
from handlers.steps.quick import choice_item, with_cancel
from handlers.steps.turn import Turn, advance, complete, reask
from handlers.steps.typed import answer_date, answer_text
from handlers.texts import t


def answer_choice(turn: Turn, step: Step, chosen: Choice | None, said: str | None) -> None:
    if chosen is None:
        if step.free_text and said is not None and said.strip():
            answer_text(turn, step, said.strip())
            return
        turn.say("err.choose")
        reask(turn)
        return
    if chosen.reopen:
        # "Add evidence" and the like: ask those steps again, then come back here.
        turn.state["done"] = [s for s in turn.state["done"] if s not in chosen.reopen]
        advance(turn)
        return
    if step.field == "lang":
        turn.state["lang"] = chosen.value
    value = CHOICE_VALUES.get(step.id, {}).get(chosen.value, chosen.value)
    complete(turn, step, value)


def answer_fixed(turn: Turn, step: Step, chosen: Choice) -> None:
    """A quick reply on a text-like step: skip, done, no evidence, clear, today, yesterday."""
    form = turn.state["form"]
    if chosen.value == "skip":
        complete(turn, step, None)
    elif chosen.value == "clear":
        form.pop(step.field or "", None)
        turn.say("description.cleared")
        reask(turn)
    elif chosen.value == "ok" and isinstance(turn.state.get("when_to_check"), dict):
        complete(turn, step, turn.state.pop("when_to_check"))
    elif chosen.value in ("ok", "retry"):
        turn.state.pop("when_to_check", None)
        items = [choice_item(turn, step, c) for c in choices_for(step, turn.state)]
        turn.say("date.retry", with_cancel(turn, items))
    elif chosen.value in ("today", "yesterday"):
        answer_date(turn, step, t(turn.lang, chosen.label_key))
    elif step.kind == "multi_text" and not form.get(step.field or ""):
        turn.say("err.description_empty")
        reask(turn)
    elif chosen.value == "none":
        complete(turn, step, form.get(step.field or ""))
    else:  # done
        complete(turn, step, form.get(step.field or ""))
