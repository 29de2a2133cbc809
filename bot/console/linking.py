"""Linking a staff member's LINE account (and, for admins, a LINE group) to notifications.

A link code is shown once, in the response that issued it (no-store like every console
page); only its HMAC is stored, and neither the audit log nor the server log sees it.
"""

from __future__ import annotations

from typing import Any

from bot.console import audit, bp, current, now, render, require_role, runtime, transaction
from store import notices


def _page(code: str | None = None, kind: str | None = None) -> Any:
    with transaction() as session:
        link = notices.line_link(session, current().id)
        linked_at = link.linked_at if link else None
        digest = link.digest if link else False
    return render(
        "line.html",
        linked_at=linked_at,
        digest=digest,
        code=code,
        code_kind=kind,
        minutes=int(notices.LINK_CODE_TTL.total_seconds() // 60),
    )


def _issue(kind: str) -> Any:
    with transaction() as session:
        code = notices.issue_link_code(session, runtime().keys, current().id, kind, now())
        audit(session, "notify.code_issued", detail=f"{kind} code")
    return _page(code, kind)


@bp.route("/line")
def line_link() -> Any:
    return _page()


@bp.route("/line/code", methods=["POST"])
def line_code() -> Any:
    """A one-time code that links the LINE account which sends ``link NNNNNN`` to the bot."""
    return _issue("staff")


@bp.route("/line/group-code", methods=["POST"])
@require_role("admin", audit_action="notify.denied")
def line_group_code() -> Any:
    """A one-time code that registers the LINE group it is sent in (admins only)."""
    return _issue("group")
