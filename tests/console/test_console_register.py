"""The register an official works from: unread markers, search, one deadline wording, words
instead of codes, dates in พ.ศ., and the masking checklist (issue 14, items 10–13 and 15)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from consolekit import file_case
from sqlalchemy import select

from store import media, register, repo, staff
from store.models import AuditEntry

TH = staff.BANGKOK


def _row(page: str, case_id: int) -> str:
    match = re.search(rf'<tr id="case-{case_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"case {case_id} is not on the page"
    return match.group(1)


def _register(console, query: str = "") -> str:
    response = console.get(f"/console/cases{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def _reporter_says(bot, case_id: int, text: str) -> None:
    with bot.runtime.db.transaction() as session:
        repo.add_message(session, bot.runtime.keys, case_id, "reporter", text, bot.runtime.clock())


# --- item 10: unread markers -------------------------------------------------------------


def test_a_reporters_message_is_marked_new_for_each_official_until_they_open_it(
    bot, console, make_account
) -> None:
    quiet, _, _ = file_case(bot)
    case_id, _, _ = file_case(bot)
    somsri, anong = make_account("somsri", name="สมศรี ใจดี"), make_account("anong")
    console.login(somsri)
    assert "ข้อความใหม่จากผู้แจ้ง" not in _register(console)

    _reporter_says(bot, case_id, "ถ่ายเมื่อวันจันทร์")
    page = _register(console)
    assert "ข้อความใหม่จากผู้แจ้ง" in _row(page, case_id)
    assert "ข้อความใหม่จากผู้แจ้ง" not in _row(page, quiet)
    only = _register(console, "?unread=1")
    assert f'id="case-{case_id}"' in only and f'id="case-{quiet}"' not in only

    detail = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert re.search(r'class="msg reporter new".*?ถ่ายเมื่อวันจันทร์', detail, re.S)
    assert "ข้อความใหม่จากผู้แจ้ง" not in _row(_register(console), case_id)
    assert f'id="case-{case_id}"' not in _register(console, "?unread=1")

    other = type(console)(bot)
    other.login(anong)
    assert "ข้อความใหม่จากผู้แจ้ง" in _row(_register(other), case_id)  # per official


def test_evidence_sent_after_filing_is_marked_new_and_filed_evidence_is_not(
    bot, console, make_account
) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    assert "หลักฐานใหม่" not in _row(_register(console), case_id)
    with bot.runtime.db.transaction() as session:
        media.add_pending(
            session,
            bot.runtime.keys,
            line_message_id="m-late",
            kind="image",
            now=bot.runtime.clock(),
            case_id=case_id,
        )
    assert "หลักฐานใหม่" in _row(_register(console), case_id)
    console.get(f"/console/cases/{case_id}")
    assert "หลักฐานใหม่" not in _row(_register(console), case_id)


# --- item 11: search -----------------------------------------------------------------------


def _report(description: str, where: str = "ตลาดท่าเตียน") -> dict:
    return {
        "category": "city_law",
        "agency": {"kind": "district", "district_code": "1001"},
        "description": description,
        "where": where,
    }


def test_free_text_search_reads_the_decrypted_report_and_combines_with_filters(
    bot, console, make_account
) -> None:
    rice, _, _ = file_case(bot, content=_report("เรียกเงินแม่ค้าข้าวแกงวันละ 200 บาท"))
    noodles, _, _ = file_case(bot, content=_report("เรียกเงินร้านก๋วยเตี๋ยว"))
    letter, _, _ = file_case(
        bot, content=_report("ข้าวแกง ใบเสร็จปลอม", where="เขตบางรัก"), channel="letter"
    )
    console.login(make_account("somsri"))
    page = _register(console, "?text=ข้าวแกง")
    assert f'id="case-{rice}"' in page and f'id="case-{letter}"' in page
    assert f'id="case-{noodles}"' not in page
    assert 'id="scan-note"' in page
    page = _register(console, "?text=ข้าวแกง&channel=letter")
    assert f'id="case-{letter}"' in page and f'id="case-{rice}"' not in page
    # Every word must be found, in any field, whatever the case of the letters.
    page = _register(console, "?text=ใบเสร็จ+บางรัก")
    assert f'id="case-{letter}"' in page and f'id="case-{rice}"' not in page


def test_the_date_range_is_typed_in_the_buddhist_era(bot, console, make_account) -> None:
    at = bot.runtime.clock()
    old, _, _ = file_case(bot, filed_at=at - timedelta(days=40))
    new, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    since = (at - timedelta(days=10)).astimezone(TH).date()
    typed = f"{since.day}/{since.month}/{since.year + 543}"
    page = _register(console, f"?from={typed}")
    assert f'id="case-{new}"' in page and f'id="case-{old}"' not in page
    assert "อ่านเป็น" in page  # the date understood, shown beside the field
    bad = console.get("/console/cases?from=31/2/2569")
    assert bad.status_code == 400 and "อ่านวันที่ “31/2/2569” ไม่ได้" in bad.get_data(as_text=True)


def test_the_deadline_filter_uses_the_case_pages_rule(bot, console, make_account) -> None:
    at = bot.runtime.clock()
    late, _, _ = file_case(bot, filed_at=at - timedelta(days=40))
    soon, _, _ = file_case(bot, filed_at=at - timedelta(days=26))
    fresh, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    overdue = _register(console, "?deadline=overdue")
    assert f'id="case-{late}"' in overdue and f'id="case-{fresh}"' not in overdue
    due_soon = _register(console, "?deadline=soon")
    assert f'id="case-{soon}"' in due_soon and f'id="case-{late}"' not in due_soon
    ok = _register(console, "?deadline=ok")
    assert f'id="case-{fresh}"' in ok and f'id="case-{soon}"' not in ok


def test_a_search_that_runs_out_of_budget_says_so_and_continues(
    bot, console, make_account, monkeypatch
) -> None:
    at = bot.runtime.clock()
    target, _, _ = file_case(
        bot, content=_report("เจ้าหน้าที่ขอค่าน้ำชา"), filed_at=at - timedelta(days=5)
    )
    for n in range(4):
        file_case(bot, filed_at=at - timedelta(hours=n))
    monkeypatch.setattr(register, "SCAN_BUDGET", 3)
    console.login(make_account("somsri"))
    first = _register(console, "?text=น้ำชา")
    assert f'id="case-{target}"' not in first
    assert 'id="scan-partial"' in first and "ค้นต่อในเรื่องที่เก่ากว่า" in first
    more = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert more
    second = _register(console, "?" + more.group(1).split("?", 1)[1].replace("&amp;", "&"))
    assert f'id="case-{target}"' in second


# --- item 13: one deadline, one date convention ---------------------------------------------


def test_the_register_and_the_case_page_word_the_same_deadline_the_same_way(
    bot, console, make_account
) -> None:
    at = bot.runtime.clock()
    midnight = datetime.combine(at.astimezone(TH).date(), time(0), tzinfo=TH)
    if at - midnight < timedelta(minutes=5):
        bot.runtime.clock.advance(seconds=600)
    # Filed a minute after midnight: 29 days and some hours left, 30 calendar days.
    case_id, _, _ = file_case(bot, filed_at=midnight + timedelta(minutes=1))
    console.login(make_account("somsri"))
    listed = _row(_register(console), case_id)
    detail = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    shown = re.search(r'<dd id="case-deadline">(.*?)</dd>', detail, re.S)
    table = re.search(r'<tr id="deadline-subcommittee">(.*?)</tr>', detail, re.S)
    assert shown and table
    for part in (listed, shown.group(1), table.group(1)):
        assert "เหลือ 30 วัน" in part, part


def test_dates_are_typed_in_the_buddhist_era_and_no_field_is_a_gregorian_picker(
    bot, console, make_account
) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    today = bot.runtime.clock().astimezone(TH).date()
    for path in ("/console/cases", f"/console/cases/{case_id}", "/console/intake"):
        page = console.get(path).get_data(as_text=True)
        assert 'type="date"' not in page, path
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert f'value="{today.day}/{today.month}/{today.year + 543}"' in page
    typed = f"{today.day}/{today.month}/{today.year + 543}"
    response = console.post(
        f"/console/cases/{case_id}/milestones", {"milestone": "inquiry_started", "date": typed}
    )
    assert response.status_code == 302
    response = console.post(
        "/console/intake",
        {
            "channel": "letter",
            "received": typed,
            "category": "money",
            "description": "เก็บค่าธรรมเนียมโดยไม่ออกใบเสร็จ",
        },
    )
    assert response.status_code == 200 and "ใบแจ้งรหัสติดตาม" in response.get_data(as_text=True)


# --- item 12: no developer words ------------------------------------------------------------


def test_people_actions_and_files_are_shown_in_words(bot, console, make_account) -> None:
    case_id, number, _ = file_case(bot)
    with bot.runtime.db.transaction() as session:
        attachment_id = media.add_pending(
            session,
            bot.runtime.keys,
            line_message_id="m1",
            kind="image",
            now=bot.runtime.clock(),
            case_id=case_id,
        )
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, format="PNG")
    with bot.runtime.db.transaction() as session:
        media.store_content(
            session,
            bot.runtime.keys,
            attachment_id,
            media.clean("image", out.getvalue(), "image/png"),
        )
    console.login(make_account("anong", "admin", name="อนงค์ รักงาน"))
    console.post(
        f"/console/cases/{case_id}/status",
        {"status": "preliminary_review", "public_note": "รับเรื่องแล้ว"},
    )
    detail = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    timeline = detail.split('class="timeline"')[1].split("</ol>")[0]
    assert "อนงค์ รักงาน" in timeline and "staff:" not in timeline
    evidence = detail.split('class="attachments"')[1].split("</ul>")[0]
    assert "รูปภาพ" in evidence and re.search(r"\d+(\.\d)? (KB|ไบต์)", evidence)
    before_details = evidence.split("<details")[0]
    assert "image/jpeg" not in before_details and "SHA-256" not in before_details
    assert "image/jpeg" in evidence and "SHA-256" in evidence  # one click away

    audit_page = console.get("/console/admin/audit").get_data(as_text=True)
    row = re.search(r'<tr id="audit-\d+">((?:(?!</tr>).)*preliminary_review.*?)</tr>', audit_page)
    assert row, audit_page[-2000:]
    visible = row.group(1).split("<details")[0]
    assert "เปลี่ยนสถานะเป็น ตรวจสอบข้อเท็จจริงเบื้องต้น พร้อมหมายเหตุถึงผู้แจ้ง" in visible
    assert "อนงค์ รักงาน" in visible and number in visible
    assert "case.status" not in visible and "staff:anong" not in visible

    users = console.get("/console/admin/users").get_data(as_text=True)
    assert "ใช้อยู่" in users and ">ไม่ใช่<" not in users and ">ใช่<" not in users


# --- item 15: the masking checklist -------------------------------------------------------------


def test_staff_mask_identifying_passages_and_the_copy_records_who_masked_what(
    bot, console, make_account
) -> None:
    story = (
        "ดิฉันขายข้าวแกง ปากซอยสีลม 9 ทุกวัน เจ้าหน้าที่เทศกิจมาเก็บเงินทุกวันจันทร์ "
        "ติดต่อได้ที่ 081 234 5678 ลูกสาวชื่อน้องมิ้นท์ก็เห็น"
    )
    case_id, _, _ = file_case(bot, content=_report(story, where="ถนนสีลม"))
    console.login(make_account("somsri", name="สมศรี ใจดี"))
    checklist = console.get(f"/console/cases/{case_id}/redacted").get_data(as_text=True)
    flagged = checklist.split('id="flagged"')[1].split("</ul>")[0]
    for passage, reason in (
        ("ดิฉันขายข้าวแกง", "เล่าในนามตัวเอง"),
        ("ติดต่อได้ที่ 081 234 5678", "เบอร์โทรหรือช่องทางติดต่อ"),
        ("ลูกสาวชื่อน้องมิ้นท์ก็เห็น", "กล่าวถึงญาติหรือคนในครอบครัว"),
        ("ปากซอยสีลม 9 ทุกวัน", "สถานที่ทำงานหรือค้าขาย"),
    ):
        assert passage in flagged and reason in flagged, passage
    assert "เจ้าหน้าที่เทศกิจมาเก็บเงินทุกวันจันทร์" not in flagged
    ticked = re.findall(r'name="mask" value="([^"]+)" checked', checklist)
    assert ticked and "description#2" not in ticked

    copy = console.post(
        f"/console/cases/{case_id}/redacted",
        {"mask": [*ticked, "description#2"], "phrases": "สีลม"},
    ).get_data(as_text=True)
    for secret in ("ดิฉัน", "081 234 5678", "มิ้นท์", "สีลม", "เก็บเงินทุกวันจันทร์"):
        assert secret not in copy, secret
    assert "█████ (ปิดบัง)" in copy
    masked_by = re.search(r'<p class="meta" id="masked-by">(.*?)</p>', copy)
    assert masked_by and "สมศรี ใจดี" in masked_by.group(1)

    with bot.runtime.db.transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.redacted_print")
        ).one()
    assert entry.actor == "staff:somsri" and entry.case_id == case_id
    assert "description#0" in entry.detail and "description#2" in entry.detail
    assert "typed phrases 1" in entry.detail
    assert "ดิฉัน" not in entry.detail and "สีลม" not in entry.detail  # places, never text
    assert f"เลขที่ {entry.id}" in masked_by.group(1)


def test_a_passage_id_not_in_the_case_is_not_accepted(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    console.get(f"/console/cases/{case_id}/redacted")
    response = console.post(f"/console/cases/{case_id}/redacted", {"mask": "witnesses#0"})
    assert response.status_code == 302
    with bot.runtime.db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "case.redacted_print" not in actions
