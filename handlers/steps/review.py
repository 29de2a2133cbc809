"""The review card with its edits, and the submission of the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import districts, flex, identity
from handlers.dates import show_date
from handlers.form import (
    CHOICE_VALUES,
    STEP_BY_ID,
    STEPS,
    Choice,
    Step,
    applies,
    edit_groups,
    is_confidential,
    meets_anonymous_bar,
    steps_in_group,
)
from handlers.messages import flex as flex_message
from handlers.messages import (
    postback_data,
)
from handlers.model import (
    Message,
    State,
    SubmitReport,
)
from handlers.steps.agency import district_name
from handlers.steps.quick import choice_item, with_cancel
from handlers.steps.state import idle
from handlers.steps.turn import Turn, advance, reask
from handlers.texts import t

SUMMARY_CHARS = 300  # long answers are cut in the review card


def review_choices(turn: Turn) -> tuple[Choice, ...]:
    edits = tuple(
        Choice(f"edit.{group}", f"btn.edit.{group}", f"label.edit.{group}")
        for group, _first in edit_groups(turn.state)
    )
    return (Choice("confirm", "btn.review.confirm", "label.review.confirm"), *edits)


def answer_review(turn: Turn, chosen: Choice | None) -> None:
    if chosen is None:
        turn.say("err.choose")
        reask(turn)
    elif chosen.value == "confirm":
        submit(turn)
    else:
        group = chosen.value.removeprefix("edit.")
        reopen = set(steps_in_group(group))
        turn.state["done"] = [s for s in turn.state["done"] if s not in reopen]
        advance(turn)


def submit(turn: Turn) -> None:
    st = turn.state
    form: dict[str, Any] = st["form"]
    confidential = is_confidential(st)
    turn.effects.append(
        SubmitReport(
            lang=turn.lang,
            anonymous=not confidential,
            report=report_content(st),
            identity=identity.sealed_identity(form) if confidential else None,
            notify=form.get("notify") is True,
            meets_anonymous_bar=meets_anonymous_bar(st),
            draft_id=st["draft_id"],
        )
    )
    # The shell replies with handlers.receipt once the case exists.
    turn.state = idle(turn.lang)


def report_content(st: State) -> dict[str, Any]:
    """The case content: everything but the reporter's identity."""
    form: dict[str, Any] = st["form"]
    agency: dict[str, Any]
    district = districts.BY_CODE.get(str(form.get("district")))
    if form.get("agency_kind") == "district" and district is not None:
        agency = {
            "kind": "district",
            "district_code": district.code,
            "name_th": district.name_th,
            "name_en": district.name_en,
        }
    else:
        agency = {"kind": "other", "name": form.get("agency_name")}
    return {
        "category": form.get("category"),
        "agency": agency,
        "official": {"name": form.get("official_name"), "position": form.get("official_position")},
        "description": form.get("description"),
        "when": form.get("when"),
        "where": form.get("where"),
        "evidence_note": form.get("evidence_note"),
        "witnesses": form.get("witnesses"),
    }


def shorten(value: str) -> str:
    return value if len(value) <= SUMMARY_CHARS else value[: SUMMARY_CHARS - 1] + "…"


def summary_value(turn: Turn, step: Step) -> str:
    lang, st = turn.lang, turn.state
    form: dict[str, Any] = st["form"]
    raw = form.get(step.field or "")
    if step.id == "agency":
        district = districts.BY_CODE.get(str(form.get("district")))
        if form.get("agency_kind") == "district" and district is not None:
            return t(lang, "fmt.district", name=district_name(lang, district))
        if form.get("agency_dept"):
            return t(lang, f"dept.{form['agency_dept']}")
        return str(form.get("agency_name") or "-")
    if step.id == "official_name":
        parts = [p for p in (form.get("official_name"), form.get("official_position")) if p]
        return ", ".join(parts) if parts else t(lang, "sum.not_given")
    if step.id == "evidence":
        files = t(lang, "sum.files", count=int(st.get("media_count") or 0))
        note = str(raw) if raw else ""
        return shorten(f"{files}\n{note}".strip())
    if step.id == "when" and isinstance(raw, dict):
        parsed = raw.get("date")
        shown = str(raw.get("text") or "")
        if isinstance(parsed, str):
            shown = show_date(lang, datetime.fromisoformat(parsed).date())
        return shown or "-"
    if step.field in identity.FIELDS:
        chosen = raw.get("choice") if isinstance(raw, dict) else None
        choice = next((c for c in step.choices if chosen and c.value == chosen), None)
        return t(lang, choice.label_key) if choice else identity.shown(raw)
    if step.kind == "choice" and step.field:
        stored = {v: k for k, v in CHOICE_VALUES.get(step.id, {}).items()}
        key = stored.get(raw, raw)
        choice = next((c for c in step.choices if c.value == key), None)
        if choice is not None:
            return t(lang, choice.label_key)
    if raw is None or raw == "":
        return t(lang, "sum.not_given")
    return shorten(str(raw))


def review_message(turn: Turn) -> Message:
    lang, st = turn.lang, turn.state
    rows = [
        (t(lang, step.summary_key), summary_value(turn, step))
        for step in STEPS
        if step.summary_key and applies(step, st)
    ]
    warning = None
    if st["form"].get("anonymous") is True and not meets_anonymous_bar(st):
        warning = t(lang, "review.below_bar")
    step = STEP_BY_ID["review"]
    bubble = flex.review_bubble(lang, rows, postback_data(step.id, "confirm"), warning)
    items = [choice_item(turn, step, c) for c in review_choices(turn)]
    return flex_message(t(lang, step.prompt_key), bubble, with_cancel(turn, items))
