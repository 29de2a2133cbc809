"""The description (several messages until "done") and the evidence step (files and a note)."""

from __future__ import annotations

from typing import Any

from handlers.form import (
    Step,
    choices_for,
    has_evidence,
)
from handlers.model import (
    FetchMedia,
    MediaRef,
)
from handlers.steps.quick import choice_item, with_cancel
from handlers.steps.turn import Turn, refuse_media, refuse_text


def append_description(turn: Turn, step: Step, body: str) -> None:
    limits = turn.ctx.limits
    if refuse_text(turn, body, limits.max_text_chars):
        return
    key = step.field or step.id
    sofar = turn.state["form"].get(key) or ""
    joined, parts = in_sent_order(turn, key, sofar, body)
    if len(joined) > limits.max_description_chars:
        turn.say(
            "err.description_full",
            limit=limits.max_description_chars,
            room=limits.max_description_chars - len(sofar),
        )
        return
    turn.state["form"][key] = joined
    turn.state.setdefault("parts", {})[key] = parts
    items = [choice_item(turn, step, c) for c in choices_for(step, turn.state)]
    turn.say(
        "description.added",
        with_cancel(turn, items),
        length=len(joined),
        limit=limits.max_description_chars,
    )


def in_sent_order(turn: Turn, key: str, sofar: str, body: str) -> tuple[str, list[list[int]]]:
    """``sofar`` with ``body`` put where the reporter sent it: LINE may deliver two messages
    out of order, and each carries the time it was sent. The draft keeps ``[sent_ms, length]``
    of each part (``state["parts"]``); text it does not describe (cleared, or from before)
    counts as one part sent before anything new."""
    known = turn.state.get("parts", {}).get(key)
    lengths = [n for _, n in known] if isinstance(known, list) else []
    if not sofar:
        known = []
    elif not lengths or sum(lengths) + len(lengths) - 1 != len(sofar):
        known = [[0, len(sofar)]]
    texts, at = [], 0
    for _, length in known:
        texts.append(sofar[at : at + length])
        at += length + 1
    stamps = [int(s) for s, _ in known]
    sent = turn.ctx.sent_ms
    stamp = sent if sent is not None else max(stamps, default=0)
    place = sum(1 for s in stamps if s <= stamp)  # equal times keep the order of arrival
    texts.insert(place, body)
    stamps.insert(place, stamp)
    return "\n".join(texts), [[s, len(t)] for s, t in zip(stamps, texts, strict=True)]


def append_evidence_note(turn: Turn, step: Step, body: str) -> None:
    limit = turn.ctx.limits.max_text_chars
    if refuse_text(turn, body, limit):
        return
    key = step.field or step.id
    sofar = turn.state["form"].get(key) or ""
    joined = f"{sofar}\n{body}" if sofar else body
    if len(joined) > limit:
        turn.say("err.too_long", limit=limit, length=len(joined))
        return
    turn.state["form"][key] = joined
    turn.say("evidence.noted", evidence_quick(turn, step))


def evidence_quick(turn: Turn, step: Step) -> list[dict[str, Any]]:
    choices = [
        c
        for c in choices_for(step, turn.state)
        if c.value != "none" or not has_evidence(turn.state)
    ]
    return with_cancel(turn, [choice_item(turn, step, c) for c in choices])


def evidence_media(turn: Turn, step: Step, media: MediaRef) -> None:
    count = int(turn.state.get("media_count") or 0)
    if refuse_media(turn, media, count, evidence_quick(turn, step)):
        return
    turn.effects.append(FetchMedia(media, draft_id=turn.state["draft_id"]))
    turn.state["media_count"] = count + 1
    turn.say(
        "evidence.received",
        evidence_quick(turn, step),
        count=count + 1,
        max=turn.ctx.limits.max_media_items,
    )
