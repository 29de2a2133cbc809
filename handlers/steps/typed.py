"""Typed answers: free text with its validator (e.g. the contact), and the date step."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.dates import bangkok_today, parse_when, understood
from handlers.form import (
    Step,
    choices_for,
)
from handlers.steps.quick import choice_item, with_cancel
from handlers.steps.turn import Turn, complete, reask, refuse_text, text_limit


def answer_text(turn: Turn, step: Step, body: str) -> None:
    if refuse_text(turn, body, text_limit(turn, step)):
        reask(turn)
        return
    if step.validator is not None and not step.validator(body):
        turn.say(step.error_key or "err.invalid")
        reask(turn)
        return
    complete(turn, step, body)


def answer_date(turn: Turn, step: Step, body: str) -> None:
    if refuse_text(turn, body, text_limit(turn, step)):
        reask(turn)
        return
    # "Yesterday" means the day before the reporter sent it, even if LINE redelivered late.
    sent = turn.ctx.now
    if turn.ctx.sent_ms is not None:
        sent = datetime.fromtimestamp(turn.ctx.sent_ms / 1000, UTC)
    today = turn.ctx.today_bangkok or bangkok_today(sent)
    answer = parse_when(body, today)
    turn.state.pop("when_to_check", None)
    if answer.error:
        turn.say(f"err.date_{answer.error}")
        reask(turn)
        return
    if answer.relative:
        # Worked out by us, so shown back first: the reporter confirms or types it again.
        shown = understood(turn.lang, answer)
        turn.state["when_to_check"] = {
            "text": f"{shown} ({answer.text})",
            "date": answer.date.isoformat() if answer.date else None,
        }
        items = [choice_item(turn, step, c) for c in choices_for(step, turn.state)]
        turn.say("date.check", with_cancel(turn, items), understood=shown)
        return
    complete(
        turn, step, {"text": answer.text, "date": answer.date.isoformat() if answer.date else None}
    )
