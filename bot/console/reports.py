"""Monthly statistics (the centre's published table), the audit log, the account list."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request
from sqlalchemy import select

from bot import checkpoints
from bot.console import (
    audit,
    bp,
    lang,
    now,
    render,
    require_role,
    runtime,
    texts,
    transaction,
    wording,
)
from store import repo, staff
from store.models import Case


def _month() -> tuple[int, int]:
    today = now().astimezone(staff.BANGKOK).date()
    try:
        year = int(request.args.get("year") or today.year)
        month = int(request.args.get("month") or today.month)
    except ValueError:
        year, month = today.year, today.month
    if year > 2400:  # typed as a Buddhist-era year
        year -= 543
    if not 1 <= month <= 12 or not 2000 <= year <= 2200:
        year, month = today.year, today.month
    return year, month


@bp.route("/statistics")
def statistics() -> Any:
    year, month = _month()
    with transaction() as session:
        stats = staff.monthly_statistics(session, year, month)
    channels = [c for c in staff.CHANNELS if stats.by_channel.get(c)]
    categories = [c for c in staff.CATEGORIES if stats.by_category.get(c)]
    biggest = max([*stats.by_channel.values(), *stats.by_outcome.values(), 1])
    return render(
        "statistics.html",
        stats=stats,
        channels=channels,
        categories=categories,
        outcomes=staff.OUTCOMES,
        biggest=biggest,
        year=year,
        month=month,
        shown_year=texts.show_year(lang(), year),
        years=range(now().year, 2019, -1),
    )


@bp.route("/statistics.csv")
def statistics_csv() -> Any:
    year, month = _month()
    with transaction() as session:
        stats = staff.monthly_statistics(session, year, month)
        audit(session, "statistics.export", detail=f"{year}-{month:02d}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "sub_key", "count"])
    writer.writerows(staff.statistics_rows(stats))
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM so spreadsheet programs read Thai as UTF-8
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="krasip-statistics-{year}-{month:02d}.csv"'
            )
        },
    )


@bp.route("/admin/audit")
@require_role("admin", audit_action="admin.denied")
def audit_log() -> Any:
    with transaction() as session:
        problems = repo.verify_audit(session, checkpoints.from_log(runtime()))
        entries = staff.audit_entries(session, limit=500)
        names = wording.display_names(session)
        numbers = dict(
            session.execute(
                select(Case.id, Case.number).where(
                    Case.id.in_({e.case_id for e in entries if e.case_id})
                )
            ).all()
        )
        audit(session, "audit.view", detail="intact" if not problems else "problems found")
    chosen = lang()
    lines = [
        wording.AuditLine(
            id=e.id,
            at=e.at,
            who=wording.actor_name(chosen, e.actor, names),
            what=wording.describe(chosen, e.action, e.detail),
            action=e.action,
            detail=e.detail,
            case_id=e.case_id,
            actor=e.actor,
        )
        for e in entries
    ]
    return render("audit.html", problems=problems, entries=lines, numbers=numbers)
