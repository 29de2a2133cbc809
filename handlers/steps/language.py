"""The reporter's language: inferred from the word that starts a report, remembered in
the conversation state, and switched with one chip, never demanded.

The choice lives only in the conversation state (``state["lang"]``), so it expires with
it (:func:`handlers.steps.state.keep_until`): no other record keyed by the LINE account
holds a property of the reporter's case.
"""

from __future__ import annotations

from typing import Any

from handlers.messages import postback_data, quick_item
from handlers.model import Incoming
from handlers.steps.quick import LANG, norm
from handlers.steps.turn import Turn, reask
from handlers.texts import CATALOGUES, LANGS, t

LEGACY_STEP = "language"  # the language question of earlier versions; its buttons still work
SWITCH_AT = "intro"  # the first screen of a report offers the other language


def starting_lang(incoming: Incoming) -> str | None:
    """The language of the word that started a report ("แจ้งเบาะแส" → th, "report" → en).

    Only typed words count: a button's display text is in whatever language the menu was
    drawn in, which says nothing about the reporter."""
    if incoming.kind != "text":
        return None
    said = norm(incoming.text)
    for lang in LANGS:
        catalogue = CATALOGUES[lang]
        words = "|".join(catalogue[k] for k in ("kw.report", "btn.cmd.report")).split("|")
        if said and any(said == norm(w) for w in words):
            return lang
    return None


def switch_item(turn: Turn) -> dict[str, Any]:
    """The chip that switches to the other language, labelled in that language."""
    other = "en" if turn.lang == "th" else "th"
    label = t(other, "btn.lang.self")
    return quick_item(label, postback_data(LANG, other), label)


def switch_language(turn: Turn, value: str) -> None:
    """Switch the form's language and ask the current question again in it."""
    if value in LANGS:
        turn.state["lang"] = value
        turn.state["form"]["lang"] = value
    reask(turn)
