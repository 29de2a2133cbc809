"""Where the official works: the agency step (a district office, a BMA department, or a
typed name of either) and the district step (pages of the 50 districts, or a typed name)."""

from __future__ import annotations

import math
import re
from typing import Any

from handlers import districts
from handlers.form import DEPARTMENTS, STEP_BY_ID, Choice, Step
from handlers.messages import (
    postback_data,
    quick_item,
)
from handlers.steps.turn import Turn, complete, reask, refuse_text
from handlers.texts import t, variants

DISTRICT_PAGE = 11  # + "more" + "type the name" = 13 quick replies, LINE's maximum
MAX_CANDIDATES = 11


def sorted_districts(lang: str) -> list[districts.District]:
    return sorted(districts.DISTRICTS, key=lambda d: d.name_th if lang == "th" else d.name_en)


def district_name(lang: str, district: districts.District) -> str:
    return district.name_th if lang == "th" else district.name_en


def district_item(turn: Turn, step: Step, district: districts.District) -> dict[str, Any]:
    name = district_name(turn.lang, district)
    return quick_item(
        name, postback_data(step.id, district.code), t(turn.lang, "fmt.district", name=name)
    )


def district_tail(turn: Turn, step: Step, next_page: int) -> list[dict[str, Any]]:
    lang = turn.lang
    return [
        quick_item(
            t(lang, "btn.district.more"),
            postback_data(step.id, p=str(next_page)),
            t(lang, "label.district.more"),
        ),
        quick_item(
            t(lang, "btn.district.type"),
            postback_data(step.id, "type"),
            t(lang, "label.district.type"),
        ),
    ]


def district_page(turn: Turn, step: Step, page: int) -> list[dict[str, Any]]:
    ordered = sorted_districts(turn.lang)
    pages = district_pages()
    page = page % pages
    chunk = ordered[page * DISTRICT_PAGE : (page + 1) * DISTRICT_PAGE]
    items = [district_item(turn, step, d) for d in chunk]
    return items + district_tail(turn, step, (page + 1) % pages)


def district_pages() -> int:
    return math.ceil(len(districts.DISTRICTS) / DISTRICT_PAGE)


def answer_district(
    turn: Turn, step: Step, value: str | None, said: str | None, page: str | None
) -> None:
    if page is not None:
        number = (int(page) if page.isdigit() else 0) % district_pages()
        turn.say(
            "district.page",
            district_page(turn, step, number),
            page=number + 1,
            pages=district_pages(),
        )
        return
    if value == "type":
        turn.say("district.type_name")
        return
    if value is not None:
        chosen = districts.BY_CODE.get(value)
        if chosen is None:
            reask(turn)
        else:
            choose_district(turn, step, chosen)
        return
    body = (said or "").strip()
    if refuse_text(turn, body, turn.ctx.limits.max_short_chars):
        return
    found = districts.match(body)
    if len(found) == 1:
        choose_district(turn, step, found[0])
    elif found:
        items = [district_item(turn, step, d) for d in found[:MAX_CANDIDATES]]
        turn.say("district.ambiguous", items + district_tail(turn, step, 0))
    else:
        turn.say("district.none", district_page(turn, step, 0), typed=body)


def choose_district(turn: Turn, step: Step, chosen: districts.District) -> None:
    turn.say("district.chosen", name=district_name(turn.lang, chosen))
    complete(turn, step, chosen.code)


# --- the agency step: a district office, a department, or a typed name -----------------

_DEPT_AFFIX = re.compile(
    "|".join(
        rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w)
        for w in sorted(variants("kw.dept_affix"), key=len, reverse=True)
    )
)
_NOT_KEY = re.compile(r"[\s.,/()\-]+")


def _dept_key(text: str) -> str:
    return _NOT_KEY.sub("", _DEPT_AFFIX.sub(" ", text.casefold()))


def match_department(text: str) -> str | None:
    """The department (a key of :data:`handlers.form.DEPARTMENTS`) a typed name means."""
    key = _dept_key(text)
    if not key:
        return None
    for dept in DEPARTMENTS:
        names = [*variants(f"dept.{dept}"), *variants(f"btn.dept.{dept}")]
        names += variants(f"kw.dept.{dept}")
        if key in {_dept_key(n) for n in names}:
            return dept
    return None


def answer_agency(turn: Turn, step: Step, chosen: Choice | None, said: str | None) -> None:
    """A button, or a typed district ("เขตบางรัก", "Chatuchak district office") or agency."""
    form = turn.state["form"]
    if chosen is not None and chosen.value.startswith("dept."):
        _choose_department(turn, step, chosen.value.removeprefix("dept."))
    elif chosen is not None:
        form.pop("agency_dept", None)
        complete(turn, step, chosen.value)
    else:
        body = (said or "").strip()
        if refuse_text(turn, body, turn.ctx.limits.max_short_chars):
            reask(turn)
            return
        dept = match_department(body)
        found = [] if dept else districts.match(body)
        if dept:
            _choose_department(turn, step, dept)
        elif found:
            _typed_district(turn, step, found)
        else:
            # Any other name is taken as the agency itself, as the "other" step would.
            form.pop("agency_dept", None)
            form["agency_name"] = body
            _mark_done(turn, "agency_name")
            turn.say("agency.noted", name=body)
            complete(turn, step, "other")


def _mark_done(turn: Turn, step_id: str) -> None:
    if step_id not in turn.state["done"]:
        turn.state["done"].append(step_id)


def _choose_department(turn: Turn, step: Step, dept: str) -> None:
    form = turn.state["form"]
    form["agency_dept"] = dept
    form["agency_name"] = t("th", f"dept.{dept}")  # staff read the official Thai name
    _mark_done(turn, "agency_name")
    turn.say("agency.noted", name=t(turn.lang, f"dept.{dept}"))
    complete(turn, step, "other")


def _typed_district(turn: Turn, step: Step, found: list[districts.District]) -> None:
    form = turn.state["form"]
    form.pop("agency_dept", None)
    district_step = STEP_BY_ID["district"]
    if len(found) == 1:
        form["agency_kind"] = "district"
        _mark_done(turn, step.id)
        choose_district(turn, district_step, found[0])
        return
    # Several districts fit: the district step asks which, with those as buttons.
    form["agency_kind"] = "district"
    _mark_done(turn, step.id)
    turn.state["step"] = district_step.id
    items = [district_item(turn, district_step, d) for d in found[:MAX_CANDIDATES]]
    turn.say("district.ambiguous", items + district_tail(turn, district_step, 0))
