"""A confidential reporter's identity in the draft: sealed the moment it is typed.

The conversation state is encrypted with the server's own keys, which a stolen server
holds, and a draft lives for hours. So a name, a contact or a relation never enters the
state in the clear: each answer is sealed to the custodian's public key by the shell
(:attr:`handlers.model.Context.seal_identity`) as soon as it is valid, and kept with a
masked form made here, at typing, from the answer itself. The masked form is all the
review card can show; only the custodian's private key opens the sealed one.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.form import RELATIONS
from handlers.model import Context, State

# form field → the field of the sealed identity record (what the custodian reads)
FIELDS: dict[str, str] = {
    "reporter_name": "name",
    "reporter_contact": "contact",
    "reporter_relation": "relation",
}
_NOT_DIGITS = re.compile(r"\D")


class NoSealer(RuntimeError):
    """The shell gave no ``seal_identity``: an identity must never be kept unsealed."""


def mask(field: str, value: str) -> str:
    """What the review card shows of an answer: enough to recognise it, too little to
    name anyone (first letter of each word; a phone's first two and last two digits)."""
    value = value.strip()
    if not value:
        return "-"
    if field == "reporter_contact":
        if "@" in value:
            local, _, domain = value.rpartition("@")
            top = domain.rsplit(".", 1)[-1] if "." in domain else ""
            return f"{local[:1]}***@{domain[:1]}***" + (f".{top}" if top else "")
        digits = _NOT_DIGITS.sub("", value)
        if len(digits) >= 6:
            return digits[:2] + "•" * (len(digits) - 4) + digits[-2:]
    return " ".join(f"{word[:1]}***" for word in value.split())


def seal_answer(ctx: Context, draft_id: str, form_field: str, value: str, choice: bool) -> State:
    """The draft's record of one identity answer: sealed, with its masked form.

    A fixed choice of relation (victim, witness, …) also keeps its choice value, which
    names no one, so the review card can show its label.
    """
    if ctx.seal_identity is None:
        raise NoSealer("Context.seal_identity is required before identity is typed")
    answer: State = {
        "sealed": ctx.seal_identity(draft_id, FIELDS[form_field], value),
        "masked": mask(form_field, value),
    }
    if choice:
        answer["choice"] = value
    return answer


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("sealed"), str)


def seal_plain_answers(ctx: Context, state: State) -> None:
    """Seal identity answers a draft still holds in the clear (typed before this
    version), so they leave the state at the reporter's next step."""
    form = state.get("form")
    draft_id = state.get("draft_id")
    if state.get("mode") != "form" or not isinstance(form, dict) or not isinstance(draft_id, str):
        return
    for form_field in FIELDS:
        value = form.get(form_field)
        if isinstance(value, str) and value:
            choice = form_field == "reporter_relation" and value in RELATIONS
            form[form_field] = seal_answer(ctx, draft_id, form_field, value, choice)
        elif value is not None and not is_sealed(value):
            form.pop(form_field, None)


def sealed_identity(form: dict[str, Any]) -> dict[str, str]:
    """The identity a confidential report carries: each field as sealed at typing."""
    found = {}
    for form_field, record_field in FIELDS.items():
        value = form.get(form_field)
        if isinstance(value, dict) and is_sealed(value):
            found[record_field] = str(value["sealed"])
    return found


def shown(value: Any) -> str:
    """An identity answer as the review card shows it: masked."""
    return str(value.get("masked") or "-") if isinstance(value, dict) else "-"
