"""The text catalogue: every user-facing string, one module per language.

``th.TEXTS`` and ``en.TEXTS`` have the same keys and the same ``{placeholders}`` (a test
checks both). Keys starting with ``kw.`` are words a reporter may *type*; their value
lists alternatives separated by ``|`` and is never shown.
"""

from __future__ import annotations

from typing import Any

from handlers.texts import en, th

LANGS: tuple[str, ...] = ("th", "en")
CATALOGUES: dict[str, dict[str, str]] = {"th": th.TEXTS, "en": en.TEXTS}


def t(lang: str, key: str, **kw: Any) -> str:
    """The text ``key`` in ``lang`` (Thai if the language is unknown), formatted with ``kw``.

    A missing key raises ``KeyError``: the catalogue tests make sure none is missing.
    """
    template = CATALOGUES.get(lang, th.TEXTS)[key]
    return template.format(**kw) if kw else template


def variants(key: str) -> list[str]:
    """Every wording of ``key`` in every language (``|``-separated alternatives split)."""
    found: list[str] = []
    for catalogue in CATALOGUES.values():
        for word in catalogue.get(key, "").split("|"):
            if word.strip() and word.strip() not in found:
                found.append(word.strip())
    return found
