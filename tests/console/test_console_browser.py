"""The console in a real headless Chromium: what staff, admins and custodians see and do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from consolekit import SCREENSHOTS, Account, browser_login, file_case, new_page, words
from sqlalchemy import select

import handlers
from store.models import AuditEntry


def test_admin_enrols_totp_at_first_log_in_then_needs_a_code(bot, page, make_account) -> None:
    account = make_account("anong", "admin", enrolled=False)
    page.goto("/console/login")
    page.get_by_label("ชื่อผู้ใช้").fill("anong")
    page.get_by_label("รหัสผ่าน").fill(account.password)
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    page.wait_for_url("**/console/login/enrol")
    assert page.locator("figure.qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("รหัส 6 หลัก").fill("000000")
    page.get_by_role("button", name="ยืนยันและเข้าสู่ระบบ").click()
    assert "ไม่ถูกต้อง" in page.locator("[role=alert]").inner_text()
    enrolled = Account("anong", account.password, "admin", secret)
    page.get_by_label("รหัส 6 หลัก").fill(enrolled.code(bot.runtime.clock()))
    page.get_by_role("button", name="ยืนยันและเข้าสู่ระบบ").click()
    page.wait_for_url("**/console/cases")
    page.get_by_role("button", name="ออกจากระบบ").click()
    page.wait_for_url("**/console/login")
    browser_login(page, bot, enrolled)
    assert page.get_by_role("link", name="บันทึกการตรวจสอบ").is_visible()


def test_failed_log_ins_are_slowed_and_the_right_one_gets_in_after_the_wait(
    bot, page, make_account
) -> None:
    account = make_account("somsri")
    page.goto("/console/login")
    for _ in range(5):
        page.get_by_label("ชื่อผู้ใช้").fill("somsri")
        page.get_by_label("รหัสผ่าน").fill("wrong password")
        page.get_by_role("button", name="เข้าสู่ระบบ").click()
        assert "ไม่ถูกต้อง" in page.locator("[role=alert]").inner_text()
    page.get_by_label("ชื่อผู้ใช้").fill("somsri")
    page.get_by_label("รหัสผ่าน").fill(account.password)
    with page.expect_response(lambda r: r.url.endswith("/console/login")) as answered:
        page.get_by_role("button", name="เข้าสู่ระบบ").click()
    assert answered.value.status == 429
    assert "กรุณารอ" in page.locator("[role=alert]").inner_text()
    assert "/console/cases" not in page.url
    bot.runtime.clock.advance(seconds=int(answered.value.headers["retry-after"]))
    browser_login(page, bot, account)


@pytest.mark.parametrize(
    ("scheme", "bot_overrides"),
    [("http", {}), ("https", {"env": "production"})],
    ids=["http-development", "https-production"],
)
def test_log_in_change_a_status_and_open_an_identity(
    bot, browser, request, keys, make_account, scheme
) -> None:
    """Over https every form is checked for its origin and the cookie is __Host-, Secure:
    the flow that failed in finding 3 (every form refused over https) now passes."""
    base = request.getfixturevalue("https_url") if scheme == "https" else bot.url
    page = new_page(browser, base, ignore_https_errors=scheme == "https")
    try:
        case_id, number, _ = file_case(
            bot, identity={"name": "นางสาวมาลี ปกปิด", "contact": "081-000-0000"}
        )
        browser_login(page, bot, make_account("kanya", "custodian"))
        cookies = {c["name"]: c for c in page.context.cookies()}
        if scheme == "https":
            assert page.url.startswith("https://")
            session_cookie = cookies["__Host-krasip"]
            assert session_cookie["secure"] and session_cookie["httpOnly"]
            assert session_cookie["sameSite"] == "Lax" and session_cookie["path"] == "/"
            assert cookies["__Host-krasip-device"]["secure"]
        else:
            assert "session" in cookies and not cookies["session"]["secure"]
        page.get_by_role("link", name=number).click()
        page.get_by_label("ขั้นตอนถัดไป").select_option("preliminary_review")
        page.get_by_role("button", name="บันทึกสถานะ").click()
        assert "ตรวจสอบข้อเท็จจริงเบื้องต้น" in page.locator("#case-status").inner_text()

        page.set_input_files("#key_file", str(keys.private_key_file))
        page.get_by_label("รหัสผ่านของกุญแจ").fill(keys.passphrase)
        page.get_by_label("เหตุผลในการเปิด (อย่างน้อย 10 ตัวอักษร)").fill(
            "คณะอนุกรรมการขอให้ติดต่อผู้ร้องเพื่อให้ถ้อยคำ"
        )
        page.get_by_role("button", name="เปิดดูตัวตน (บันทึกการเปิด)").click()
        assert "นางสาวมาลี ปกปิด" in page.locator("dl.identity-opened").inner_text()

        page.get_by_role("button", name="ออกจากระบบ").click()
        page.wait_for_url("**/console/login")
    finally:
        page.context.close()
    with bot.runtime.db.transaction() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "identity.open" in actions and "logout" in actions


def test_an_admin_adds_an_account_and_resets_its_two_factor(bot, page, make_account) -> None:
    browser_login(page, bot, make_account("anong", "admin"))
    page.get_by_role("link", name="ผู้ใช้งาน").click()
    page.get_by_label("ชื่อผู้ใช้").fill("malee")
    page.get_by_label("ชื่อ", exact=True).fill("มาลี ใจดี")
    page.get_by_label("บทบาท").select_option("staff")
    page.get_by_role("button", name="เพิ่มบัญชี").click()
    assert "เพิ่มบัญชี malee แล้ว" in page.locator("[role=status]").inner_text()
    assert page.locator("#new-password").inner_text().strip()
    page.get_by_role("button", name="รีเซ็ตการยืนยันสองขั้นตอน: malee").click()
    assert "รีเซ็ตการยืนยันสองขั้นตอนของ malee แล้ว" in page.locator("[role=status]").inner_text()
    page.get_by_role("button", name="ระงับบัญชี: malee").click()
    assert "ระงับบัญชี malee แล้ว" in page.locator("[role=status]").inner_text()
    row = page.locator("#account-malee").inner_text()
    assert "ถูกระงับ" in row  # no longer active


def test_triage_to_a_closed_outcome_with_a_note_the_reporter_reads(
    bot, page, chat, make_account
) -> None:
    for category in ("procurement", "public_works", "environment"):
        file_case(bot, category=category, channel="traffy_fondue")
    file_case(bot, filed_at=bot.runtime.clock() - timedelta(days=40), category="registration")
    case_id, number, token = file_case(bot, notify_user_id=chat.user_id)
    browser_login(page, bot, make_account("somsri", name="สมศรี ใจดี"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert page.locator(".badge.overdue").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "case-list.png"), full_page=True)
    page.get_by_role("link", name=number).click()
    assert "ตลาดท่าเตียน" in page.locator("dl.report").inner_text()
    page.get_by_label("ขั้นตอนถัดไป").select_option("preliminary_review")
    page.get_by_role("button", name="บันทึกสถานะ").click()
    assert "ตรวจสอบข้อเท็จจริงเบื้องต้น" in page.locator("#case-status").inner_text()
    page.get_by_label("ขั้นตอนถัดไป").select_option("closed")
    page.get_by_label("ผลการดำเนินการ (เมื่อยุติเรื่อง)").select_option("forwarded_agency")
    note = "ส่งเรื่องให้สำนักงานเขตพระนครดำเนินการแล้ว"
    page.get_by_label("หมายเหตุถึงผู้แจ้ง (ไม่บังคับ)").fill(note)
    page.get_by_role("button", name="บันทึกสถานะ").click()
    assert "ส่งต่อให้หน่วยงานดำเนินการ" in page.locator("#case-status").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "case-detail.png"), full_page=True)

    bot.settle()
    pushed = words(chat.new_messages())
    assert handlers.update_notice("th")[0]["text"] in pushed
    assert note not in pushed  # a push says only that there is news
    card = words(chat.say(token))
    assert note in card
    assert "ส่งต่อให้หน่วยงานดำเนินการ" in card


def test_staff_and_reporter_exchange_messages(bot, page, chat, make_account) -> None:
    case_id, number, token = file_case(bot)
    browser_login(page, bot, make_account("somsri"))
    page.goto(f"/console/cases/{case_id}")
    question = "ช่วยระบุวันที่ถ่ายภาพได้หรือไม่"
    page.get_by_label("ข้อความถึงผู้แจ้ง").fill(question)
    page.get_by_role("button", name="ส่งข้อความ").click()
    assert question in page.locator("ol.thread").inner_text()
    assert "ยังไม่อ่าน" in page.locator("ol.thread").inner_text()

    assert question in words(chat.say(token))
    answer = "ถ่ายเมื่อวันจันทร์ที่ 6 กุมภาพันธ์"
    chat.say(answer)
    chat.choose("ส่งถึงศูนย์")  # the reporter confirms what goes to the centre

    page.reload()
    thread = page.locator("ol.thread").inner_text()
    assert answer in thread
    assert "อ่านแล้ว" in thread


def test_a_custodian_opens_an_identity_with_a_reason_and_it_is_audited(
    bot, page, keys, make_account
) -> None:
    case_id, number, _ = file_case(
        bot, identity={"name": "นางสาวมาลี ปกปิด", "contact": "081-000-0000"}
    )
    browser_login(page, bot, make_account("kanya", "custodian"))
    page.goto(f"/console/cases/{case_id}")
    assert "นางสาวมาลี" not in page.content()
    reason = "คณะอนุกรรมการขอให้ติดต่อผู้ร้องเพื่อให้ถ้อยคำ"
    page.set_input_files("#key_file", str(keys.private_key_file))
    page.get_by_label("รหัสผ่านของกุญแจ").fill(keys.passphrase)
    page.get_by_label("เหตุผลในการเปิด (อย่างน้อย 10 ตัวอักษร)").fill(reason)
    with page.expect_response(lambda r: r.url.endswith("/identity")) as opened:
        page.get_by_role("button", name="เปิดดูตัวตน (บันทึกการเปิด)").click()
    assert "no-store" in opened.value.headers["cache-control"]
    assert "นางสาวมาลี ปกปิด" in page.locator("dl.identity-opened").inner_text()

    with bot.runtime.db.transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "identity.open")
        ).one()
        assert entry.actor == "staff:kanya" and entry.case_id == case_id
        assert reason in entry.detail and "มาลี" not in entry.detail
    page.goto(f"/console/cases/{case_id}")
    assert reason in page.locator("ul.openings").inner_text()
    assert "นางสาวมาลี" not in page.content()


def test_a_staff_account_is_refused_the_identity(bot, page, keys, make_account) -> None:
    case_id, _, _ = file_case(bot, identity={"name": "นางสาวมาลี ปกปิด"})
    browser_login(page, bot, make_account("somsri"))
    page.goto(f"/console/cases/{case_id}")
    assert page.locator("#key_file").count() == 0
    assert "เฉพาะผู้ถือกุญแจ" in page.locator("section.identity").inner_text()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        f"/console/cases/{case_id}/identity",
        multipart={
            "csrf_token": token,
            "reason": "I just want to know who it is",
            "passphrase": keys.passphrase,
            "key_file": {
                "name": "identity_private.json",
                "mimeType": "application/json",
                "buffer": keys.private_key_file.read_bytes(),
            },
        },
    )
    assert response.status == 403
    assert "มาลี" not in response.text()
    with bot.runtime.db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "identity.denied" in actions and "identity.open" not in actions


def test_a_report_containing_html_and_script_is_shown_inert(bot, page, make_account) -> None:
    hostile = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    case_id, _, _ = file_case(
        bot, content={"category": "other", "description": hostile, "where": "<b>bold</b>"}
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, bot, make_account("somsri"))
    page.goto(f"/console/cases/{case_id}")
    report = page.locator("dl.report")
    assert hostile in report.inner_text()
    assert "<b>bold</b>" in report.inner_text()
    assert report.locator("script, img, b").count() == 0
    assert page.evaluate("window.pwned === undefined")
    assert not dialogs
