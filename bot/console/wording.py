"""What the console shows instead of its own codes: people's names, actions in words,
file sizes a person reads. The codes stay one click away (``<details>``) for whoever
needs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console import texts
from handlers.deadlines import MILESTONES
from store.models import StaffUser

STAFF_PREFIX = "staff:"


def display_names(session: Session) -> dict[str, str]:
    """Every account's username → display name (a small table: read once per page)."""
    return dict(session.execute(select(StaffUser.username, StaffUser.display_name)).all())


def actor_name(lang: str, actor: str | None, names: dict[str, str]) -> str:
    """Who did it, as a colleague would say it: the person's name, or what the system is."""
    if not actor:
        return texts.t(lang, "actor.system")
    if actor == "cli":
        return texts.t(lang, "actor.cli")
    username = actor.removeprefix(STAFF_PREFIX)
    return names.get(username, username)


def human_size(lang: str, size: int | None) -> str:
    """9765 → "9.5 KB" (binary units, as file managers show them)."""
    if size is None:
        return ""
    if size < 1024:
        return texts.t(lang, "size.bytes", n=size)
    value = float(size)
    for unit in ("KB", "MB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{value / 1024:.1f} GB".replace(".0 ", " ")


def file_kind(lang: str, content_type: str | None) -> str:
    """ "image/jpeg" → "รูปภาพ"; the MIME type itself goes in the details."""
    major, _, minor = (content_type or "").partition("/")
    if content_type == "application/pdf":
        return texts.t(lang, "kind.pdf")
    if major in ("image", "video", "audio"):
        return texts.t(lang, f"kind.{major}")
    if minor in ("msword",) or "officedocument" in minor or "opendocument" in minor:
        return texts.t(lang, "kind.document")
    return texts.t(lang, "kind.file")


# --- the audit log in words ----------------------------------------------------------

_TAKES_OBJECT = frozenset({"case.status", "case.intake", "case.milestone"})
_STATUS_DETAIL = re.compile(
    r"^(?P<status>[a-z_]+)(?:/(?P<outcome>[a-z_]+))?(?P<note>; public note)?$"
)
_MILESTONE_DETAIL = re.compile(r"^(?P<name>[a-z_]+) on (?P<day>\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class AuditLine:
    """One audit entry as the admin reads it; ``action`` and ``detail`` are the codes."""

    id: int
    at: datetime
    who: str
    what: str  # the action in words, with its detail where that can be put in words
    action: str
    detail: str
    case_id: int | None
    actor: str


def describe(lang: str, action: str, detail: str) -> str:
    """An audit action and its detail in the reader's language; unknown codes as they are."""
    what = texts.CATALOGUES.get(lang, texts.TH).get(f"audit.action.{action}")
    if what is None:
        return action
    extra = _describe_detail(lang, action, detail)
    if not extra:
        return what
    # "เปลี่ยนสถานะเป็น ตรวจสอบ…" reads as one phrase; other details are an aside.
    return f"{what} {extra}" if action in _TAKES_OBJECT else f"{what} — {extra}"


def _describe_detail(lang: str, action: str, detail: str) -> str:
    if action == "case.status" and (m := _STATUS_DETAIL.match(detail)):
        said = texts.label(lang, "status", m["status"])
        if m["outcome"]:
            said += f" ({texts.label(lang, 'outcome', m['outcome'])})"
        if m["note"]:
            said += texts.t(lang, "audit.with_note")
        return said
    if action == "case.milestone" and (m := _MILESTONE_DETAIL.match(detail)):
        if m["name"] in MILESTONES:
            day = texts.show_date(lang, date.fromisoformat(m["day"]))
            return texts.t(
                lang, "audit.milestone_on", step=texts.t(lang, f"milestone.{m['name']}"), day=day
            )
    if action == "case.intake" and detail.startswith("channel "):
        return texts.label(lang, "channel", detail.removeprefix("channel "))
    if detail.startswith("reason: "):
        return texts.t(lang, "audit.reason", reason=detail.removeprefix("reason: "))
    if action == "audit.view":
        return texts.t(lang, "audit.view_intact" if detail == "intact" else "audit.view_problems")
    return ""
