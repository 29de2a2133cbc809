"""The case register for staff: list, detail, triage, messages, notes, intake, identities."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort, redirect, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console import (
    audit,
    bp,
    current,
    lang,
    now,
    render,
    require_role,
    runtime,
    texts,
    transaction,
    wording,
)
from bot.console.slip import add_friend_qr
from bot.notifications import Notifier
from handlers import districts, redaction, tokens
from handlers.deadlines import MILESTONES, Standing, standings
from store import media, notices, register, repo, sanitize, staff
from store.crypto import (
    CryptoError,
    IdentityPrivateKey,
    LegacySealedIdentity,
    MisplacedCiphertext,
    WrongPassphrase,
    is_bound_identity,
)
from store.models import Attachment, Case, CaseEvent, CaseMessage

INLINE_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
MAX_KEY_FILE_BYTES = 64 * 1024
MAX_TEXT = 8000
INTAKE_CHANNELS = tuple(c for c in staff.CHANNELS if c != "line")
# The order of the process (DOMAIN.md); a case may also be closed from any open step.
PROCESS = ("received", "preliminary_review", "fact_finding", "under_consideration")
MAX_PHRASES = 20

log = logging.getLogger(__name__)


@bp.errorhandler(MisplacedCiphertext)
def _misplaced(error: MisplacedCiphertext) -> Any:
    # Stored data copied from another row: show nothing of it, say so, log only the place.
    log.warning("refused: %s", error)
    return render("error.html", 409, message=texts.t(lang(), "error.misplaced"))


def next_statuses(status: str) -> list[str]:
    if status == "closed":
        return []
    following = PROCESS[PROCESS.index(status) + 1 :] if status in PROCESS else ()
    return [*following[:1], "closed"]


def _case_or_404(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        abort(404)
    return case


def _form_text(name: str, limit: int = MAX_TEXT) -> str:
    return (request.form.get(name) or "").strip()[:limit]


# --- list ----------------------------------------------------------------------------


@bp.route("/")
def index() -> Any:
    return redirect(url_for("console.case_list"))


@bp.route("/cases")
def case_list() -> Any:
    args = request.args
    chosen = lang()
    errors = []
    days = {}
    for name in ("from", "to"):
        typed = (args.get(name) or "").strip()[:40]
        days[name] = texts.read_date(typed) if typed else None
        if typed and days[name] is None:
            example = texts.t(chosen, "date.example")
            errors.append(texts.t(chosen, "cases.bad_date", value=typed, example=example))

    def start_of(day: date | None, shift: int = 0) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=shift), time(0), tzinfo=staff.BANGKOK)

    flt = staff.CaseFilter(
        status=args.get("status") if args.get("status") in staff.STATUSES else None,
        category=args.get("category") if args.get("category") in staff.CATEGORIES else None,
        district_code=args.get("district") if args.get("district") in districts.BY_CODE else None,
        channel=args.get("channel") if args.get("channel") in staff.CHANNELS else None,
        anonymous_bar=args.get("anon") if args.get("anon") in ("meets", "below") else None,
        number=(args.get("q") or "").strip()[:32] or None,
        filed_from=start_of(days["from"]),
        filed_before=start_of(days["to"], 1),  # "until the 5th" includes the 5th
    )
    deadline = args.get("deadline") if args.get("deadline") in register.DEADLINE_STATES else None
    text = (args.get("text") or "").strip()[:200]
    unread_only = args.get("unread") == "1"
    sort = args.get("sort") if args.get("sort") in staff.SORTS else "filed_desc"
    at = now()
    me = current().id
    with transaction() as session:
        page = register.search(
            session,
            runtime().keys,
            flt,
            now=at,
            zone=staff.BANGKOK,
            text=text,
            deadline=deadline,
            unread_for=me if unread_only else None,
            sort=sort,
            cursor=args.get("after"),
            limit=50,
            budget=register.SCAN_BUDGET,
        )
        ids = [c.id for c in page.cases]
        urgent = register.urgent_deadlines(session, ids, at, staff.BANGKOK)
        unread = register.unread(session, me, ids)
        rows = [(c, urgent[c.id], unread[c.id]) for c in page.cases]
    more = None
    if page.next_cursor:
        more = url_for("console.case_list", **{**args.to_dict(), "after": page.next_cursor})
    first = None
    if args.get("after"):
        first = url_for(
            "console.case_list", **{k: v for k, v in args.to_dict().items() if k != "after"}
        )
    return render(
        "cases.html",
        400 if errors else 200,
        error=" ".join(errors) or None,
        rows=rows,
        flt=flt,
        sort=sort,
        more=more,
        first=first,
        page=page,
        args=args,
        days=days,
        deadline_filter=deadline,
        deadline_states=register.DEADLINE_STATES,
        budget=register.SCAN_BUDGET,
        statuses=staff.STATUSES,
        categories=staff.CATEGORIES,
        channels=staff.CHANNELS,
        districts=districts.DISTRICTS,
        district_name=_district_name,
        deadline_label=lambda kind: texts.deadline_label(chosen, kind),
        sorts=list(staff.SORTS),
    )


def _district_name(code: str | None) -> str:
    district = districts.BY_CODE.get(code or "")
    if district is None:
        return "—"
    return district.name_th if lang() == "th" else district.name_en


# --- detail --------------------------------------------------------------------------


def _content_rows(content: dict[str, Any], *, redacted: bool = False) -> list[tuple[str, str]]:
    """Every key of the report, with a label; nested parts flattened as "part: value"."""
    chosen = lang()
    rows = []
    for key, value in content.items():
        if redacted and key in texts.REDACTED_KEYS:
            rows.append((texts.field_label(chosen, key), texts.t(chosen, "redacted.withheld")))
            continue
        rows.append((texts.field_label(chosen, key), _show_value(chosen, key, value)))
    return rows


def _show_value(chosen: str, key: str, value: Any) -> str:
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if key == "category" and isinstance(value, str):
        return texts.label(chosen, "category", value)
    if isinstance(value, dict):
        if key == "when" and set(value) <= {"text", "date"}:
            return str(value.get("text") or value.get("date") or "—")
        if key == "agency" and value.get("kind") == "district" and value.get("district_code"):
            return texts.t(
                chosen, "agency.district", name=_district_name(str(value["district_code"]))
            )
        parts = []
        for sub, sub_value in value.items():
            if sub_value in (None, "", {}, []) or sub == "kind":
                continue
            parts.append(f"{texts.field_label(chosen, sub)}: {_show_value(chosen, sub, sub_value)}")
        return "\n".join(parts) or "—"
    if isinstance(value, list):
        return "\n".join(_show_value(chosen, key, item) for item in value)
    if isinstance(value, bool):
        return texts.t(chosen, "yes" if value else "no")
    return str(value)


@dataclass(frozen=True)
class OpenDeadline:
    """One deadline the case is held to now, as the case page shows it."""

    kind: str
    label: str
    standing: Standing


def _open_deadlines(events: list[CaseEvent], at: datetime) -> list[OpenDeadline]:
    """The case's open deadlines (seed 003 §6), soonest first, by the register's own rule."""
    chosen = lang()
    return [
        OpenDeadline(s.deadline.kind, texts.deadline_label(chosen, s.deadline.kind), s)
        for s in standings(register.event_views(events), at, staff.BANGKOK)
    ]


def _detail_context(session: Session, case: Case) -> dict[str, Any]:
    keys = runtime().keys
    me = current().id
    seen_message, seen_attachment = register.last_seen(session, me, case.id)
    content = repo.case_content(session, keys, case.id)
    events = list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )
    thread = [
        (
            m.direction,
            m.created_at,
            repo.message_text(keys, case, m),
            m.read_at,
            m.direction == "reporter" and m.id > seen_message,
        )
        for m in session.scalars(
            select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.id)
        )
    ]
    attachments = _evidence(
        keys,
        session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
        ),
        seen_attachment,
    )
    # Shown now: this staff member's unread markers for the case are cleared.
    register.mark_read(session, me, case.id)
    names = wording.display_names(session)
    chosen = lang()
    open_deadlines = _open_deadlines(events, now())
    return {
        "case": case,
        "content": _content_rows(content),
        "events": events,
        "thread": thread,
        "attachments": attachments,
        "notes": staff.notes(session, keys, case.id),
        "public_note": repo.public_note(keys, case),
        "urgent": open_deadlines[0].standing if open_deadlines else None,
        "open_deadlines": open_deadlines,
        "milestones": MILESTONES,
        "today": _today(),
        "next_statuses": next_statuses(case.status),
        "outcomes": staff.OUTCOMES,
        "openings": staff.audit_entries(session, case_id=case.id, action="identity.open"),
        "identity_legacy": case.identity_sealed is not None
        and not is_bound_identity(case.identity_sealed),
        "district_name": _district_name,
        "who": lambda actor: wording.actor_name(chosen, actor, names),
        "deadline_label": lambda kind: texts.deadline_label(chosen, kind),
        "input_day": lambda day: texts.input_date(chosen, day),
    }


@bp.route("/cases/<int:case_id>")
def case_detail(case_id: int) -> Any:
    with transaction() as session:
        case = _case_or_404(session, case_id)
        audit(session, "case.view", case_id=case.id)
        context = _detail_context(session, case)
    return render("case.html", **context)


def _detail_with_error(case_id: int, error: str, status: int = 400) -> Any:
    with transaction() as session:
        case = _case_or_404(session, case_id)
        audit(session, "case.view", case_id=case.id)
        context = _detail_context(session, case)
    return render("case.html", status, error=error, **context)


# --- evidence ------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One evidence item as the case page shows it to the signed-in account."""

    id: int
    state: str  # "pending", "failed", "clean", "held" (staff see a warning) or "released"
    inline: bool  # a clean image, shown in the page
    downloadable: bool
    content_type: str
    size: int | None
    sha256: str | None
    kind_name: str  # "รูปภาพ"
    size_name: str  # "9.5 KB"
    new: bool  # sent after filing, not yet seen by this staff member
    removed: list[str]  # what cleaning removed, in the viewer's language
    reason: str  # why it is held back or could not be kept
    file_name: str | None  # the sender's name for it: custodian only, it may identify
    can_release: bool


