"""The LINE outbox for admins: how many messages are in each state, the latest rows, and a
retry for dead letters. Destinations and content are never shown (they are encrypted in
the row, and wiped once delivered)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from bot.console import audit, bp, lang, now, render, require_role, runtime, texts, transaction
from store import outbox

STATES = ("pending", "sending", "sent", "dead")


@bp.route("/outbox")
@require_role("admin", audit_action="admin.denied")
def outbox_page() -> Any:
    retried = request.args.get("retried", "")
    if retried.isdigit():
        return _page(notice=texts.t(lang(), "outbox.retried", id=int(retried)))
    return _page()


def _page(status: int = 200, **context: Any) -> Any:
    with transaction() as session:
        counts = outbox.counts(session)
        rows = [
            {
                "id": row.id,
                "kind": row.kind,
                "purpose": row.purpose,
                "state": row.state,
                "attempts": row.attempts,
                "created_at": row.created_at,
                "last_error": row.last_error,
            }
            for row in outbox.listing(session, limit=100)
        ]
    states = [*STATES, *sorted(set(counts) - set(STATES))]
    chosen = lang()

    def state_name(state: str) -> str:
        return texts.t(chosen, f"outbox.state.{state}") if state in STATES else state

    def code_name(kind: str, code: str) -> str:
        # Thai words for the row's kind and purpose; the code itself stays in <details>.
        return texts.CATALOGUES.get(chosen, texts.TH).get(f"outbox.{kind}.{code}", code)

    return render(
        "outbox.html",
        status,
        counts=counts,
        states=states,
        rows=rows,
        state_name=state_name,
        code_name=code_name,
        **context,
    )


@bp.route("/outbox/<int:row_id>/retry", methods=["POST"])
@require_role("admin", audit_action="admin.denied")
def outbox_retry(row_id: int) -> Any:
    with transaction() as session:
        retried = outbox.retry_dead(session, now(), row_id)
        if retried:
            audit(session, "outbox.retry", detail=f"row {row_id}")
    if not retried:
        return _page(400, error=texts.t(lang(), "outbox.not_dead"))
    runtime().start_dispatcher().submit([row_id])
    return redirect(url_for("console.outbox_page", retried=row_id))
