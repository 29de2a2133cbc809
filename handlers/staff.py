"""What staff receive on LINE: Flex cards with a plain-text alternative, in their language.

None of these carries an identity or report text: a notification may be read on a phone
in a meeting room. The card says what happened and links to the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.dates import bangkok_today, show_date
from handlers.flex import _bubble, _row, _text
from handlers.messages import flex, text
from handlers.model import Message
from handlers.texts import t, variants

NEW_CASE = "new_case"
REPORTER_MESSAGE = "reporter_message"
REPORTER_EVIDENCE = "reporter_evidence"
DEADLINE = "deadline"
IDENTITY_OPENED = "identity_opened"


@dataclass(frozen=True)
class CaseFacts:
    """The non-secret facts of a case that a notification may show."""

    case_number: str
    category: str
    agency: str  # district name or "-"
    anonymous: bool
    meets_anonymous_bar: bool
    console_url: str


def _link(lang: str, url: str) -> dict[str, object]:
    return {
        "type": "button",
        "style": "primary",
        "height": "sm",
        "action": {"type": "uri", "label": t(lang, "staff.open_console")[:20], "uri": url},
    }


def _mode(lang: str, facts: CaseFacts) -> str:
    return t(lang, "staff.anonymous" if facts.anonymous else "staff.confidential")


def new_case(lang: str, facts: CaseFacts) -> list[Message]:
    """A new report: what kind, where, how filed, whether 8.1.1's bar is met."""
    bar = t(lang, "staff.bar.met" if facts.meets_anonymous_bar else "staff.bar.not_met")
    rows = [
        _row(t(lang, "staff.case_number"), facts.case_number),
        _row(t(lang, "staff.category"), t(lang, f"cat.{facts.category}")),
        _row(t(lang, "staff.agency"), facts.agency),
        _row(t(lang, "staff.mode"), _mode(lang, facts)),
    ]
    if facts.anonymous:
        rows.append(_row(t(lang, "staff.bar"), bar))
    alt = t(
        lang,
        "staff.new_case.alt",
        case_number=facts.case_number,
        category=t(lang, f"cat.{facts.category}"),
        agency=facts.agency,
        mode=_mode(lang, facts),
    )
    bubble = _bubble(
        t(lang, "staff.new_case.title", case_number=facts.case_number),
        rows,
        [_link(lang, facts.console_url)],
    )
    return [flex(alt, bubble)]


def reporter_activity(
    lang: str, case_number: str, console_url: str, *, messages: int, files: int
) -> list[Message]:
    """The reporter wrote or sent evidence, this many of each since staff were last told:
    say so, never what."""
    parts = []
    if messages:
        parts.append(t(lang, "staff.activity.messages", count=messages))
    if files:
        parts.append(t(lang, "staff.activity.files", count=files))
    what = t(lang, "staff.activity.and").join(parts)
    alt = t(lang, "staff.activity.alt", case_number=case_number, what=what)
    bubble = _bubble(
        t(lang, "staff.activity.title", case_number=case_number),
        [_text(alt, size="sm")],
        [_link(lang, console_url)],
    )
    return [flex(alt, bubble)]


def deadline_warning(
    lang: str,
    case_number: str,
    deadline: str,
    threshold: int,
    due_at: datetime,
    console_url: str,
) -> list[Message]:
    """A deadline 7, 3 or 1 days away, or passed (threshold 0)."""
    due = show_date(lang, bangkok_today(due_at))
    what = t(lang, f"deadline.{deadline}")
    if threshold == 0:
        title = t(lang, "staff.deadline.title.overdue", case_number=case_number)
        alt = t(lang, "staff.deadline.alt.overdue", case_number=case_number, deadline=what, due=due)
        left = t(lang, "staff.deadline.overdue")
    else:
        title = t(lang, "staff.deadline.title.soon", case_number=case_number)
        alt = t(
            lang,
            "staff.deadline.alt.soon",
            case_number=case_number,
            deadline=what,
            due=due,
            days=threshold,
        )
        left = t(lang, "staff.deadline.days", days=threshold)
    rows = [
        _row(t(lang, "staff.deadline.what"), what),
        _row(t(lang, "staff.deadline.due"), due),
        _row(t(lang, "staff.deadline.left"), left),
    ]
    return [flex(alt, _bubble(title, rows, [_link(lang, console_url)]))]


def identity_opened(lang: str, case_number: str, actor: str, console_url: str) -> list[Message]:
    alt = t(lang, "staff.identity_opened.alt", case_number=case_number, actor=actor)
    bubble = _bubble(
        t(lang, "staff.identity_opened.title", case_number=case_number),
        [_text(alt, size="sm")],
        [_link(lang, console_url)],
    )
    return [flex(alt, bubble)]


def audit_checkpoint(lang: str, day: datetime, count: int, line: str) -> list[Message]:
    """The daily signed checkpoint of the audit log, as plain text an admin can copy."""
    date = show_date(lang, bangkok_today(day))
    return [text(t(lang, "staff.audit_checkpoint", date=date, count=count, line=line))]


def audit_broken(lang: str) -> list[Message]:
    return [text(t(lang, "staff.audit_broken"))]


@dataclass(frozen=True)
class DigestCounts:
    new_cases: tuple[str, ...]
    messages: tuple[str, ...]
    deadlines: tuple[str, ...]


def digest(lang: str, day: datetime, counts: DigestCounts, console_url: str) -> list[Message]:
    """One summary a day for staff who asked for it."""
    date = show_date(lang, bangkok_today(day))
    rows = []
    for key, numbers in (
        ("staff.digest.new_cases", counts.new_cases),
        ("staff.digest.messages", counts.messages),
        ("staff.digest.deadlines", counts.deadlines),
    ):
        listed = ", ".join(numbers[:10]) + (" …" if len(numbers) > 10 else "")
        rows.append(
            _row(
                f"{t(lang, key)}: {len(numbers)}",
                t(lang, "staff.digest.cases", numbers=listed) if numbers else "-",
            )
        )
    alt = t(
        lang,
        "staff.digest.alt",
        new_cases=len(counts.new_cases),
        messages=len(counts.messages),
        deadlines=len(counts.deadlines),
    )
    return [
        flex(
            alt, _bubble(t(lang, "staff.digest.title", date=date), rows, [_link(lang, console_url)])
        )
    ]


def reply(lang: str, key: str, **kw: object) -> list[Message]:
    return [text(t(lang, key, **kw))]


def command(text_in: str) -> str | None:
    """Which staff command a message is: ``digest_on``, ``digest_off``, ``unlink`` or None."""
    said = " ".join(text_in.lower().split())
    for name in ("digest_on", "digest_off", "unlink"):
        if said in (w.lower() for w in variants(f"kw.{name}")):
            return name
    return None


def link_code(text_in: str) -> str | None:
    """The six digits of ``link 482913`` (or ``ลิงก์ 482913``), if that is what was sent."""
    words = text_in.strip().lower().split()
    if len(words) == 2 and words[0] in (w.lower() for w in variants("kw.link")):
        code = words[1]
        if len(code) == 6 and code.isdigit():
            return code
    return None