def _evidence(keys: Any, rows: Any, seen: int = 0) -> list[Evidence]:
    chosen, role = lang(), current().role
    items = []
    for row in rows:
        if row.state != "stored":
            state = "failed" if row.state == "failed" else "pending"
        elif row.held_back is None:
            state = "clean"
        else:
            state = "released" if row.released_at is not None else "held"
        content_type = row.content_type or "application/octet-stream"
        codes = [c for c in (row.removed or "").split(",") if c]
        items.append(
            Evidence(
                id=row.id,
                state=state,
                inline=state == "clean" and content_type in INLINE_IMAGES,
                downloadable=state in ("clean", "released")
                or (state == "held" and role == "custodian"),
                content_type=content_type,
                size=row.size,
                sha256=row.sha256,
                kind_name=wording.file_kind(chosen, content_type),
                size_name=wording.human_size(chosen, row.size),
                new=row.after_filing and row.id > seen,
                removed=[texts.removed_label(chosen, c) for c in codes],
                reason=texts.evidence_reason(chosen, row.held_back or row.error or ""),
                file_name=media.file_name(keys, row) if role == "custodian" else None,
                can_release=state == "held" and role == "custodian",
            )
        )
    return items


@bp.route("/cases/<int:case_id>/attachments/<int:attachment_id>")
def attachment(case_id: int, attachment_id: int) -> Any:
    """The decrypted file. Clean images inline; everything else only as a download, never
    run. A file held back (it could not be cleaned) only for the custodian, until released.
    """
    keys = runtime().keys
    with transaction() as session:
        row = session.get(Attachment, attachment_id)
        if row is None or row.case_id != case_id or row.blob_ct is None:
            abort(404)
        held = row.held_back is not None
        denied = held and row.released_at is None and current().role != "custodian"
        if not denied:
            audit(session, "attachment.view", case_id=case_id, detail=f"attachment {row.id}")
            data = media.read_content(keys, row)
            content_type = row.content_type or "application/octet-stream"
    if denied:
        with transaction() as session:
            audit(
                session, "attachment.denied", case_id=case_id, detail=f"attachment {attachment_id}"
            )
        abort(403)
    inline = not held and content_type in INLINE_IMAGES
    if held:
        # Not cleaned: never handed to a browser as anything it might render or play.
        content_type, extension = "application/octet-stream", "bin"
    else:
        extension = sanitize.EXTENSIONS.get(content_type, "bin")
    response = send_file(
        io.BytesIO(data),
        mimetype=content_type,
        as_attachment=not inline,
        # The sender's own name for the file may identify them: never used here.
        download_name=f"evidence-{attachment_id}.{extension}",
        max_age=0,
    )
    # Even if a browser were talked into rendering it, a file may run nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/cases/<int:case_id>/attachments/<int:attachment_id>/release", methods=["POST"])
