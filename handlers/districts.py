"""The 50 district offices of Bangkok, and tolerant matching of what a reporter types.

People write district names in Thai or in one of several romanisations ("Huaykwang",
"Huai Khwang"), with or without "เขต"/"district", so names are reduced to a skeleton
before comparing, and near misses are ranked with :mod:`difflib` (stdlib; no fuzzy
matching library is worth a dependency for 50 names).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from importlib import resources

from handlers.texts import variants


@dataclass(frozen=True)
class District:
    """One district office: a four-digit code, its Thai name and its English name."""

    code: str
    name_th: str
    name_en: str


def _load() -> tuple[District, ...]:
    # Read once at import, from package data: handlers never reads ../shared at run time.
    raw = resources.files("handlers.data").joinpath("bangkok_districts.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(raw))
    return tuple(District(r["code"], r["name_th"], r["name_en"]) for r in rows)


DISTRICTS: tuple[District, ...] = _load()
BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}

_THAI = re.compile(r"[\u0e00-\u0e7f]")
# Words that name the office rather than the district ("เขต", "district"), longest first.
_AFFIXES = sorted((w.casefold() for w in variants("kw.district_affix")), key=len, reverse=True)
_AFFIXES_TH = tuple(w for w in _AFFIXES if _THAI.search(w))
_AFFIXES_EN = tuple(w for w in _AFFIXES if not _THAI.search(w))
# Tone marks and the silencer are often left out or misplaced when typing Thai.
_THAI_MARKS = re.compile(r"[\u0e47-\u0e4e]")
_NOT_WORD = re.compile(r"[^0-9a-z\u0e00-\u0e7f]+")
# Romanisation variants collapse to one spelling: kh/k, th/t, ph/p, ch/tch/j, w/v, y/i ...
_ROMAN = (
    ("tch", "c"),
    ("ch", "c"),
    ("j", "c"),
    ("kh", "k"),
    ("th", "t"),
    ("ph", "p"),
    ("sh", "s"),
    ("ue", "u"),
    ("oe", "u"),
    ("v", "w"),
    ("y", "i"),
    ("ai", "i"),
    ("q", "k"),
    ("h", ""),
)
_REPEAT = re.compile(r"(.)\1+")
_CUTOFF = 0.75  # below this a name is not a plausible spelling of the district
_MARGIN = 0.06  # a best match this far ahead of the next is unambiguous
_MIN_PARTIAL = 3  # shorter inputs are too vague for a prefix/substring match
_MIN_PREFIX_FUZZY = 5
_PREFIX_WEIGHT = 0.95


def skeleton(text: str) -> str:
    """Reduce a district name to a spelling-independent key (lowercase, no affixes)."""
    value = text.strip().casefold()
    for affix in _AFFIXES_TH:
        value = value.replace(affix, " ")
    value = _NOT_WORD.sub(" ", value)
    words = [w for w in value.split() if w]
    value = " ".join(words)
    for affix in _AFFIXES_EN:
        value = re.sub(rf"\b{re.escape(affix)}\b", " ", value)
    value = value.replace(" ", "")
    if _THAI.search(value):
        return _THAI_MARKS.sub("", value)
    for old, new in _ROMAN:
        value = value.replace(old, new)
    return _REPEAT.sub(r"\1", value)


_KEYS: tuple[tuple[District, tuple[str, str]], ...] = tuple(
    (d, (skeleton(d.name_th), skeleton(d.name_en))) for d in DISTRICTS
)


def match(text: str) -> list[District]:
    """Find the district(s) a reporter meant.

    One element: a unique match. Several: ambiguous, best first (offer them as
    choices). Empty: nothing plausible.
    """
    query = skeleton(text or "")
    if not query:
        return []
    exact = [d for d, keys in _KEYS if query in keys]
    if exact:
        return exact
    if len(query) >= _MIN_PARTIAL:
        # The start of a name ("bangkok" → Bangkok Yai, Bangkok Noi) before any part of it.
        for partial in (
            [d for d, keys in _KEYS if any(k.startswith(query) for k in keys)],
            [d for d, keys in _KEYS if any(query in k for k in keys)],
        ):
            if partial:
                return partial
    scored = sorted(
        ((max(_score(query, k) for k in keys), d) for d, keys in _KEYS),
        key=lambda pair: -pair[0],
    )
    best = scored[0][0]
    if best < _CUTOFF:
        return []
    return [d for score, d in scored if score >= _CUTOFF and best - score < _MARGIN]


def _score(query: str, key: str) -> float:
    whole = difflib.SequenceMatcher(None, query, key, autojunk=False).ratio()
    if len(query) < _MIN_PREFIX_FUZZY:
        return whole
    # A misspelt beginning of a long name ("Pomprab") still points at it, a little less surely.
    head = difflib.SequenceMatcher(None, query, key[: len(query)], autojunk=False).ratio()
    return max(whole, head * _PREFIX_WEIGHT)
