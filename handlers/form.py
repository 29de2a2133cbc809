"""The report form as data: one table of steps, read by :mod:`handlers.engine`.

Adding or reordering a question is editing :data:`STEPS` (and the text catalogue), not
writing a new branch in the engine. A step is asked when its ``condition`` holds and it
is not yet answered; the review step is never "answered", so the form always ends there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from handlers.model import State
from store.domain import CATEGORIES

StepKind = Literal[
    "choice",  # one of ``choices`` (quick replies); free text too if ``free_text``
    "text",  # one required free-text answer
    "optional_text",  # free text or the "skip" choice
    "multi_text",  # several messages appended, until "done"
    "date",  # a date or an approximate time, see handlers.dates
    "agency",  # a district office, a BMA department (choices) or a typed name of either
    "district",  # one of the 50 districts, by pages of quick replies or typed
    "media",  # photos/video/audio/files and/or a description, until "done"
    "review",  # the summary, with edits and "confirm and send"
]
Limit = Literal["short", "text"]
Validator = Callable[[str], bool]
Condition = Callable[[State], bool]


@dataclass(frozen=True)
class Choice:
    """A fixed answer: ``value`` travels in the postback; labels come from the catalogue.

    ``button_key`` is the quick-reply label (≤ 20 characters), ``label_key`` the full
    wording echoed into the chat. ``reopen`` lists steps to ask again (e.g. "add
    evidence" from the 8.1.1 warning); such a choice leaves the current step unanswered.
    """

    value: str
    button_key: str
    label_key: str
    when: Condition | None = None
    reopen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One question of the form."""

    id: str
    kind: StepKind
    prompt_key: str
    field: str | None = None
    choices: tuple[Choice, ...] = ()
    condition: Condition | None = None
    limit: Limit = "text"
    validator: Validator | None = None
    error_key: str | None = None  # shown when ``validator`` refuses the answer
    free_text: bool = False
    edit: str | None = None  # the review's "edit …" group this step belongs to
    summary_key: str | None = None  # the row label in the review summary


# --- categories (DOMAIN.md) ----------------------------------------------------------

RELATIONS: tuple[str, ...] = ("victim", "witness", "insider", "other")

# The BMA departments (สำนัก) whose officials are most often reported (DOMAIN.md: public
# works, city law enforcement, schools, environment; plus the large service departments).
# Names are in the catalogue as ``dept.<key>``, short button labels as ``btn.dept.<key>``.
DEPARTMENTS: tuple[str, ...] = (
    "public_works",
    "city_law",
    "education",
    "environment",
    "drainage",
    "traffic",
    "health",
    "medical",
    "finance",
)


# --- validators and conditions -----------------------------------------------------------

_PHONE_CHARS = re.compile(r"[\s\-().]")
_THAI_PHONE = re.compile(r"^0\d{8,9}$")
_INTL_PHONE = re.compile(r"^\+66\d{8,9}$")
_EMAIL = re.compile(r"[^@\s:：]+@[^@\s]+\.[^@\s]+")
# A number as people write it inside a sentence: "phone 081 234 5678", "โทร 081-234-5678 ค่ะ".
_PHONE_IN_TEXT = re.compile(r"(?<![\d+])(?:\+66|0)[\d\s\-().]{7,16}\d(?!\d)")


def valid_contact(text: str) -> bool:
    """A Thai phone number (0XXXXXXXXX, +66…, dashes/spaces allowed) or an e-mail address,
    alone or with words around it."""
    value = text.strip()
    if _EMAIL.search(value):
        return True
    return any(
        _THAI_PHONE.match(digits) or _INTL_PHONE.match(digits)
        for digits in (_PHONE_CHARS.sub("", m) for m in _PHONE_IN_TEXT.findall(value))
    )


def _form(state: State) -> dict[str, Any]:
    form = state.get("form")
    return form if isinstance(form, dict) else {}


def is_confidential(state: State) -> bool:
    """The reporter chose to give their name, sealed (seed 003, 8.1.2)."""
    return _form(state).get("anonymous") is False


def has_evidence(state: State) -> bool:
    """Media was sent or evidence was described."""
    return int(state.get("media_count") or 0) > 0 or bool(_form(state).get("evidence_note"))


def has_witnesses(state: State) -> bool:
    """Witnesses were named."""
    return bool(_form(state).get("witnesses"))


def meets_anonymous_bar(state: State) -> bool:
    """Seed 003, 8.1.1: clear evidence and named witnesses."""
    return has_evidence(state) and has_witnesses(state)


def _below_anonymous_bar(state: State) -> bool:
    return _form(state).get("anonymous") is True and not meets_anonymous_bar(state)


def _date_to_check(state: State) -> bool:
    return isinstance(state.get("when_to_check"), dict)


def _no_date_to_check(state: State) -> bool:
    return not _date_to_check(state)


def _agency_is(kind: str) -> Condition:
    return lambda state: _form(state).get("agency_kind") == kind


def _choice(step: str, value: str) -> Choice:
    return Choice(value, f"btn.{step}.{value}", f"label.{step}.{value}")


def _skip(step: str) -> Choice:
    return Choice("skip", "btn.skip", "label.skip")


_DONE = Choice("done", "btn.done", "label.done")


# --- the form ---------------------------------------------------------------------

STEPS: tuple[Step, ...] = (
    Step(
        "language",
        "choice",
        "step.language",
        field="lang",
        choices=(_choice("language", "th"), _choice("language", "en")),
    ),
    Step("intro", "choice", "step.intro", field="intro", choices=(_choice("intro", "ok"),)),
    Step(
        "identity_mode",
        "choice",
        "step.identity_mode",
        field="anonymous",
        choices=(_choice("identity_mode", "anonymous"), _choice("identity_mode", "confidential")),
        edit="identity_mode",
        summary_key="sum.identity_mode",
    ),
    Step(
        "category",
        "choice",
        "step.category",
        field="category",
        choices=tuple(Choice(c, f"btn.cat.{c}", f"cat.{c}") for c in CATEGORIES),
        edit="category",
        summary_key="sum.category",
    ),
    Step(
        "agency",
        "agency",
        "step.agency",
        field="agency_kind",
        choices=(
            _choice("agency", "district"),
            *(Choice(f"dept.{d}", f"btn.dept.{d}", f"dept.{d}") for d in DEPARTMENTS),
            _choice("agency", "other"),
        ),
        limit="short",
        edit="agency",
        summary_key="sum.agency",
    ),
    Step(
        "district",
        "district",
        "step.district",
        field="district",
        condition=_agency_is("district"),
        edit="agency",
    ),
    Step(
        "agency_name",
        "text",
        "step.agency_name",
        field="agency_name",
        condition=_agency_is("other"),
        limit="short",
        edit="agency",
    ),
    Step(
        "official_name",
        "optional_text",
        "step.official_name",
        field="official_name",
        choices=(_skip("official_name"),),
        limit="short",
        edit="official",
        summary_key="sum.official",
    ),
    Step(
        "official_position",
        "optional_text",
        "step.official_position",
        field="official_position",
        choices=(_skip("official_position"),),
        limit="short",
        edit="official",
    ),
    Step(
        "description",
        "multi_text",
        "step.description",
        field="description",
        choices=(_DONE, Choice("clear", "btn.clear", "label.clear")),
        edit="description",
        summary_key="sum.description",
    ),
    Step(
        "when",
        "date",
        "step.when",
        field="when",
        choices=(
            Choice("today", "btn.today", "label.today", when=_no_date_to_check),
            Choice("yesterday", "btn.yesterday", "label.yesterday", when=_no_date_to_check),
            # A relative date ("last Tuesday") is shown back as understood, to confirm.
            Choice("ok", "btn.when.ok", "label.when.ok", when=_date_to_check),
            Choice("retry", "btn.when.retry", "label.when.retry", when=_date_to_check),
        ),
        limit="short",
        edit="when",
        summary_key="sum.when",
    ),
    Step(
        "where",
        "text",
        "step.where",
        field="where",
        limit="short",
        edit="where",
        summary_key="sum.where",
    ),
    Step(
        "evidence",
        "media",
        "step.evidence",
        field="evidence_note",
        choices=(_DONE, Choice("none", "btn.no_evidence", "label.no_evidence")),
        edit="evidence",
        summary_key="sum.evidence",
    ),
    Step(
        "witnesses",
        "optional_text",
        "step.witnesses",
        field="witnesses",
        choices=(_skip("witnesses"),),
        edit="witnesses",
        summary_key="sum.witnesses",
    ),
    Step(
        "reporter_name",
        "text",
        "step.reporter_name",
        field="reporter_name",
        condition=is_confidential,
        limit="short",
        edit="identity",
        summary_key="sum.reporter_name",
    ),
    Step(
        "reporter_contact",
        "text",
        "step.reporter_contact",
        field="reporter_contact",
        condition=is_confidential,
        limit="short",
        validator=valid_contact,
        error_key="err.contact",
        edit="identity",
        summary_key="sum.reporter_contact",
    ),
    Step(
        "reporter_relation",
        "choice",
        "step.reporter_relation",
        field="reporter_relation",
        choices=tuple(_choice("reporter_relation", r) for r in RELATIONS),
        condition=is_confidential,
        limit="short",
        free_text=True,
        edit="identity",
        summary_key="sum.reporter_relation",
    ),
    Step(
        "notify",
        "choice",
        "step.notify",
        field="notify",
        choices=(_choice("notify", "yes"), _choice("notify", "no")),
        edit="notify",
        summary_key="sum.notify",
    ),
    Step(
        "anonymous_bar",
        "choice",
        "step.anonymous_bar",
        field="anonymous_bar",
        condition=_below_anonymous_bar,
        choices=(
            Choice(
                "add_evidence",
                "btn.anonymous_bar.add_evidence",
                "label.anonymous_bar.add_evidence",
                when=lambda state: not has_evidence(state),
                reopen=("evidence",),
            ),
            Choice(
                "add_witnesses",
                "btn.anonymous_bar.add_witnesses",
                "label.anonymous_bar.add_witnesses",
                when=lambda state: not has_witnesses(state),
                reopen=("witnesses",),
            ),
            _choice("anonymous_bar", "submit"),
        ),
    ),
    Step("review", "review", "step.review"),
)

STEP_BY_ID: dict[str, Step] = {s.id: s for s in STEPS}
FIRST_STEP = STEPS[0].id

# Values stored for choice steps whose answer is not a plain string.
CHOICE_VALUES: dict[str, dict[str, Any]] = {
    "identity_mode": {"anonymous": True, "confidential": False},
    "notify": {"yes": True, "no": False},
    "intro": {"ok": True},
}


def applies(step: Step, state: State) -> bool:
    """Whether ``step`` is part of this reporter's form, given the answers so far."""
    return step.condition is None or step.condition(state)


def choices_for(step: Step, state: State) -> tuple[Choice, ...]:
    """The choices of ``step`` that make sense now (e.g. no "add evidence" once given)."""
    return tuple(c for c in step.choices if c.when is None or c.when(state))


def next_step(state: State) -> Step:
    """The first step that applies and is not yet answered; the review at the latest."""
    done = set(state.get("done") or ())
    for step in STEPS:
        if step.id not in done and applies(step, state):
            return step
    return STEPS[-1]


def edit_groups(state: State) -> list[tuple[str, str]]:
    """The review's "edit …" targets that apply: (group, first step id), in form order."""
    groups: list[tuple[str, str]] = []
    seen: set[str] = set()
    for step in STEPS:
        if step.edit and step.edit not in seen and applies(step, state):
            seen.add(step.edit)
            groups.append((step.edit, step.id))
    return groups


def steps_in_group(group: str) -> tuple[str, ...]:
    """All step ids edited together under ``group``."""
    return tuple(s.id for s in STEPS if s.edit == group)