@require_role("custodian", audit_action="attachment.release_denied")
def release_attachment(case_id: int, attachment_id: int) -> Any:
    """The custodian lets staff download a held-back file, with a reason, audited."""
    reason = _form_text("reason", 500)
    if len(reason) < 10:
        return _detail_with_error(case_id, texts.t(lang(), "evidence.release_reason_short"))
    with transaction() as session:
        row = session.get(Attachment, attachment_id)
        if row is None or row.case_id != case_id:
            abort(404)
        if media.release(session, attachment_id, now()):
            audit(
                session,
                "attachment.release",
                case_id=case_id,
                detail=f"attachment {attachment_id}; reason: {reason}",
            )
    return redirect(url_for("console.case_detail", case_id=case_id, _anchor="h-evidence"))


# --- triage --------------------------------------------------------------------------


@bp.route("/cases/<int:case_id>/status", methods=["POST"])
def change_status(case_id: int) -> Any:
    status = request.form.get("status") or ""
    outcome = request.form.get("outcome") or None
    note = _form_text("public_note", 2000)
    chosen = lang()
    with transaction() as session:
        case = _case_or_404(session, case_id)
        if status not in next_statuses(case.status):
            error = texts.t(chosen, "status.not_allowed")
        elif status == "closed" and outcome not in staff.OUTCOMES:
            error = texts.t(chosen, "status.needs_outcome")
        else:
            error = None
    if error:
        return _detail_with_error(case_id, error)
    with transaction() as session:
        case = repo.set_status(
            session,
            runtime().keys,
            case_id,
            status,
            now(),
            outcome=outcome if status == "closed" else None,
            public_note=note or None,
            actor=current().actor,
        )
        audit(
            session,
            "case.status",
            case_id=case_id,
            detail=f"{status}{'/' + outcome if outcome and status == 'closed' else ''}"
            f"{'; public note' if note else ''}",
        )
        ids = Notifier(runtime()).reporter_update(session, case, now())
    runtime().start_dispatcher().submit(ids)
    return redirect(url_for("console.case_detail", case_id=case_id, _anchor="status"))


