"""Reading the "when did it happen" answer: exact dates in the forms Thais write, or not.

Accepted: ``dd/mm/yyyy`` (also ``-`` or ``.``), Buddhist-era years (2569 → 2026), ISO
``yyyy-mm-dd``, "5 March 2026"/"5 มีนาคม 2569", and today/yesterday in either language.
Relative forms are read against the message's date and shown back for a check: "3 days
ago"/"3 วันก่อน", "last Tuesday"/"เมื่อวันอังคารที่แล้ว", "2 weeks ago", and periods
("ต้นเดือนนี้", "end of last month", "last week", "เดือนที่แล้ว"). Anything else is kept as
an approximate description ("about March", "ประมาณเดือนมีนาคม").

A small table-driven reader rather than ``dateparser``: dateparser is not installed here,
its Thai data lacks "วันอังคารที่แล้ว" and "ต้นเดือนนี้", and it reads "Tuesday" as a date
in the future by default; the forms reporters use are few and listed below.
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


Day = date  # the field ``DateAnswer.date`` hides the type inside the class


@dataclass(frozen=True)
class DateAnswer:
    """What the reporter said, and the date it means when that is clear.

    ``error`` is set when the answer looks like a date but is not a valid one, or is in
    the future: then nothing is stored and the reporter is asked again.
    """

    text: str
    date: date | None = None
    error: str | None = None  # "invalid" | "future"
    relative: bool = False  # worked out from a relative word: show it back for a check
    period: str | None = None  # "early" | "mid" | "late" | "month" | "week"; date is None
    start: Day | None = None  # the first day of ``period``


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
        relative = _relative(value, today)
        if relative is not None and (relative.date or relative.start or today) > today:
            return DateAnswer(value, error="future")
        return relative or DateAnswer(value)
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


# --- relative forms ---------------------------------------------------------------------


def _table(prefix: str, count: int, start: int = 0) -> dict[str, int]:
    """Typed words (``kw.<prefix>.<n>`` in every language) → n."""
    return {w.casefold(): n for n in range(start, start + count) for w in variants(f"{prefix}.{n}")}


def _any(*keys: str) -> str:
    """A regex alternation of the typed words of ``keys``, longest first."""
    words = sorted({w.casefold() for k in keys for w in variants(k)}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


# Every word comes from the catalogue (kw.*); only the grammar is here.
_WEEKDAYS = _table("kw.weekday", 7)
_NUMBERS = _table("kw.number", 10, 1)
_PARTS = {w.casefold(): p for p in ("early", "mid", "late") for w in variants(f"kw.part.{p}")}
_WHICH_MONTH = {
    w.casefold(): n for n, k in enumerate(("kw.this_month", "kw.last_month")) for w in variants(k)
}
_FILLER = re.compile(rf"^(?:{_any('kw.date_before')})\s*|\s*(?:{_any('kw.date_after')})$")
_AGO = re.compile(
    rf"^(\d{{1,3}}|{_any(*(f'kw.number.{n}' for n in range(1, 11)))})\s*"
    rf"({_any('kw.unit.day', 'kw.unit.week')})\s*(?:{_any('kw.ago')})$"
)
_UNIT_DAY = {w.casefold() for w in variants("kw.unit.day")}
_LAST_WEEKDAY = re.compile(
    rf"^(?:(?:{_any('kw.last_before')})\s*)?(?:{_any('kw.weekday_prefix')})?\s*"
    rf"({_any(*(f'kw.weekday.{n}' for n in range(7)))})\s*(?:{_any('kw.ago')})?$"
)
_DAY_BEFORE_YESTERDAY = {w.casefold() for w in variants("kw.day_before_yesterday")}
_MONTH_PART = re.compile(
    rf"^({_any('kw.part.early', 'kw.part.mid', 'kw.part.late')})[\s-]*"
    rf"({_any('kw.this_month', 'kw.last_month')})$"
)
_LAST_MONTH = {w.casefold() for w in variants("kw.whole_last_month")}
_LAST_WEEK = {w.casefold() for w in variants("kw.last_week")}


def _relative(value: str, today: date) -> DateAnswer | None:
    """A relative answer worked out against ``today``; None when it is not one."""
    said = " ".join(value.casefold().split())
    for _ in range(2):
        said = _FILLER.sub("", said).strip()
    if said in _DAY_BEFORE_YESTERDAY:
        return DateAnswer(value, today - timedelta(days=2), relative=True)
    if m := _AGO.match(said):
        count = int(m[1]) if m[1].isdigit() else _NUMBERS.get(m[1])
        if count is None:
            return None
        days = count * (1 if m[2] in _UNIT_DAY else 7)
        return DateAnswer(value, today - timedelta(days=days), relative=True)
    if said in _LAST_WEEK:
        monday = today - timedelta(days=today.weekday() + 7)
        return DateAnswer(value, relative=True, period="week", start=monday)
    if said in _LAST_MONTH:
        return DateAnswer(value, relative=True, period="month", start=_month_start(today, 1))
    if m := _MONTH_PART.match(said):
        part = _PARTS[m[1]]
        start = _month_start(today, _WHICH_MONTH[m[2]])
        first = {"early": 1, "mid": 11, "late": 21}[part]
        return DateAnswer(value, relative=True, period=part, start=start.replace(day=first))
    if (m := _LAST_WEEKDAY.match(said)) and m[1] in _WEEKDAYS:
        # The most recent such day before today: "last Tuesday" said on a Tuesday is a week ago.
        back = (today.weekday() - _WEEKDAYS[m[1]] - 1) % 7 + 1
        return DateAnswer(value, today - timedelta(days=back), relative=True)
    return None


def _month_start(today: date, back: int) -> date:
    first = today.replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def understood(lang: str, answer: DateAnswer) -> str:
    """The date or period ``answer`` was read as, in the reporter's words and calendar."""
    if answer.period and answer.start:
        start = answer.start
        if answer.period == "week":
            end = start + timedelta(days=6)
            return t(lang, "period.week", start=show_date(lang, start), end=show_date(lang, end))
        year = start.year + BE_OFFSET if lang == "th" else start.year
        month = t(lang, f"month.{start.month}")
        return t(lang, f"period.{answer.period}", month=month, year=year)
    if answer.date:
        weekday = t(lang, f"weekday.{answer.date.weekday()}")
        return t(lang, "fmt.weekday_date", weekday=weekday, date=show_date(lang, answer.date))
    return answer.text


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
