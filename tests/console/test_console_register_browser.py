"""The official's register and masking checklist in a real Chromium (issue 14, items 10,
11 and 15). Screenshots go to build/screenshots/ (docs/screenshots/ only through
``python -m tests.console.screenshots``)."""

from __future__ import annotations

from datetime import timedelta

from consolekit import SCREENSHOTS, browser_login, file_case

from store import repo


def _report(description: str, where: str) -> dict:
    return {
        "category": "city_law",
        "agency": {"kind": "district", "district_code": "1001"},
        "official": {"name": "นายสมชาย", "position": "เจ้าพนักงานเทศกิจ"},
        "description": description,
        "where": where,
        "evidence_note": "ภาพถ่ายการรับเงิน",
        "witnesses": "แม่ค้าร้านข้างเคียง",
    }


def test_an_official_sees_new_replies_in_the_register_and_finds_cases_by_their_text(
    bot, page, make_account
) -> None:
    at = bot.runtime.clock()
    replied, number, _ = file_case(
        bot, content=_report("เรียกเงินแม่ค้าข้าวแกงวันละ 200 บาท", "ปากซอยสีลม 9")
    )
    file_case(bot, content=_report("ขอค่าน้ำชาก่อนออกใบอนุญาต", "สำนักงานเขตบางรัก"))
    file_case(bot, filed_at=at - timedelta(days=40), category="registration")
    with bot.runtime.db.transaction() as session:
        repo.add_message(session, bot.runtime.keys, replied, "reporter", "ถ่ายเมื่อวันจันทร์", at)
    browser_login(page, bot, make_account("somsri", name="สมศรี ใจดี"))
    row = page.locator(f"#case-{replied}")
    assert row.locator("[data-unread=messages]").inner_text().endswith("ข้อความใหม่จากผู้แจ้ง")

    page.get_by_label("ค้นข้อความในเรื่อง").fill("ข้าวแกง")
    page.get_by_label("เฉพาะเรื่องที่มีข้อความหรือหลักฐานใหม่ที่ฉันยังไม่ได้อ่าน").check()
    page.get_by_role("button", name="กรอง").click()
    assert page.locator("table.cases tbody tr").count() == 1
    assert "ค้นข้อความใน 1 เรื่อง" in page.locator("#scan-note").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "register-unread-search.png"), full_page=True)

    page.get_by_role("link", name=number).click()
    assert "ถ่ายเมื่อวันจันทร์" in page.locator("li.msg.new").inner_text()
    page.goto("/console/cases")
    assert page.locator(f"#case-{replied} [data-unread]").count() == 0


def test_an_official_masks_identifying_passages_before_printing(bot, page, make_account) -> None:
    case_id, number, _ = file_case(
        bot,
        content=_report(
            "ดิฉันขายข้าวแกง ปากซอยสีลม 9 ทุกวัน เจ้าหน้าที่เทศกิจมาเก็บเงินทุกวันจันทร์ "
            "ติดต่อได้ที่ 081 234 5678 ลูกสาวชื่อน้องมิ้นท์ก็เห็น",
            "ปากซอยสีลม 9",
        ),
    )
    browser_login(page, bot, make_account("somsri", name="สมศรี ใจดี"))
    page.goto(f"/console/cases/{case_id}")
    page.get_by_role("link", name="สำเนาปกปิดชื่อผู้ร้องเรียน (พิมพ์ได้)").click()
    flagged = page.locator("#flagged")
    assert "เล่าในนามตัวเอง" in flagged.inner_text()
    assert "เบอร์โทรหรือช่องทางติดต่อ" in flagged.inner_text()
    assert "กล่าวถึงญาติหรือคนในครอบครัว" in flagged.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "masking-checklist.png"), full_page=True)

    # The place of the bribe may stay: untick it; mask the official's routine by hand.
    page.locator("#flagged li", has_text="ปากซอยสีลม 9").last.locator("input").uncheck()
    page.get_by_label("คำหรือข้อความอื่นที่ต้องการปิด (บรรทัดละหนึ่งรายการ)").fill("มิ้นท์")
    page.get_by_role("button", name="ปิดข้อความที่เลือกและสร้างสำเนาสำหรับพิมพ์").click()
    copy = page.locator("article.printable").inner_text()
    assert "ดิฉัน" not in copy and "081 234 5678" not in copy and "มิ้นท์" not in copy
    assert "ปากซอยสีลม 9" in copy  # unticked: the place where it happened stays
    assert "สมศรี ใจดี" in page.locator("#masked-by").inner_text()
    assert page.get_by_role("button", name="พิมพ์สำเนานี้").is_visible()