def _today() -> date:
    return now().astimezone(staff.BANGKOK).date()


@bp.route("/cases/<int:case_id>/milestones", methods=["POST"])
def record_milestone(case_id: int) -> Any:
    """Record a step of the process (seed 003 §6) that starts or meets a deadline."""
    chosen = lang()
    name = request.form.get("milestone") or ""
    day = texts.read_date((request.form.get("date") or "")[:40])
    with transaction() as session:
        filed_at = _case_or_404(session, case_id).filed_at
    filed_on = filed_at.astimezone(staff.BANGKOK).date()
    if name not in MILESTONES:
        return _detail_with_error(case_id, texts.t(chosen, "milestone.err.unknown"))
    if day is None:
        return _detail_with_error(case_id, texts.t(chosen, "milestone.err.date"))
    if day > _today():
        return _detail_with_error(case_id, texts.t(chosen, "milestone.err.future"))
    if day < filed_on:
        return _detail_with_error(case_id, texts.t(chosen, "milestone.err.before_filing"))
    # Today's step is recorded at this moment; an earlier one at the start of the working day.
    at = now() if day == _today() else datetime.combine(day, time(9), tzinfo=staff.BANGKOK)
    at = max(at, filed_at)  # never before the case itself on its timeline
    with transaction() as session:
        notices.record_milestone(session, case_id, name, at.astimezone(UTC), current().actor)
        audit(session, "case.milestone", case_id=case_id, detail=f"{name} on {day.isoformat()}")
    return redirect(url_for("console.case_detail", case_id=case_id, _anchor="status"))


