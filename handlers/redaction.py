"""Finding passages of a report that may identify the reporter, before a copy leaves the
centre (seed 003 §8.1.2, §8.2.1: conceal anything that could identify the informant).

A small heuristic, Thai and English, that errs towards flagging: first-person passages
("ดิฉันขายข้าวแกง…", "I sell…"), places of work, phone numbers and other contacts,
relatives. Staff see the flagged passages ticked, untick what may stay, tick more by hand,
and type phrases of their own; the copy masks exactly what they chose.

Passages are split at line ends, sentence punctuation, and spaces between Thai words
(Thai writes a space where English ends a clause); a space next to a digit or a Latin
word does not split ("ปากซอยสีลม 9" stays whole). A passage's id is its field and its
place in that field ("description#2"), so a choice is recorded without its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

REASONS = ("first_person", "workplace", "contact", "relative")

_THAI = "\u0e00-\u0e7f"
_BOUNDARY = re.compile(rf"(\n+|(?<=[.!?;])\s+|(?<=[{_THAI}])[ \t]+(?=[{_THAI}]))")

_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "first_person": (
        re.compile("ผม|ดิฉัน|ดิชั้น|ฉัน|กระผม|ข้าพเจ้า|หนู|พวกเรา|เรา|ตัวเอง"),
        re.compile(r"\bI\b|\bI'(?:m|ve|d|ll)\b"),
        re.compile(r"\b(?:me|my|mine|myself|we|our|ours|us)\b", re.IGNORECASE),
    ),
    "workplace": (
        re.compile("ร้าน|แผง|ขาย|ทำงาน|บริษัท|โรงงาน|ปากซอย|ซอย|หมู่บ้าน|บ้านเลขที่|ตลาด|อาคาร|ชั้น"),
        re.compile(
            r"\b(?:shop|stall|store|office|company|factory|restaurant|market|soi|street|road"
            r"|village|building|floor|work(?:s|ed)? (?:at|in|for)|sell(?:s|ing)?)\b",
            re.IGNORECASE,
        ),
    ),
    "contact": (
        re.compile(r"(?:\+66|\b0)(?:[\s\-.]?\d){8,9}\b"),
        re.compile(r"[\w.+\-]+@[\w\-]+\.[\w.\-]+"),
        re.compile(r"โทร|เบอร์|ไลน์|อีเมล|\bline\s*id\b|\bphone\b|\be-?mail\b", re.IGNORECASE),
    ),
    "relative": (
        re.compile(
            "พ่อ(?!ค้า)|แม่(?!ค้า|บ้าน|น้ำ|ครัว|ทัพ|แบบ|พิมพ์)|สามี|ภรรยา|ภริยา|เมีย|ผัว"
            "|ลูกสาว|ลูกชาย|ลูก(?!ค้า|จ้าง|หนี้|น้อง|ทีม)|พี่สาว|พี่ชาย|น้องสาว|น้องชาย"
            "|หลาน|ญาติ|ลุง|ป้า(?!ย)|ยาย|ปู่|ย่า(?!ง|น)"
        ),
        re.compile(
            r"\b(?:mother|father|mom|mum|dad|son|daughter|husband|wife|brother|sister|aunt"
            r"|uncle|cousin|nephew|niece|grand(?:mother|father|son|daughter)|relative)s?\b",
            re.IGNORECASE,
        ),
    ),
}


@dataclass(frozen=True)
class Passage:
    """One passage of a report field, and why it may identify the reporter."""

    id: str  # "description#2": the field's path and the passage's place in it
    field: str  # the top-level field ("description", "when", …)
    text: str
    reasons: tuple[str, ...]  # empty when nothing in it looks identifying

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)


def reasons_in(text: str) -> tuple[str, ...]:
    """Which kinds of identifying detail the text seems to hold."""
    return tuple(r for r in REASONS if any(p.search(text) for p in _PATTERNS[r]))


def _pieces(text: str) -> list[str]:
    """The text cut into passages and the separators between them, in order."""
    return _BOUNDARY.split(text)


def _text_fields(content: dict[str, Any], skip: Iterable[str]) -> Iterator[tuple[str, str]]:
    skipped = set(skip)
    for key, value in content.items():
        if key in skipped:
            continue
        if isinstance(value, str):
            yield key, value
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                if isinstance(sub_value, str) and sub not in ("kind", "district_code"):
                    yield f"{key}.{sub}", sub_value


def passages(content: dict[str, Any], skip: Iterable[str] = ()) -> list[Passage]:
    """Every passage of the report's free-text fields, in reading order."""
    found = []
    for path, text in _text_fields(content, skip):
        for index, piece in enumerate(_pieces(text)):
            if index % 2 or not piece.strip():
                continue  # odd pieces are separators
            found.append(
                Passage(f"{path}#{index // 2}", path.split(".")[0], piece, reasons_in(piece))
            )
    return found


def mask(
    content: dict[str, Any],
    chosen: Iterable[str],
    phrases: Iterable[str],
    marker: str,
    skip: Iterable[str] = (),
) -> tuple[dict[str, Any], int]:
    """The content with the chosen passages and typed phrases replaced by ``marker``;
    also how many places were masked."""
    ids = set(chosen)
    typed = [p.strip() for p in phrases if p.strip()]
    pattern = (
        re.compile("|".join(re.escape(p) for p in sorted(typed, key=len, reverse=True)), re.I)
        if typed
        else None
    )
    count = 0
    skipped = set(skip)

    def rewrite(path: str, text: str) -> str:
        nonlocal count
        pieces = _pieces(text)
        for index in range(0, len(pieces), 2):
            if f"{path}#{index // 2}" in ids and pieces[index].strip():
                pieces[index] = marker
                count += 1
        joined = "".join(pieces)
        if pattern is not None:
            joined, hits = pattern.subn(marker, joined)
            count += hits
        return joined

    masked: dict[str, Any] = {}
    for key, value in content.items():
        if key in skipped:
            masked[key] = value
        elif isinstance(value, str):
            masked[key] = rewrite(key, value)
        elif isinstance(value, dict):
            masked[key] = {
                sub: rewrite(f"{key}.{sub}", v)
                if isinstance(v, str) and sub not in ("kind", "district_code")
                else v
                for sub, v in value.items()
            }
        else:
            masked[key] = value
    return masked, count
