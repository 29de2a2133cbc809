"""README "Trying it as a reporter", steps 2 to 5, through the emulator as written."""

from __future__ import annotations

import re

from tests.conftest import Chat, texts_of

TOKEN = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def test_a_first_report_goes_as_the_readme_says(chat: Chat) -> None:
    assert chat.follow(), "step 2: the bot greets you"
    chat.choose("แจ้งเบาะแส")
    if any("s=language" in a.get("data", "") for a in chat.quick_replies()):
        chat.choose("ภาษาไทย")
    chat.choose("เข้าใจแล้ว")
    chat.choose("ไม่ระบุตัวตน")
    chat.choose("เทศกิจ")
    chat.choose("สำนักงานเขต")
    chat.say("บางรัก")
    for _ in range(2):  # the official's name and position, if known
        if any(a.get("label") == "ข้าม" for a in chat.quick_replies()):
            chat.choose("ข้าม")
    chat.say("เจ้าหน้าที่เทศกิจเรียกเก็บเงินค่าที่ 300 บาททุกวันจันทร์ ไม่มีใบเสร็จ")
    chat.choose("เสร็จแล้ว")
    chat.choose("วันนี้")
    chat.say("ปากซอยสีลม 9")
    chat.choose("ไม่มีหลักฐาน")
    chat.say("แม่ค้าร้านข้างเคียงเห็นทุกครั้ง")
    for _ in range(4):  # update messages; no evidence: "send as it is"; then the review
        labels = [a.get("label", "") for a in chat.quick_replies()]
        if "ยืนยันและส่ง" in labels:
            break
        chat.choose(next(x for x in ("ไม่ต้องการ", "ส่งตามที่มี") if x in labels))
    receipt = texts_of(chat.choose("ยืนยันและส่ง", "s=review&v=confirm"))
    token = TOKEN.search(receipt)
    assert token is not None, receipt
    card = texts_of(chat.say(token.group(0)))
    assert "สถานะเรื่องของคุณ" in card