@bp.route("/cases/<int:case_id>/messages", methods=["POST"])
def send_message(case_id: int) -> Any:
    body = _form_text("body", 2000)
    if not body:
        return _detail_with_error(case_id, texts.t(lang(), "message.empty"))
    with transaction() as session:
        case = _case_or_404(session, case_id)
        repo.add_message(session, runtime().keys, case_id, "staff", body, now())
        audit(session, "case.message", case_id=case_id)
        ids = Notifier(runtime()).reporter_update(session, case, now())
    runtime().start_dispatcher().submit(ids)
    return redirect(url_for("console.case_detail", case_id=case_id, _anchor="messages"))


@bp.route("/cases/<int:case_id>/notes", methods=["POST"])
def add_note(case_id: int) -> Any:
    body = _form_text("body")
    if not body:
        return _detail_with_error(case_id, texts.t(lang(), "note.empty"))
    with transaction() as session:
        _case_or_404(session, case_id)
        staff.add_note(session, runtime().keys, case_id, current().username, body, now())
        audit(session, "case.note", case_id=case_id)
    return redirect(url_for("console.case_detail", case_id=case_id, _anchor="notes"))


# Never offered for masking: the category is a code, and witnesses are withheld whole.
NOT_MASKABLE = frozenset({"category"}) | texts.REDACTED_KEYS


@bp.route("/cases/<int:case_id>/redacted")
def redacted_copy(case_id: int) -> Any:
    """Seed 003 §8.1.2: before a copy leaves the centre, staff check the passages that may
    identify the reporter (seed 003 §8.2.1) and choose what to mask."""
    with transaction() as session:
        case = _case_or_404(session, case_id)
        audit(session, "case.redacted_copy", case_id=case.id)
        content = repo.case_content(session, runtime().keys, case.id)
    found = redaction.passages(content, skip=NOT_MASKABLE)
    return render(
        "redact.html",
        case=case,
        flagged=[p for p in found if p.flagged],
        others=[p for p in found if not p.flagged],
        field_name=lambda key: texts.field_label(lang(), key),
    )


@bp.route("/cases/<int:case_id>/redacted", methods=["POST"])
def redacted_print(case_id: int) -> Any:
    """The printable copy with the chosen passages and typed phrases masked. The audit log
    records who masked which passages (by place, never their text) and how many phrases."""
    chosen = lang()
    picked = request.form.getlist("mask")
    phrases = [p.strip()[:200] for p in _form_text("phrases", 4000).splitlines() if p.strip()]
    phrases = phrases[:MAX_PHRASES]
    with transaction() as session:
        case = _case_or_404(session, case_id)
        content = repo.case_content(session, runtime().keys, case.id)
    known = {p.id for p in redaction.passages(content, skip=NOT_MASKABLE)}
    if not set(picked) <= known:
        return redirect(url_for("console.redacted_copy", case_id=case_id))
    masked, count = redaction.mask(
        content,
        picked,
        phrases,
        texts.t(chosen, "redact.marker"),
        skip=NOT_MASKABLE,
    )
    places = ", ".join(sorted(set(picked), key=_passage_order)) or "none"
    printed = now()
    with transaction() as session:
        case = _case_or_404(session, case_id)
        entry = repo.audit(
            session,
            actor=current().actor,
            action="case.redacted_print",
            now=printed,
            case_id=case.id,
            detail=f"masked {places}; typed phrases {len(phrases)}; places masked {count}",
        )
        count_files = len([a for a in case.attachments if a.blob_ct is not None])
        entry_id = entry.id
    return render(
        "redacted.html",
        case=case,
        content=_content_rows(masked, redacted=True),
        attachment_count=count_files,
        district_name=_district_name,
        printed=printed,
        masked_count=count,
        masked_by=current().display_name,
        entry_id=entry_id,
    )


