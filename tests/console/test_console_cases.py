"""Case detail, evidence, redacted copies, intake slips and the audit page, via the test client."""

from __future__ import annotations

import io
import re

from consolekit import file_case, words
from PIL import Image
from sqlalchemy import select, update

from store import media, repo, staff
from store.models import AuditEntry, Case


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def _attach(bot, case_id: int, kind: str, data: bytes, content_type: str, name: str | None) -> int:
    keys = bot.runtime.keys
    with bot.runtime.db.transaction() as session:
        attachment_id = media.add_pending(
            session,
            keys,
            line_message_id=f"m{case_id}{kind}{name}",
            kind=kind,
            now=bot.runtime.clock(),
            case_id=case_id,
            file_name=name,
        )
        media.store_content(session, keys, attachment_id, media.clean(kind, data, content_type))
    return attachment_id


def test_every_view_of_a_report_is_audited(bot, console, make_account) -> None:
    case_id, number, _ = file_case(bot)
    console.login(make_account("somsri"))
    assert "ตลาดท่าเตียน" in console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    console.get(f"/console/cases/{case_id}/redacted")
    with bot.runtime.db.transaction() as session:
        entries = staff.audit_entries(session, case_id=case_id)
    assert {e.action for e in entries} == {"case.view", "case.redacted_copy"}
    assert all(e.actor == "staff:somsri" for e in entries)


def _pdf() -> bytes:
    import pikepdf

    out = io.BytesIO()
    document = pikepdf.new()
    document.add_blank_page()
    document.save(out)
    return out.getvalue()


def test_images_show_inline_and_other_files_only_download(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    image_id = _attach(bot, case_id, "image", _png(), "image/png", None)
    pdf_id = _attach(bot, case_id, "file", _pdf(), "application/pdf", "หลักฐาน.pdf")
    html_id = _attach(
        bot, case_id, "file", b"<script>alert(1)</script>", "text/html", "หลักฐาน.html"
    )
    console.login(make_account("somsri"))
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert f'<img src="/console/cases/{case_id}/attachments/{image_id}"' in page
    image = console.get(f"/console/cases/{case_id}/attachments/{image_id}")
    assert image.mimetype == "image/jpeg" and image.data.startswith(b"\xff\xd8")  # re-encoded
    assert image.headers["Content-Disposition"].startswith("inline")
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    pdf = console.get(f"/console/cases/{case_id}/attachments/{pdf_id}")
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in pdf.headers["Content-Security-Policy"]
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    # A file Krasip cannot clean (HTML here) is held back: staff may not fetch it at all.
    assert console.get(f"/console/cases/{case_id}/attachments/{html_id}").status_code == 403
    other_case, _, _ = file_case(bot)
    assert console.get(f"/console/cases/{other_case}/attachments/{image_id}").status_code == 404


def test_the_redacted_copy_masks_the_complainant_and_witnesses(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot, identity={"name": "นางสาวมาลี ปกปิด"})
    console.login(make_account("somsri"))
    checklist = console.get(f"/console/cases/{case_id}/redacted").get_data(as_text=True)
    assert "มาลี" not in checklist and "แม่ค้าร้านข้างเคียง" not in checklist
    copy = console.post(f"/console/cases/{case_id}/redacted", {}).get_data(as_text=True)
    assert "ตลาดท่าเตียน" in copy and "ปกปิดตามข้อ 8.1.2" in copy
    assert "มาลี" not in copy and "แม่ค้าร้านข้างเคียง" not in copy


def test_a_case_registered_from_a_letter_seals_the_name_and_its_slip_token_works(
    bot, console, chat, make_account
) -> None:
    console.login(make_account("somsri"))
    console.get("/console/intake")
    response = console.post(
        "/console/intake",
        {
            "channel": "letter",
            "received": "2024-05-02",
            "category": "registration",
            "district": "1001",
            "reporter_lang": "th",
            "description": "เรียกเงินค่าจดทะเบียนพาณิชย์",
            "evidence_note": "ใบเสร็จปลอม",
            "witnesses": "ผู้ประกอบการอีกสองราย",
            "mode": "confidential",
            "identity_name": "นายผู้ร้อง ลับมาก",
            "identity_contact": "02-000-0000",
        },
    )
    html = response.get_data(as_text=True)
    token = re.search(r'id="slip-token">([0-9A-Z-]{19})<', html).group(1)  # type: ignore[union-attr]
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.channel, case.anonymous, case.meets_anonymous_bar) == ("letter", False, True)
        assert case.filed_at.date().isoformat() == "2024-05-02"
        assert case.identity_sealed is not None
        assert repo.find_case_by_token(session, bot.runtime.keys, token) is not None
    detail = console.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "ลับมาก" not in detail and token not in detail
    raw = bot.stored_bytes()
    assert case.number.encode() in raw, "the scan sees what is stored"
    assert "ลับมาก".encode() not in raw and token.encode() not in raw
    assert case.number in words(chat.say(token))


def test_status_changes_follow_the_process(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    console.get(f"/console/cases/{case_id}")
    skip = console.post(f"/console/cases/{case_id}/status", {"status": "under_consideration"})
    assert skip.status_code == 400
    no_outcome = console.post(f"/console/cases/{case_id}/status", {"status": "closed"})
    assert no_outcome.status_code == 400
    assert (
        console.post(
            f"/console/cases/{case_id}/status", {"status": "preliminary_review"}
        ).status_code
        == 302
    )
    with bot.runtime.db.transaction() as session:
        assert session.get(Case, case_id).status == "preliminary_review"  # type: ignore[union-attr]


def test_the_case_list_filters_and_pages(bot, console, make_account) -> None:
    for _ in range(3):
        file_case(bot, channel="hotline_1555", category="money")
    file_case(bot, channel="email", category="assets")
    console.login(make_account("somsri"))
    page = console.get("/console/cases?channel=hotline_1555").get_data(as_text=True)
    assert page.count(">KRS-") == 3
    with bot.runtime.db.transaction() as session:
        first = staff.list_cases(session, staff.CaseFilter(), now=bot.runtime.clock(), limit=3)
        second = staff.list_cases(
            session, staff.CaseFilter(), now=bot.runtime.clock(), limit=3, cursor=first.next_cursor
        )
    numbers = [c.number for c in first.cases + second.cases]
    assert len(set(numbers)) == 4 and second.next_cursor is None
    assert numbers == sorted(numbers, reverse=True)
    one = console.get("/console/cases?q=000004").get_data(as_text=True)
    assert one.count(">KRS-") == 1


def test_tampering_with_the_audit_table_shows_on_the_audit_page(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("anong", "admin"))
    console.get(f"/console/cases/{case_id}")
    page = console.get("/console/admin/audit").get_data(as_text=True)
    assert 'id="audit-verify"' in page and "ไม่มีรายการใดถูกแก้ไขหรือลบ" in page
    with bot.runtime.db.transaction() as session:
        victim = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.view")).one()
        session.execute(
            update(AuditEntry).where(AuditEntry.id == victim.id).values(actor="staff:nobody")
        )
    page = console.get("/console/admin/audit").get_data(as_text=True)
    assert "ตรวจพบการแก้ไขบันทึก" in page
    assert f"entry {victim.id}: its content was changed" in page
