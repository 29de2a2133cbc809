"""Reading the "when did it happen" answer: exact dates in the forms Thais write, or not.

Accepted: ``dd/mm/yyyy`` (also ``-`` or ``.``), Buddhist-era years (2569 → 2026), ISO
``yyyy-mm-dd``, "5 March 2026"/"5 มีนาคม 2569", and today/yesterday in either language.
Anything else is kept as an approximate description ("about March", "ประมาณเดือนมีนาคม").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from handlers.texts import t, variants

BE_OFFSET = 543  # Buddhist era = Common era + 543
_BE_FROM = 2400  # a year this large is Buddhist era

_DMY = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_D_MONTH_Y = re.compile(r"^\s*(\d{1,2})\s+([^\d\s]+\.?)\s+(\d{4})\s*$")


@dataclass(frozen=True)
class DateAnswer:
    """What the reporter said, and the date it means when that is clear.

    ``error`` is set when the answer looks like a date but is not a valid one, or is in
    the future: then nothing is stored and the reporter is asked again.
    """

    text: str
    date: date | None = None
    error: str | None = None  # "invalid" | "future"


def _months() -> dict[str, int]:
    # Month names (full and abbreviated, both languages) come from the text catalogue.
    table: dict[str, int] = {}
    for number in range(1, 13):
        for key in (f"month.{number}", f"month_short.{number}"):
            for name in variants(key):
                table[name.casefold().rstrip(".")] = number
    return table


_MONTHS = _months()


def parse_when(text: str, today: date) -> DateAnswer:
    """Interpret ``text`` relative to ``today`` (Bangkok's date)."""
    value = text.strip()
    lowered = value.casefold()
    if lowered in _words("kw.today"):
        return DateAnswer(value, today)
    if lowered in _words("kw.yesterday"):
        return DateAnswer(value, today - timedelta(days=1))
    parts = _split(value)
    if parts is None:
        return DateAnswer(value)
    year, month, day = parts
    if year >= _BE_FROM:
        year -= BE_OFFSET
    try:
        when = date(year, month, day)
    except ValueError:
        return DateAnswer(value, error="invalid")
    if when > today:
        return DateAnswer(value, error="future")
    return DateAnswer(value, when)


def _split(value: str) -> tuple[int, int, int] | None:
    if m := _DMY.match(value):
        return int(m[3]), int(m[2]), int(m[1])
    if m := _ISO.match(value):
        return int(m[1]), int(m[2]), int(m[3])
    if (m := _D_MONTH_Y.match(value)) and (month := _MONTHS.get(m[2].casefold().rstrip("."))):
        return int(m[3]), month, int(m[1])
    return None


def _words(key: str) -> set[str]:
    return {w.casefold() for w in variants(key)}


BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")  # no DST in Thailand


def bangkok_today(now: datetime) -> date:
    """Bangkok's calendar date at ``now`` (naive datetimes are taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(BANGKOK).date()


def show_date(lang: str, day: date) -> str:
    """A date as a reporter reads it: Thai with the Buddhist-era year, English with CE."""
    year = day.year + BE_OFFSET if lang == "th" else day.year
    return t(lang, "fmt.date", day=day.day, month=t(lang, f"month_short.{day.month}"), year=year)


def show_datetime(lang: str, moment: datetime) -> str:
    """A moment in Bangkok time, e.g. ``5 มี.ค. 2569 14:30``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(BANGKOK)
    return t(lang, "fmt.datetime", date=show_date(lang, local.date()), time=local.strftime("%H:%M"))