def _passage_order(passage_id: str) -> tuple[str, int]:
    path, _, index = passage_id.rpartition("#")
    return path, int(index) if index.isdigit() else 0


# --- sealed identity -----------------------------------------------------------------


@bp.route("/cases/<int:case_id>/identity", methods=["POST"])
@require_role("custodian", audit_action="identity.denied")
def open_identity(case_id: int) -> Any:
    """Open one case's sealed identity with the custodian's key file and passphrase.

    The audit entry is committed before anything is decrypted; the identity is only in
    this one response (no-store), never stored, cached or logged. An identity that is not
    this case's (copied from another, or sealed before binding) is refused first.
    """
    chosen = lang()
    reason = _form_text("reason", 500)
    passphrase = request.form.get("passphrase") or ""
    upload = request.files.get("key_file")
    if len(reason) < 10:
        return _detail_with_error(case_id, texts.t(chosen, "identity.reason_short"))
    if upload is None or not passphrase:
        return _detail_with_error(case_id, texts.t(chosen, "identity.need_key"))
    key_file = upload.read(MAX_KEY_FILE_BYTES + 1)
    if len(key_file) > MAX_KEY_FILE_BYTES:
        return _detail_with_error(case_id, texts.t(chosen, "identity.bad_key"))
    with transaction() as session:
        case = _case_or_404(session, case_id)
        number = case.number
        if case.identity_sealed is None:
            return _detail_with_error(case_id, texts.t(chosen, "identity.none"))
        # Checked before anything is opened or audited as an opening: an identity copied
        # from another case is refused here, so the log never claims this case's was read.
        refused, held = None, None
        try:
            held = repo.sealed_identity(runtime().keys, case)
        except LegacySealedIdentity:
            refused = "legacy"
        except MisplacedCiphertext as exc:
            log.warning("refused: %s", exc)
            refused = "misplaced"
        if refused is not None or held is None:
            audit(session, "identity.open_refused", case_id=case_id, detail=refused or "")
        else:
            audit(session, "identity.open", case_id=case_id, detail=f"reason: {reason}")
            # The other admins hear of every opening at once, on LINE (never the identity).
            ids = Notifier(runtime()).identity_opened(
                session, case, current().username, current().id, now()
            )
    if refused is not None or held is None:
        return _detail_with_error(case_id, texts.t(chosen, f"identity.{refused or 'none'}"))
    runtime().start_dispatcher().submit(ids)
    failure = "bad_key"
    try:
        key = IdentityPrivateKey.from_encrypted_file(key_file, passphrase)
        identity = key.open(held.sealed, held.case_number, draft=held.draft)
    except WrongPassphrase:
        failure = "wrong_passphrase"
    except MisplacedCiphertext as exc:
        log.warning("refused: %s", exc)
        failure = "misplaced"
    except CryptoError:
        pass
    else:
        fields = [(texts.field_label(chosen, k), v) for k, v in identity.items()]
        del identity
        return render("identity.html", case_id=case_id, number=number, fields=fields, reason=reason)
    with transaction() as session:
        audit(session, "identity.open_failed", case_id=case_id, detail=failure)
    return _detail_with_error(case_id, texts.t(chosen, f"identity.{failure}"))


# --- intake from other channels ------------------------------------------------------


@bp.route("/intake", methods=["GET", "POST"])
def intake() -> Any:
    context = {
        "channels": INTAKE_CHANNELS,
        "categories": staff.CATEGORIES,
        "districts": districts.DISTRICTS,
        "today": now().astimezone(staff.BANGKOK).date(),
        "input_day": lambda day: texts.input_date(lang(), day),
    }
    if request.method == "GET":
        return render("intake.html", form={}, **context)
    chosen = lang()
    form = {k: _form_text(k) for k in request.form if k != "csrf_token"}
    errors = _intake_errors(form)
    if errors:
        return render("intake.html", 400, form=form, errors=errors, **context)
    received_on = texts.read_date(form["received"])
    assert received_on is not None  # checked by _intake_errors
    received = datetime.combine(received_on, time(9), tzinfo=staff.BANGKOK)
    anonymous = form.get("mode") != "confidential"
    district = form.get("district") or None
    content: dict[str, Any] = {
        "category": form["category"],
        "agency": (
            {"kind": "district", "district_code": district}
            if district
            else {"kind": "other", "name": form.get("agency_name") or None}
        ),
        "official": {
            "name": form.get("official_name") or None,
            "position": form.get("official_position") or None,
        },
        "description": form.get("description"),
        "when": {"text": form.get("when") or None},
        "where": form.get("where") or None,
        "evidence_note": form.get("evidence_note") or None,
        "witnesses": form.get("witnesses") or None,
    }
    identity = None
    if not anonymous:
        identity = {
            k: form.get(f"identity_{k}", "") for k in ("name", "contact", "address", "relation")
        }
        identity = {k: v for k, v in identity.items() if v}
    token = tokens.format_token(repo.new_token_bytes())
    with transaction() as session:
        created = repo.create_case(
            session,
            runtime().keys,
            now=received.astimezone(UTC),
            token=token,
            channel=form["channel"],
            lang=form.get("reporter_lang") or chosen,
            category=form["category"],
            district_code=district,
            anonymous=anonymous,
            meets_anonymous_bar=bool(content["evidence_note"] and content["witnesses"]),
            content=content,
            identity=identity or None,
            notify_user_id=None,
        )
        audit(session, "case.intake", case_id=created.case_id, detail=f"channel {form['channel']}")
    # The token is shown in this response only (the slip), never stored in clear or logged.
    reporter_lang = form.get("reporter_lang") or chosen
    settings = runtime().settings
    return render(
        "slip.html",
        number=created.number,
        token=token,
        case_id=created.case_id,
        reporter_lang=reporter_lang,
        slip_t=lambda key, **kw: texts.t(reporter_lang, key, **kw),
        line_id=settings.line_id,
        add_friend_url=settings.add_friend_url,
        add_friend_qr=add_friend_qr(settings.add_friend_url),
        contact_website=settings.contact_website,
    )


def _intake_errors(form: dict[str, str]) -> list[str]:
    chosen = lang()
    errors = []
    if form.get("channel") not in INTAKE_CHANNELS:
        errors.append(texts.t(chosen, "intake.err.channel"))
    if form.get("category") not in staff.CATEGORIES:
        errors.append(texts.t(chosen, "intake.err.category"))
    if form.get("district") and form["district"] not in districts.BY_CODE:
        errors.append(texts.t(chosen, "intake.err.district"))
    received = texts.read_date(form.get("received", ""))
    if received is None or received > now().astimezone(staff.BANGKOK).date():
        errors.append(texts.t(chosen, "intake.err.received"))
    if not form.get("description"):
        errors.append(texts.t(chosen, "intake.err.description"))
    if form.get("mode") == "confidential" and not form.get("identity_name"):
        errors.append(texts.t(chosen, "intake.err.identity"))
    if form.get("reporter_lang") not in (None, "", "th", "en"):
        errors.append(texts.t(chosen, "intake.err.lang"))
    return errors
