"""The console's text catalogue: every staff-facing string, Thai and English, same keys.

Status, outcome and category names come from the reporter's catalogue
(``handlers.texts``) so staff and reporters see the same words for the same step.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from handlers import texts as reporter_texts
from store.staff import BANGKOK

LANGS = ("th", "en")

TH: dict[str, str] = {
    "app.name": "กระซิบ",
    "app.tagline": "ระบบงานเจ้าหน้าที่ ศปท.กทม.",
    "nav.skip": "ข้ามไปยังเนื้อหา",
    "nav.label": "เมนูหลัก",
    "nav.cases": "ทะเบียนเรื่อง",
    "nav.intake": "รับเรื่องจากช่องทางอื่น",
    "nav.statistics": "สถิติรายเดือน",
    "nav.audit": "บันทึกการตรวจสอบ",
    "nav.users": "ผู้ใช้งาน",
    "nav.line": "เชื่อมบัญชี LINE",
    "nav.outbox": "คิวส่งข้อความ",
    "nav.logout": "ออกจากระบบ",
    "nav.password": "เปลี่ยนรหัสผ่าน",
    "role.staff": "เจ้าหน้าที่",
    "role.admin": "ผู้ดูแลระบบ",
    "role.custodian": "ผู้ถือกุญแจ",
    "yes": "ใช่",
    "no": "ไม่ใช่",
    "error.title": "ไม่สามารถดำเนินการได้",
    "error.csrf": "แบบฟอร์มนี้หมดอายุหรือไม่ถูกต้อง กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง",
    "error.forbidden": ("บัญชีของคุณไม่มีสิทธิ์เข้าถึงหน้านี้ และการพยายามเข้าถึงได้ถูกบันทึกไว้แล้ว"),
    "error.not_found": "ไม่พบหน้าหรือเรื่องที่ต้องการ",
    "error.misplaced": (
        "ข้อมูลที่เก็บไว้ตรงนี้ไม่ใช่ของที่นี่ (อาจถูกคัดลอกมาจากที่อื่นหรือถูกแก้ไข) ระบบจึงไม่แสดง กรุณาแจ้งผู้ดูแลระบบ"
    ),
    "login.title": "เข้าสู่ระบบ",
    "login.username": "ชื่อผู้ใช้",
    "login.password": "รหัสผ่าน",
    "login.submit": "เข้าสู่ระบบ",
    "login.failed": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
    "login.expired": "หมดเวลาการใช้งาน กรุณาเข้าสู่ระบบอีกครั้ง",
    "login.wait": "มีการเข้าสู่ระบบผิดหลายครั้ง กรุณารอ {seconds} วินาทีแล้วลองอีกครั้ง",
    "totp.title": "ยืนยันตัวตนสองขั้นตอน",
    "totp.explain": "กรอกรหัส 6 หลักจากแอปยืนยันตัวตนในโทรศัพท์ของคุณ",
    "totp.code": "รหัส 6 หลัก",
    "totp.submit": "ยืนยัน",
    "totp.failed": "รหัสไม่ถูกต้องหรือถูกใช้ไปแล้ว",
    "enrol.title": "ตั้งค่าการยืนยันตัวตนสองขั้นตอน",
    "enrol.explain": ("บัญชีนี้ต้องใช้รหัสจากแอปยืนยันตัวตน สแกนคิวอาร์โค้ดด้วยแอป แล้วกรอกรหัส 6 หลักที่แสดง"),
    "enrol.qr_label": "คิวอาร์โค้ดสำหรับแอปยืนยันตัวตน",
    "enrol.manual": "หรือพิมพ์รหัสลับนี้ในแอป:",
    "enrol.submit": "ยืนยันและเข้าสู่ระบบ",
    "cases.title": "ทะเบียนเรื่องร้องเรียน",
    "cases.search": "เลขที่เรื่อง",
    "cases.status": "สถานะ",
    "cases.category": "ประเภท",
    "cases.district": "เขต",
    "cases.channel": "ช่องทาง",
    "cases.anonymous": "ไม่ระบุตัวตน",
    "cases.sort": "เรียงตาม",
    "cases.overdue": "เกินกำหนด 30 วัน",
    "cases.any": "ทั้งหมด",
    "cases.apply": "กรอง",
    "cases.clear": "ล้างตัวกรอง",
    "cases.number": "เลขที่เรื่อง",
    "cases.filed": "วันที่รับเรื่อง",
    "cases.reporter": "ผู้ร้องเรียน",
    "cases.deadline": "กำหนดเวลา",
    "cases.none": "ไม่พบเรื่องตามเงื่อนไขนี้",
    "cases.first_page": "« หน้าแรก",
    "cases.next_page": "หน้าถัดไป »",
    "sort.filed_desc": "รับเรื่องล่าสุดก่อน",
    "sort.filed_asc": "รับเรื่องเก่าสุดก่อน",
    "sort.updated_desc": "อัปเดตล่าสุดก่อน",
    "anon.meets": "ไม่ระบุชื่อ มีหลักฐานและพยาน",
    "anon.below": "ไม่ระบุชื่อ ข้อมูลยังไม่พอ",
    "anon.meets_long": "ไม่ระบุชื่อ — ระบุหลักฐานและพยานชัดเจน (เข้าเกณฑ์ข้อ 8.1.1)",
    "anon.below_long": "ไม่ระบุชื่อ — ยังไม่ระบุหลักฐานและพยาน (ไม่เข้าเกณฑ์ข้อ 8.1.1)",
    "anon.confidential": "ระบุตัวตน (ปิดผนึก)",
    "deadline.ok": "เหลือ {days} วัน",
    "deadline.soon": "ใกล้ครบกำหนด: เหลือ {days} วัน",
    "deadline.today": "ครบกำหนดวันนี้",
    "deadline.overdue": "เกินกำหนด {days} วัน",
    "deadline.none": "ไม่มีกำหนดค้าง",
    "deadline.due_on": "ครบกำหนด {due}",
    "deadline.filter.overdue": "เกินกำหนด",
    "deadline.filter.soon": "ใกล้ครบกำหนด (ภายใน 7 วัน)",
    "deadline.filter.ok": "ยังอยู่ในกำหนด",
    "deadline.filter.none": "ไม่มีกำหนดค้าง",
    "cases.text": "ค้นข้อความในเรื่อง",
    "cases.text_placeholder": "เช่น ชื่อเจ้าหน้าที่ สถานที่ คำที่ผู้แจ้งใช้",
    "cases.text_help": (
        "ค้นในข้อมูลที่ผู้แจ้งกรอกและหมายเหตุถึงผู้แจ้ง ระบบถอดรหัสขณะค้นเท่านั้น ไม่ทำดัชนีข้อความ "
        "จึงค้นครั้งละไม่เกิน {budget} เรื่อง เรียงตามลำดับที่เลือก ใช้ตัวกรองอื่นร่วมด้วยเพื่อให้แคบลง"
    ),
    "cases.scanned": "ค้นข้อความใน {scanned} เรื่อง พบ {found} เรื่องในหน้านี้",
    "cases.partial": ("ค้นครบ {scanned} เรื่องแล้วแต่ยังไม่สุดทะเบียน ผลด้านบนมาจากเรื่องที่ค้นแล้วเท่านั้น"),
    "cases.continue": "ค้นต่อในเรื่องที่เก่ากว่า »",
    "cases.from": "รับเรื่องตั้งแต่วันที่",
    "cases.to": "ถึงวันที่",
    "cases.date_hint": "วัน/เดือน/ปี พ.ศ. เช่น {example}",
    "cases.bad_date": "อ่านวันที่ “{value}” ไม่ได้ กรุณาพิมพ์ วัน/เดือน/ปี พ.ศ. เช่น {example}",
    "cases.date_read_as": "อ่านเป็น {day}",
    "cases.unread_only": "เฉพาะเรื่องที่มีข้อความหรือหลักฐานใหม่ที่ฉันยังไม่ได้อ่าน",
    "cases.more_filters": "ค้นหาเพิ่มเติม",
    "unread.messages": "ข้อความใหม่จากผู้แจ้ง",
    "unread.evidence": "หลักฐานใหม่",
    "unread.new": "ใหม่",
    "date.example": "5/3/2569",
    "actor.system": "ระบบ",
    "actor.cli": "ผู้ดูแลระบบ (คำสั่งบนเซิร์ฟเวอร์)",
    "size.bytes": "{n} ไบต์",
    "kind.image": "รูปภาพ",
    "kind.video": "วิดีโอ",
    "kind.audio": "เสียง",
    "kind.pdf": "เอกสาร PDF",
    "kind.document": "เอกสาร",
    "kind.file": "ไฟล์",
    "evidence.details": "รายละเอียดทางเทคนิค",
    "evidence.mime": "ชนิดไฟล์ (MIME)",
    "evidence.bytes": "ขนาด (ไบต์)",
    "evidence.sha256": "ลายนิ้วมือ SHA-256",
    "evidence.pending": "กำลังดึงไฟล์จาก LINE และลบข้อมูลแฝง",
    "audit.codes": "รหัส",
    "audit.with_note": " พร้อมหมายเหตุถึงผู้แจ้ง",
    "audit.milestone_on": "{step} เมื่อ {day}",
    "audit.reason": "เหตุผล: {reason}",
    "audit.view_intact": "ห่วงโซ่ครบถ้วน",
    "audit.view_problems": "พบปัญหาในห่วงโซ่",
    "audit.action.login": "เข้าสู่ระบบ",
    "audit.action.login.failed": "เข้าสู่ระบบไม่สำเร็จ",
    "audit.action.login.locked": "ถูกระงับการเข้าสู่ระบบชั่วคราว",
    "audit.action.logout": "ออกจากระบบ",
    "audit.action.totp.enrolled": "ตั้งค่าการยืนยันสองขั้นตอน",
    "audit.action.case.view": "เปิดดูเรื่อง",
    "audit.action.case.status": "เปลี่ยนสถานะเป็น",
    "audit.action.case.milestone": "บันทึกขั้นตอน",
    "audit.action.case.message": "ส่งข้อความถึงผู้แจ้ง",
    "audit.action.case.note": "เพิ่มบันทึกภายใน",
    "audit.action.case.intake": "รับเรื่องจากช่องทาง",
    "audit.action.case.redacted_copy": "เปิดหน้าเตรียมสำเนาปกปิดชื่อ",
    "audit.action.case.redacted_print": "สร้างสำเนาปกปิดชื่อสำหรับพิมพ์",
    "audit.action.attachment.view": "เปิดดูไฟล์หลักฐาน",
    "audit.action.attachment.denied": "ถูกปฏิเสธการเปิดไฟล์หลักฐานที่ถูกกันไว้",
    "audit.action.attachment.release": "อนุญาตให้ดาวน์โหลดไฟล์ที่ถูกกันไว้",
    "audit.action.attachment.release_denied": "ถูกปฏิเสธการอนุญาตไฟล์ (ไม่ใช่ผู้ถือกุญแจ)",
    "audit.action.identity.open": "เปิดดูตัวตนผู้ร้องเรียน",
    "audit.action.identity.open_refused": "ระบบไม่เปิดตัวตน (ข้อมูลไม่ตรงกับเรื่อง)",
    "audit.action.identity.open_failed": "เปิดตัวตนไม่สำเร็จ (กุญแจหรือรหัสผ่านไม่ถูกต้อง)",
    "audit.action.identity.denied": "ถูกปฏิเสธการเปิดตัวตน (ไม่ใช่ผู้ถือกุญแจ)",
    "audit.action.identity.rebind": "ปิดผนึกตัวตนใหม่ให้ผูกกับเลขเรื่อง",
    "audit.action.admin.denied": "ถูกปฏิเสธการเข้าหน้าผู้ดูแลระบบ",
    "audit.action.audit.view": "เปิดดูบันทึกการตรวจสอบ",
    "audit.action.statistics.export": "ดาวน์โหลดสถิติ (CSV)",
    "audit.action.outbox.retry": "ส่งข้อความ LINE ที่ค้างอีกครั้ง",
    "audit.action.notify.code_issued": "ออกรหัสเชื่อมบัญชี LINE",
    "audit.action.notify.denied": "ถูกปฏิเสธการออกรหัสกลุ่ม LINE",
    "audit.action.notify.line_linked": "เชื่อมบัญชี LINE",
    "audit.action.notify.group_registered": "ลงทะเบียนกลุ่ม LINE",
    "audit.action.staff.add": "เพิ่มบัญชีผู้ใช้",
    "audit.action.staff.disable": "ระงับบัญชีผู้ใช้",
    "audit.action.staff.totp_reset": "รีเซ็ตการยืนยันสองขั้นตอนของบัญชี",
    "audit.action.staff.password": "เปลี่ยนรหัสผ่าน",
    "audit.action.staff.password_failed": "เปลี่ยนรหัสผ่านไม่สำเร็จ (รหัสผ่านเดิมผิด)",
    "redact.title": "เตรียมสำเนาปกปิดชื่อผู้ร้องเรียน",
    "redact.help": (
        "ก่อนพิมพ์ ตรวจข้อความที่อาจทำให้รู้ว่าผู้แจ้งเป็นใคร ระบบติ๊กข้อความที่น่าจะระบุตัวไว้ให้แล้ว "
        "เอาติ๊กออกหากข้อความนั้นเปิดเผยได้ ติ๊กเพิ่มหรือพิมพ์คำที่ต้องการปิดเอง "
        "สำเนาที่พิมพ์จะบันทึกว่าใครปิดข้อความใดไว้"
    ),
    "redact.flagged": "ข้อความที่อาจระบุตัวผู้แจ้ง",
    "redact.none_flagged": "ระบบไม่พบข้อความที่น่าจะระบุตัวผู้แจ้ง โปรดตรวจข้อความทั้งหมดด้านล่างอีกครั้ง",
    "redact.others": "ข้อความอื่นทั้งหมด (ติ๊กเพื่อปิดเพิ่ม)",
    "redact.phrases": "คำหรือข้อความอื่นที่ต้องการปิด (บรรทัดละหนึ่งรายการ)",
    "redact.phrases_help": "ทุกจุดที่พบคำนี้ในสำเนาจะถูกปิด เช่น ชื่อร้าน ชื่อเล่น",
    "redact.submit": "ปิดข้อความที่เลือกและสร้างสำเนาสำหรับพิมพ์",
    "redact.reason.first_person": "เล่าในนามตัวเอง",
    "redact.reason.workplace": "สถานที่ทำงานหรือค้าขาย",
    "redact.reason.contact": "เบอร์โทรหรือช่องทางติดต่อ",
    "redact.reason.relative": "กล่าวถึงญาติหรือคนในครอบครัว",
    "redact.marker": "█████ (ปิดบัง)",
    "redact.bad_choice": "รายการที่เลือกไม่ตรงกับข้อความของเรื่องนี้ กรุณาเลือกใหม่",
    "redacted.masked_by": (
        "ปิดบังข้อความ {count} จุด โดย {name} เมื่อ {when} (บันทึกการตรวจสอบเลขที่ {entry})"
    ),
    "redacted.masked_none": (
        "ไม่ได้ปิดบังข้อความเพิ่ม ตรวจโดย {name} เมื่อ {when} (บันทึกการตรวจสอบเลขที่ {entry})"
    ),
    "redacted.print": "พิมพ์สำเนานี้",
    "redacted.back": "กลับไปแก้รายการที่ปิด",
    "users.totp_on": "ใช้อยู่",
    "users.totp_off": "ยังไม่ได้ตั้ง",
    "users.active_on": "ใช้งานได้",
    "users.active_off": "ถูกระงับ",
    "outbox.kind.reply": "ตอบกลับในแชต",
    "outbox.kind.push": "ส่งถึงผู้รับ",
    "outbox.kind.multicast": "ส่งถึงหลายคน",
    "outbox.details": "รหัสทางเทคนิค",
    "outbox.purpose.reply": "ตอบผู้ใช้ในแชต",
    "outbox.purpose.receipt": "ใบรับเรื่องถึงผู้แจ้ง",
    "outbox.purpose.update": "แจ้งผู้แจ้งว่ามีความคืบหน้า",
    "outbox.purpose.staff.digest": "สรุปรายวันถึงเจ้าหน้าที่",
    "outbox.purpose.staff.new_case": "แจ้งเจ้าหน้าที่: เรื่องใหม่",
    "outbox.purpose.staff.reporter_message": "แจ้งเจ้าหน้าที่: ข้อความใหม่จากผู้แจ้ง",
    "outbox.purpose.staff.reporter_evidence": "แจ้งเจ้าหน้าที่: หลักฐานใหม่",
    "outbox.purpose.staff.identity_opened": "แจ้งผู้ดูแล: มีการเปิดดูตัวตน",
    "outbox.purpose.staff.audit_checkpoint": "แจ้งผู้ดูแล: จุดตรวจบันทึกการตรวจสอบ",
    "outbox.purpose.staff.audit_broken": "แจ้งผู้ดูแล: บันทึกการตรวจสอบถูกแก้ไข",
    "outbox.purpose.staff.deadline": "เตือนเจ้าหน้าที่: กำหนดเวลา",
    "case.title": "เรื่อง",
    "case.redacted_link": "สำเนาปกปิดชื่อผู้ร้องเรียน (พิมพ์ได้)",
    "case.updates": "แจ้งความคืบหน้าทาง LINE",
    "case.updates_on": "ผู้แจ้งขอรับการแจ้งเตือน",
    "case.updates_off": "ไม่มี",
    "case.report": "ข้อมูลที่แจ้ง",
    "case.attachments": "หลักฐาน",
    "case.no_attachments": "ไม่มีไฟล์หลักฐาน",
    "case.attachment_pending": "กำลังดึงไฟล์ ({state})",
    "case.evidence_image": "ภาพหลักฐานที่ {n}",
    "case.file": "ไฟล์ที่ {n}",
    "evidence.cleaning_note": (
        "ก่อนจัดเก็บ ระบบลบข้อมูลแฝงที่อาจระบุตัวผู้แจ้งออกจากไฟล์หลักฐานทุกไฟล์ (เช่น ตำแหน่ง GPS "
        "รุ่นกล้อง เวลาที่ถ่าย ชื่อผู้สร้างเอกสาร) ไฟล์ที่ลบไม่ได้จะถูกกันไว้ให้ผู้ถือกุญแจตัดสิน"
    ),
    "evidence.removed": "ข้อมูลแฝงที่ลบออกแล้ว:",
    "evidence.removed_none": "ไม่พบข้อมูลแฝงที่ต้องลบ",
    "evidence.held_title": "ไฟล์นี้ถูกกันไว้",
    "evidence.held_warning": "ระบบลบข้อมูลแฝงในไฟล์นี้ไม่ได้ ไฟล์อาจมีข้อมูลที่ระบุตัวผู้แจ้งได้",
    "evidence.held_reason": "สาเหตุ:",
    "evidence.custodian_decides": "ผู้ถือกุญแจเป็นผู้ตัดสินว่าจะให้เจ้าหน้าที่ดาวน์โหลดได้หรือไม่",
    "evidence.released": "ผู้ถือกุญแจอนุญาตให้เจ้าหน้าที่ดาวน์โหลดแล้ว โปรดระวังข้อมูลที่อาจระบุตัวผู้แจ้ง",
    "evidence.release_reason": "เหตุผลที่อนุญาต (บันทึกไว้ในประวัติการใช้งาน)",
    "evidence.release": "อนุญาตให้เจ้าหน้าที่ดาวน์โหลด",
    "evidence.release_reason_short": "โปรดระบุเหตุผลที่อนุญาตอย่างน้อย 10 ตัวอักษร",
    "evidence.failed": "เก็บไฟล์นี้ไม่ได้",
    "evidence.sent_name": "ชื่อไฟล์ที่ผู้แจ้งตั้ง (เห็นเฉพาะผู้ถือกุญแจ):",
    "removed.gps": "ตำแหน่ง GPS",
    "removed.location": "ตำแหน่งที่บันทึก",
    "removed.camera": "ยี่ห้อและรุ่นกล้อง",
    "removed.device": "ยี่ห้อและรุ่นอุปกรณ์",
    "removed.serial": "หมายเลขเครื่อง",
    "removed.capture_time": "เวลาที่ถ่ายหรือบันทึก",
    "removed.dates": "วันที่สร้างและแก้ไข",
    "removed.author": "ชื่อผู้สร้างหรือเจ้าของ",
    "removed.annotation_authors": "ชื่อผู้เขียนหมายเหตุ",
    "removed.software": "ชื่อโปรแกรมที่ใช้",
    "removed.comment": "คำบรรยายและความเห็น",
    "removed.tags": "แท็ก (ชื่อเรื่อง ศิลปิน ความเห็น)",
    "removed.document_info": "คุณสมบัติเอกสาร (ชื่อเรื่อง หัวเรื่อง คำสำคัญ)",
    "removed.unique_id": "รหัสเฉพาะของภาพ",
    "removed.document_id": "รหัสเอกสาร",
    "removed.maker_note": "ข้อมูลเฉพาะของผู้ผลิต",
    "removed.thumbnail": "ภาพย่อที่ฝังไว้",
    "removed.extra_images": "ภาพอื่นที่ฝังไว้",
    "removed.frames": "เฟรมภาพเคลื่อนไหวหลังเฟรมแรก",
    "removed.exif": "ข้อมูล EXIF อื่น",
    "removed.xmp": "ข้อมูล XMP",
    "removed.iptc": "ข้อมูล IPTC",
    "removed.icc_profile": "โปรไฟล์สี",
    "removed.text": "ข้อความที่ฝังในไฟล์",
    "removed.stream_tags": "แท็กของแทร็ก",
    "removed.chapters": "บท",
    "removed.data_streams": "แทร็กข้อมูลและคำบรรยาย",
    "removed.page_metadata": "ข้อมูลแฝงประจำหน้า",
    "removed.image_metadata": "ข้อมูลแฝงของภาพในเอกสาร",
    "reason.format_not_allowed": "เป็นไฟล์ชนิดที่ระบบลบข้อมูลแฝงไม่ได้",
    "reason.damaged": "ไฟล์เสียหรือไม่ครบ",
    "reason.not_cleanable": "ลบข้อมูลแฝงไม่สำเร็จ",
    "reason.pdf_attached_files": "PDF มีไฟล์อื่นฝังอยู่",
    "reason.stored_uncleaned": "เก็บไว้ก่อนที่ระบบจะลบข้อมูลแฝงในไฟล์ชนิดนี้",
    "reason.too_large": "ขนาดภาพ (กว้าง × สูง) เกินกำหนด",
    "reason.empty": "ไฟล์ว่าง",
    "reason.gave_up": "พยายามครบจำนวนครั้งแล้วไม่สำเร็จ",
    "reason.cleaner": "การลบข้อมูลแฝงใช้หน่วยความจำหรือเวลาเกินกำหนด",
    "reason.other": "ดึงไฟล์จาก LINE ไม่ได้",
    "agency.district": "สำนักงานเขต{name}",
    "field.category": "ประเภทเรื่อง",
    "field.agency": "หน่วยงาน",
    "field.official": "เจ้าหน้าที่ที่เกี่ยวข้อง",
    "field.official_name": "ชื่อเจ้าหน้าที่ที่เกี่ยวข้อง",
    "field.official_position": "ตำแหน่งเจ้าหน้าที่",
    "field.position": "ตำแหน่ง",
    "field.description": "เกิดอะไรขึ้น",
    "field.when": "เมื่อใด",
    "field.where": "ที่ใด",
    "field.evidence_note": "หลักฐาน",
    "field.witnesses": "พยาน",
    "field.text": "ข้อความ",
    "field.date": "วันที่",
    "field.district_code": "รหัสเขต",
    "field.name_th": "ชื่อ (ไทย)",
    "field.name_en": "ชื่อ (อังกฤษ)",
    "field.name": "ชื่อ-นามสกุล",
    "field.contact": "ช่องทางติดต่อ",
    "field.address": "ที่อยู่",
    "field.relation": "ความเกี่ยวข้องกับเรื่อง",
    "field.line_user_id": "LINE user ID",
    "identity.title": "ตัวตนผู้ร้องเรียน",
    "identity.anonymous": "เรื่องนี้ไม่ระบุตัวตน ไม่มีข้อมูลตัวตนให้เปิด",
    "identity.sealed": (
        "ปิดผนึกอยู่ (ความลับทางราชการ ข้อ 8.1.2) เปิดได้เฉพาะผู้ถือกุญแจ ทีละเรื่อง พร้อมเหตุผล และทุกครั้งจะถูกบันทึก"
    ),
    "identity.custodian_only": "เฉพาะผู้ถือกุญแจเท่านั้นที่เปิดได้",
    "identity.key_file": "ไฟล์กุญแจ (identity_private.json)",
    "identity.passphrase": "รหัสผ่านของกุญแจ",
    "identity.reason": "เหตุผลในการเปิด (อย่างน้อย 10 ตัวอักษร)",
    "identity.open": "เปิดดูตัวตน (บันทึกการเปิด)",
    "identity.openings": "ประวัติการเปิดดูตัวตน",
    "identity.shown_once": ("ข้อมูลนี้แสดงครั้งเดียวในหน้านี้ ไม่ถูกเก็บหรือจดจำไว้ การเปิดครั้งนี้ถูกบันทึกแล้ว"),
    "identity.back": "กลับไปยังเรื่อง",
    "identity.reason_short": "กรุณาระบุเหตุผลอย่างน้อย 10 ตัวอักษร",
    "identity.need_key": "กรุณาเลือกไฟล์กุญแจและกรอกรหัสผ่าน",
    "identity.bad_key": "ไฟล์กุญแจไม่ถูกต้อง หรือไม่ตรงกับเรื่องนี้",
    "identity.wrong_passphrase": "รหัสผ่านไม่ถูกต้อง",
    "identity.none": "เรื่องนี้ไม่มีข้อมูลตัวตนที่ปิดผนึก",
    "identity.misplaced": (
        "ข้อมูลตัวตนที่ปิดผนึกบนเรื่องนี้ไม่ใช่ของเรื่องนี้ (อาจถูกคัดลอกมาจากเรื่องอื่นหรือถูกแก้ไข) "
        "ระบบจึงไม่เปิด และได้บันทึกไว้แล้ว กรุณาแจ้งผู้ดูแลระบบ"
    ),
    "identity.legacy": (
        "ข้อมูลตัวตนของเรื่องนี้ปิดผนึกด้วยรูปแบบเดิมซึ่งไม่ได้ผูกกับเลขเรื่อง "
        "ผู้ถือกุญแจต้องปิดผนึกใหม่ด้วยคำสั่ง krasip keys rebind ก่อน จึงจะเปิดได้"
    ),
    "status.title": "สถานะและขั้นตอน",
    "status.current_note": "หมายเหตุที่ผู้แจ้งเห็นตอนนี้:",
    "status.next": "ขั้นตอนถัดไป",
    "status.outcome": "ผลการดำเนินการ (เมื่อยุติเรื่อง)",
    "status.public_note": "หมายเหตุถึงผู้แจ้ง (ไม่บังคับ)",
    "status.public_note_help": ("ผู้แจ้งจะเห็นข้อความนี้เมื่อตรวจสถานะด้วยรหัสติดตาม ห้ามใส่ข้อมูลลับ"),
    "status.submit": "บันทึกสถานะ",
    "status.closed": "เรื่องนี้ยุติแล้ว",
    "status.not_allowed": "เปลี่ยนเป็นสถานะนี้ไม่ได้ตามขั้นตอน",
    "status.needs_outcome": "การยุติเรื่องต้องระบุผลการดำเนินการ",
    "timeline.title": "ลำดับเหตุการณ์",
    "timeline.filed": "รับเรื่อง",
    "timeline.status": "เปลี่ยนสถานะ",
    "milestone.title": "บันทึกขั้นตอนการดำเนินการ",
    "milestone.help": "ขั้นตอนที่บันทึกจะเริ่มหรือปิดกำหนดเวลาตามข้อ 6 และการเตือนทาง LINE",
    "milestone.step": "ขั้นตอน",
    "milestone.date": "วันที่ (ไม่เกินวันนี้)",
    "milestone.submit": "บันทึกขั้นตอน",
    "milestone.err.unknown": "กรุณาเลือกขั้นตอนจากรายการ",
    "milestone.err.date": "วันที่ไม่ถูกต้อง",
    "milestone.err.future": "บันทึกขั้นตอนล่วงหน้าไม่ได้ วันที่ต้องไม่เกินวันนี้",
    "milestone.err.before_filing": "วันที่ต้องไม่ก่อนวันที่รับเรื่อง",
    "milestone.subcommittee_appointed": "แต่งตั้งคณะอนุกรรมการแสวงหาข้อเท็จจริงแล้ว",
    "milestone.official_suspended": "มีคำสั่งพักราชการ",
    "milestone.official_transferred": "มีคำสั่งย้าย",
    "milestone.order_reported": "รายงานคำสั่งต่อ ศปท.กทม. แล้ว",
    "milestone.inquiry_started": "เริ่มการสอบสวนทางวินัย",
    "milestone.inquiry_progress_reported": "รายงานความคืบหน้าการสอบสวนแล้ว",
    "milestone.inquiry_report_received": "ได้รับรายงานการสอบสวน",
    "milestone.inquiry_considered": "ผู้บังคับบัญชาพิจารณารายงานการสอบสวนแล้ว",
    "milestone.result_forwarded": "ส่งผลการพิจารณาต่อแล้ว",
    "deadlines.title": "กำหนดเวลาที่ยังเปิดอยู่",
    "deadlines.none": "ไม่มีกำหนดเวลาที่ค้างอยู่",
    "deadlines.what": "กำหนด",
    "deadlines.due": "ครบกำหนด",
    "deadlines.left": "เหลือ",
    "messages.title": "ข้อความกับผู้แจ้ง",
    "messages.help": ("ผู้แจ้งอ่านข้อความเมื่อส่งรหัสติดตามในแชต และตอบกลับได้ โดยเจ้าหน้าที่ไม่รู้ว่าผู้แจ้งเป็นใคร"),
    "messages.from_staff": "เจ้าหน้าที่",
    "messages.from_reporter": "ผู้แจ้ง",
    "messages.read": "อ่านแล้ว",
    "messages.unread": "ยังไม่อ่าน",
    "messages.none": "ยังไม่มีข้อความ",
    "messages.new": "ข้อความถึงผู้แจ้ง",
    "messages.send": "ส่งข้อความ",
    "message.empty": "กรุณาพิมพ์ข้อความ",
    "notes.title": "บันทึกภายใน",
    "notes.help": "เห็นเฉพาะเจ้าหน้าที่ ผู้แจ้งไม่เห็น",
    "notes.none": "ยังไม่มีบันทึก",
    "notes.new": "บันทึกใหม่",
    "notes.add": "เพิ่มบันทึก",
    "note.empty": "กรุณาพิมพ์บันทึก",
    "redacted.title": "สำเนาเรื่องร้องเรียน (ปกปิดชื่อผู้ร้องเรียน)",
    "redacted.secret": "ลับ",
    "redacted.complainant": "ผู้ร้องเรียน",
    "redacted.concealed": "ปกปิดตามข้อ 8.1.2",
    "redacted.withheld": "ปกปิด — ขอข้อมูลได้จาก ศปท.กทม. (คุ้มครองพยาน ข้อ 8.1.3)",
    "redacted.attachments": "{count} ไฟล์ (ขอได้จาก ศปท.กทม.)",
    "redacted.footer": "พิมพ์จากระบบกระซิบ เมื่อ {when}",
    "intake.title": "รับเรื่องจากช่องทางอื่น",
    "intake.help": (
        "บันทึกเรื่องที่มาทางสายด่วน 1555 จดหมาย อีเมล มาด้วยตนเอง เว็บไซต์ "
        "Traffy Fondue หรือผ่านผู้บริหาร ให้อยู่ในทะเบียนและสถิติเดียวกัน"
    ),
    "intake.about": "การรับเรื่อง",
    "intake.received": "วันที่รับเรื่อง",
    "intake.no_district": "ไม่ใช่สำนักงานเขต / ไม่ทราบ",
    "intake.reporter_lang": "ภาษาของผู้แจ้ง",
    "intake.identity": "ตัวตนผู้ร้องเรียน",
    "intake.anonymous": "ไม่ระบุตัวตน",
    "intake.confidential": "ระบุตัวตน (ข้อมูลตัวตนจะถูกปิดผนึกทันที)",
    "intake.identity_help": ("ข้อมูลตัวตนถูกเข้ารหัสด้วยกุญแจสาธารณะ เจ้าหน้าที่จะไม่เห็นอีก เปิดได้เฉพาะผู้ถือกุญแจ"),
    "intake.submit": "บันทึกเรื่องและออกรหัสติดตาม",
    "intake.err.channel": "กรุณาเลือกช่องทาง",
    "intake.err.category": "กรุณาเลือกประเภทเรื่อง",
    "intake.err.district": "เขตไม่ถูกต้อง",
    "intake.err.received": "วันที่รับเรื่องไม่ถูกต้อง",
    "intake.err.description": "กรุณากรอกรายละเอียดเรื่อง",
    "intake.err.identity": "เรื่องที่ระบุตัวตนต้องมีชื่อผู้ร้องเรียน",
    "intake.err.lang": "ภาษาไม่ถูกต้อง",
    "slip.title": "ใบแจ้งรหัสติดตาม",
    "slip.once": ("รหัสติดตามแสดงครั้งเดียวเท่านั้น ระบบไม่เก็บรหัสนี้ไว้ กรุณาพิมพ์หรือมอบให้ผู้แจ้งตอนนี้"),
    "slip.heading": "ศปท.กทม. ได้รับเรื่องของท่านแล้ว",
    "slip.number": "เลขที่เรื่อง",
    "slip.token_label": "รหัสติดตามของท่าน (เก็บไว้เป็นความลับ):",
    "slip.how": "ติดตามความคืบหน้าได้โดยเพิ่มเพื่อน LINE กระซิบ แล้วส่งรหัสนี้ในแชต",
    "slip.line_id": "LINE ID: {line_id}",
    "slip.scan": "สแกน QR นี้ด้วยกล้องหรือแอป LINE เพื่อเพิ่มเพื่อน หรือค้นหา LINE ID ข้างบน",
    "slip.search": 'ในแอป LINE กด "เพิ่มเพื่อน" แล้วค้นหาบัญชี "กระซิบ"',
    "slip.no_line": ("ไม่ใช้ LINE? โทรสายด่วน กทม. 1555 แล้วแจ้งเลขที่เรื่องข้างบน (ไม่ต้องบอกรหัสติดตาม)"),
    "slip.website": "หรือติดต่อผ่านเว็บไซต์ {website} โดยแจ้งเลขที่เรื่อง",
    "slip.to_case": "ไปยังเรื่อง",
    "slip.another": "รับเรื่องถัดไป",
    "stats.title": "สถิติเรื่องร้องเรียนรายเดือน",
    "stats.month": "เดือน",
    "stats.year": "ปี (ค.ศ. หรือ พ.ศ.)",
    "stats.show": "แสดง",
    "stats.csv": "ดาวน์โหลด CSV",
    "stats.heading": "ประจำเดือน{month} {year}",
    "stats.total": "เรื่องร้องเรียนทั้งหมด {count} เรื่อง",
    "stats.by_channel": "จำแนกตามช่องทางและประเภท",
    "stats.matrix": "ตารางช่องทาง × ประเภท",
    "stats.by_outcome": "ผลการดำเนินการ",
    "stats.count": "จำนวน",
    "stats.sum": "รวม",
    "stats.chart": "แผนภูมิ",
    "stats.open": "อยู่ระหว่างดำเนินการ",
    "stats.none": "ไม่มีเรื่องในเดือนนี้",
    "audit.title": "บันทึกการตรวจสอบ",
    "audit.intact": "ตรวจสอบห่วงโซ่แล้ว: ไม่มีรายการใดถูกแก้ไขหรือลบ",
    "audit.broken": "ตรวจพบการแก้ไขบันทึก! ห่วงโซ่ไม่ต่อเนื่อง:",
    "audit.at": "เวลา",
    "audit.actor": "ผู้กระทำ",
    "audit.action": "การกระทำ",
    "audit.detail": "รายละเอียด",
    "users.title": "ผู้ใช้งาน",
    "users.help": (
        "เพิ่มบัญชี ระงับบัญชี และรีเซ็ตการยืนยันตัวตนสองขั้นตอนได้ที่หน้านี้ (หรือด้วยคำสั่ง krasip staff) "
        "ทุกบัญชีต้องใช้รหัสจากแอปยืนยันตัวตน และทุกการเปลี่ยนแปลงถูกบันทึกไว้"
    ),
    "users.add_title": "เพิ่มบัญชีผู้ใช้",
    "users.add": "เพิ่มบัญชี",
    "users.added": (
        "เพิ่มบัญชี {username} แล้ว กรุณาส่งรหัสผ่านชั่วคราวด้านล่างให้เจ้าของบัญชีทางช่องทางที่ปลอดภัย "
        "เมื่อเข้าสู่ระบบครั้งแรกจะต้องตั้งค่าการยืนยันตัวตนสองขั้นตอน"
    ),
    "users.password_once": "รหัสผ่านชั่วคราว (แสดงเพียงครั้งเดียว)",
    "users.add_failed": (
        "เพิ่มบัญชีไม่ได้: ชื่อผู้ใช้นี้มีอยู่แล้ว หรือไม่ถูกต้อง (ใช้อักษรภาษาอังกฤษ ตัวเลข . - _ ไม่เกิน 64 ตัว)"
    ),
    "users.actions": "จัดการ",
    "users.disable": "ระงับบัญชี",
    "users.disabled": "ระงับบัญชี {username} แล้ว และบัญชีนี้ถูกออกจากระบบทุกเครื่อง",
    "users.reset_totp": "รีเซ็ตการยืนยันสองขั้นตอน",
    "users.totp_reset": (
        "รีเซ็ตการยืนยันสองขั้นตอนของ {username} แล้ว บัญชีนี้ถูกออกจากระบบทุกเครื่อง "
        "และต้องตั้งค่าใหม่เมื่อเข้าสู่ระบบครั้งถัดไป"
    ),
    "users.not_self": "ระงับบัญชีของตัวเองไม่ได้",
    "password.title": "เปลี่ยนรหัสผ่าน",
    "password.current": "รหัสผ่านปัจจุบัน",
    "password.new": "รหัสผ่านใหม่ (อย่างน้อย 12 ตัวอักษร)",
    "password.again": "รหัสผ่านใหม่อีกครั้ง",
    "password.submit": "เปลี่ยนรหัสผ่าน",
    "password.wrong": "รหัสผ่านปัจจุบันไม่ถูกต้อง",
    "password.mismatch": "รหัสผ่านใหม่ทั้งสองช่องไม่ตรงกัน",
    "password.short": "รหัสผ่านใหม่ต้องมีอย่างน้อย 12 ตัวอักษร",
    "password.changed": "เปลี่ยนรหัสผ่านแล้ว ทุกเครื่องถูกออกจากระบบ กรุณาเข้าสู่ระบบด้วยรหัสผ่านใหม่",
    "users.name": "ชื่อ",
    "users.role": "บทบาท",
    "users.totp": "ยืนยันสองขั้นตอน",
    "users.active": "ใช้งานได้",
    "users.last_login": "เข้าระบบล่าสุด",
    "channel.line": "LINE (กระซิบ)",
    "channel.hotline_1555": "สายด่วน 1555",
    "channel.letter": "จดหมาย",
    "channel.email": "อีเมล",
    "channel.walk_in": "มาด้วยตนเอง",
    "channel.website": "เว็บไซต์",
    "channel.traffy_fondue": "Traffy Fondue",
    "channel.executives": "ผ่านผู้บริหาร กทม.",
    "fmt.year": "พ.ศ. {year}",
    "line.title": "เชื่อมบัญชี LINE ของฉัน",
    "line.help": (
        "เมื่อเชื่อมแล้ว บอทกระซิบจะแจ้งเรื่องใหม่ ข้อความจากผู้แจ้ง และกำหนดเวลาที่ใกล้ครบ"
        " ทาง LINE โดยไม่ส่งเนื้อหาของเรื่อง"
    ),
    "line.linked": "เชื่อมกับบัญชี LINE แล้ว (ตั้งแต่ {when})",
    "line.not_linked": "ยังไม่ได้เชื่อมบัญชี LINE",
    "line.mode_digest": "รับเป็นสรุปรายวัน",
    "line.mode_immediate": "รับการแจ้งเตือนทันที",
    "line.issue": "ขอรหัสเชื่อมบัญชี LINE",
    "line.issue_again": "ขอรหัสใหม่เพื่อเชื่อมบัญชี LINE อื่นแทน",
    "line.code_label": "รหัสเชื่อมบัญชี (ใช้ได้ครั้งเดียว)",
    "line.code_how": "ส่งข้อความ link {code} ถึงบอทกระซิบใน LINE ภายใน {minutes} นาที",
    "line.code_once": "รหัสนี้แสดงครั้งเดียว ระบบไม่เก็บรหัสไว้ อย่าส่งต่อให้ผู้อื่น",
    "line.group_title": "กลุ่ม LINE สำหรับการแจ้งเตือน (ผู้ดูแลระบบ)",
    "line.group_help": "กลุ่มที่ลงทะเบียนแล้วจะได้รับการแจ้งเตือนเดียวกับเจ้าหน้าที่",
    "line.group_issue": "ขอรหัสลงทะเบียนกลุ่ม",
    "line.group_code_how": ("เชิญบอทกระซิบเข้ากลุ่ม แล้วส่งข้อความ link {code} ในกลุ่มภายใน {minutes} นาที"),
    "outbox.title": "คิวส่งข้อความ LINE",
    "outbox.help": ("สถานะการส่งข้อความ ไม่แสดงผู้รับหรือเนื้อหา ข้อความที่ส่งไม่สำเร็จ (dead) ส่งใหม่ได้"),
    "outbox.counts": "จำนวนตามสถานะ",
    "outbox.state": "สถานะ",
    "outbox.state.pending": "รอส่ง",
    "outbox.state.sending": "กำลังส่ง",
    "outbox.state.sent": "ส่งแล้ว",
    "outbox.state.dead": "ส่งไม่สำเร็จ รอให้ผู้ดูแลสั่งส่งอีกครั้ง",
    "outbox.count": "จำนวน",
    "outbox.latest": "รายการล่าสุด",
    "outbox.kind": "ชนิด",
    "outbox.purpose": "วัตถุประสงค์",
    "outbox.attempts": "ครั้งที่พยายาม",
    "outbox.created": "สร้างเมื่อ",
    "outbox.error": "ข้อผิดพลาดล่าสุด",
    "outbox.action": "ดำเนินการ",
    "outbox.retry": "ส่งใหม่",
    "outbox.retry_label": "ส่งข้อความ {id} ใหม่",
    "outbox.retried": "นำข้อความ {id} กลับเข้าคิวแล้ว",
    "outbox.not_dead": "ข้อความนี้ไม่ได้อยู่ในสถานะส่งไม่สำเร็จ",
    "outbox.empty": "ไม่มีข้อความในคิว",
}

EN: dict[str, str] = {
    "app.name": "Krasip",
    "app.tagline": "Staff console, Bangkok Anti-Corruption Operation Center",
    "nav.skip": "Skip to content",
    "nav.label": "Main menu",
    "nav.cases": "Cases",
    "nav.intake": "Register a case",
    "nav.statistics": "Monthly statistics",
    "nav.audit": "Audit log",
    "nav.users": "Users",
    "nav.line": "Link my LINE",
    "nav.outbox": "Outbox",
    "nav.logout": "Log out",
    "nav.password": "Change password",
    "role.staff": "staff",
    "role.admin": "admin",
    "role.custodian": "custodian",
    "yes": "yes",
    "no": "no",
    "error.title": "This cannot be done",
    "error.csrf": "This form has expired or is not valid. Reload the page and try again.",
    "error.forbidden": "Your account may not open this page; the attempt has been recorded.",
    "error.not_found": "No such page or case.",
    "error.misplaced": (
        "Data stored here does not belong here (copied from elsewhere, or changed), "
        "so it is not shown. Tell the administrator."
    ),
    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong username or password.",
    "login.expired": "Your session has expired. Please log in again.",
    "login.wait": "Too many failed log-ins. Please wait {seconds} seconds and try again.",
    "totp.title": "Two-factor check",
    "totp.explain": "Enter the 6-digit code from the authenticator app on your phone.",
    "totp.code": "6-digit code",
    "totp.submit": "Confirm",
    "totp.failed": "Wrong or already used code.",
    "enrol.title": "Set up two-factor log-in",
    "enrol.explain": (
        "This account needs codes from an authenticator app. Scan the QR code "
        "with the app, then enter the 6-digit code it shows."
    ),
    "enrol.qr_label": "QR code for the authenticator app",
    "enrol.manual": "Or type this secret into the app:",
    "enrol.submit": "Confirm and log in",
    "cases.title": "Case register",
    "cases.search": "Case number",
    "cases.status": "Status",
    "cases.category": "Category",
    "cases.district": "District",
    "cases.channel": "Channel",
    "cases.anonymous": "Anonymous",
    "cases.sort": "Sort by",
    "cases.overdue": "Past the 30-day deadline",
    "cases.any": "Any",
    "cases.apply": "Filter",
    "cases.clear": "Clear filters",
    "cases.number": "Case number",
    "cases.filed": "Received",
    "cases.reporter": "Reporter",
    "cases.deadline": "Deadline",
    "cases.none": "No case matches.",
    "cases.first_page": "« First page",
    "cases.next_page": "Next page »",
    "sort.filed_desc": "Newest first",
    "sort.filed_asc": "Oldest first",
    "sort.updated_desc": "Recently updated",
    "anon.meets": "Anonymous, evidence and witnesses",
    "anon.below": "Anonymous, below the bar",
    "anon.meets_long": "Anonymous — states evidence and names witnesses (meets §8.1.1)",
    "anon.below_long": "Anonymous — no clear evidence and witnesses yet (below §8.1.1)",
    "anon.confidential": "Named (sealed)",
    "deadline.ok": "{days} days left",
    "deadline.soon": "Due soon: {days} days left",
    "deadline.today": "Due today",
    "deadline.overdue": "{days} days overdue",
    "deadline.none": "No open deadline",
    "deadline.due_on": "due {due}",
    "deadline.filter.overdue": "Overdue",
    "deadline.filter.soon": "Due within 7 days",
    "deadline.filter.ok": "Within the deadline",
    "deadline.filter.none": "No open deadline",
    "cases.text": "Search the text",
    "cases.text_placeholder": "e.g. an official's name, a place, the reporter's words",
    "cases.text_help": (
        "Searches what the reporter wrote and the note to the reporter. The text is decrypted "
        "only while searching and never indexed, so one search reads at most {budget} cases "
        "in the chosen order; add other filters to narrow it."
    ),
    "cases.scanned": "Searched the text of {scanned} cases; {found} found on this page",
    "cases.partial": (
        "Searched {scanned} cases without reaching the end of the register: the results above "
        "come from those cases only."
    ),
    "cases.continue": "Continue with older cases »",
    "cases.from": "Received from",
    "cases.to": "Received until",
    "cases.date_hint": "day/month/year, e.g. {example}",
    "cases.bad_date": "Could not read the date “{value}”: write day/month/year, e.g. {example}",
    "cases.date_read_as": "read as {day}",
    "cases.unread_only": "Only cases with messages or evidence I have not read",
    "cases.more_filters": "More search options",
    "unread.messages": "New message from the reporter",
    "unread.evidence": "New evidence",
    "unread.new": "new",
    "date.example": "5/3/2026",
    "actor.system": "the system",
    "actor.cli": "an administrator (server command)",
    "size.bytes": "{n} bytes",
    "kind.image": "image",
    "kind.video": "video",
    "kind.audio": "audio",
    "kind.pdf": "PDF document",
    "kind.document": "document",
    "kind.file": "file",
    "evidence.details": "Technical details",
    "evidence.mime": "File type (MIME)",
    "evidence.bytes": "Size (bytes)",
    "evidence.sha256": "SHA-256 fingerprint",
    "evidence.pending": "Being fetched from LINE and cleaned",
    "audit.codes": "Codes",
    "audit.with_note": ", with a note to the reporter",
    "audit.milestone_on": "{step} on {day}",
    "audit.reason": "reason: {reason}",
    "audit.view_intact": "chain intact",
    "audit.view_problems": "problems found in the chain",
    "audit.action.login": "Signed in",
    "audit.action.login.failed": "Sign-in failed",
    "audit.action.login.locked": "Sign-in locked for a while",
    "audit.action.logout": "Signed out",
    "audit.action.totp.enrolled": "Set up two-step verification",
    "audit.action.case.view": "Opened the case",
    "audit.action.case.status": "Changed the status to",
    "audit.action.case.milestone": "Recorded a step",
    "audit.action.case.message": "Sent a message to the reporter",
    "audit.action.case.note": "Added an internal note",
    "audit.action.case.intake": "Registered a case from",
    "audit.action.case.redacted_copy": "Opened the masking checklist",
    "audit.action.case.redacted_print": "Made a masked copy for printing",
    "audit.action.attachment.view": "Opened an evidence file",
    "audit.action.attachment.denied": "Refused a held-back evidence file",
    "audit.action.attachment.release": "Released a held-back file to staff",
    "audit.action.attachment.release_denied": "Refused to release a file (not a custodian)",
    "audit.action.identity.open": "Opened the complainant's identity",
    "audit.action.identity.open_refused": "Identity not opened (it does not belong to the case)",
    "audit.action.identity.open_failed": "Identity not opened (wrong key or passphrase)",
    "audit.action.identity.denied": "Refused to open an identity (not a custodian)",
    "audit.action.identity.rebind": "Re-sealed an identity to its case number",
    "audit.action.admin.denied": "Refused an administrator page",
    "audit.action.audit.view": "Opened the audit log",
    "audit.action.statistics.export": "Downloaded statistics (CSV)",
    "audit.action.outbox.retry": "Retried an undelivered LINE message",
    "audit.action.notify.code_issued": "Issued a LINE link code",
    "audit.action.notify.denied": "Refused a LINE group code",
    "audit.action.notify.line_linked": "Linked a LINE account",
    "audit.action.notify.group_registered": "Registered a LINE group",
    "audit.action.staff.add": "Added an account",
    "audit.action.staff.disable": "Disabled an account",
    "audit.action.staff.totp_reset": "Reset an account's two-step verification",
    "audit.action.staff.password": "Changed a password",
    "audit.action.staff.password_failed": "Password change failed (wrong current password)",
    "redact.title": "Prepare a copy with the complainant masked",
    "redact.help": (
        "Before printing, check the passages that could tell who the reporter is. Passages "
        "that look identifying are ticked already: untick one if it may stay, tick more, or "
        "type words to mask. The printed copy records who masked what."
    ),
    "redact.flagged": "Passages that may identify the reporter",
    "redact.none_flagged": (
        "Nothing looked identifying to the checker: read all the passages below once more."
    ),
    "redact.others": "All other passages (tick to mask)",
    "redact.phrases": "Other words to mask (one per line)",
    "redact.phrases_help": "Every place they occur in the copy is masked, e.g. a shop's name.",
    "redact.submit": "Mask the chosen passages and make the copy to print",
    "redact.reason.first_person": "told in the first person",
    "redact.reason.workplace": "a place of work or trade",
    "redact.reason.contact": "a phone number or other contact",
    "redact.reason.relative": "mentions a relative",
    "redact.marker": "█████ (masked)",
    "redact.bad_choice": "The choices do not match this case's text: choose again.",
    "redacted.masked_by": ("{count} places masked by {name} on {when} (audit log entry {entry})"),
    "redacted.masked_none": (
        "Nothing more masked; checked by {name} on {when} (audit log entry {entry})"
    ),
    "redacted.print": "Print this copy",
    "redacted.back": "Back to the checklist",
    "users.totp_on": "in use",
    "users.totp_off": "not set up",
    "users.active_on": "active",
    "users.active_off": "disabled",
    "outbox.kind.reply": "reply in a chat",
    "outbox.kind.push": "message to one recipient",
    "outbox.kind.multicast": "message to several recipients",
    "outbox.details": "Technical codes",
    "outbox.purpose.reply": "reply in a chat",
    "outbox.purpose.receipt": "receipt to the reporter",
    "outbox.purpose.update": "reporter told there is news",
    "outbox.purpose.staff.digest": "daily digest to staff",
    "outbox.purpose.staff.new_case": "staff told: new case",
    "outbox.purpose.staff.reporter_message": "staff told: new message from a reporter",
    "outbox.purpose.staff.reporter_evidence": "staff told: new evidence",
    "outbox.purpose.staff.identity_opened": "admins told: an identity was opened",
    "outbox.purpose.staff.audit_checkpoint": "admins told: audit checkpoint",
    "outbox.purpose.staff.audit_broken": "admins told: the audit log was changed",
    "outbox.purpose.staff.deadline": "staff warned: deadline",
    "case.title": "Case",
    "case.redacted_link": "Redacted copy, complainant masked (printable)",
    "case.updates": "LINE update messages",
    "case.updates_on": "the reporter asked for them",
    "case.updates_off": "none",
    "case.report": "The report",
    "case.attachments": "Evidence",
    "case.no_attachments": "No evidence files.",
    "case.attachment_pending": "being fetched ({state})",
    "case.evidence_image": "Evidence image {n}",
    "case.file": "File {n}",
    "evidence.cleaning_note": (
        "Before storing, Krasip removes from every evidence file the metadata that could "
        "identify the reporter (GPS position, camera model, capture time, a document's "
        "author…). A file it cannot clean is held back for the custodian to decide."
    ),
    "evidence.removed": "What was removed:",
    "evidence.removed_none": "no metadata found",
    "evidence.held_title": "Held back.",
    "evidence.held_warning": (
        "This file could not be cleaned: it may contain data that identifies the reporter."
    ),
    "evidence.held_reason": "Why:",
    "evidence.custodian_decides": "The custodian decides whether staff may download it.",
    "evidence.released": (
        "Released to staff by the custodian. Take care: it may still identify the reporter."
    ),
    "evidence.release_reason": "Reason for releasing it (kept in the audit log)",
    "evidence.release": "Release to staff",
    "evidence.release_reason_short": "Give a reason of at least 10 characters for the release.",
    "evidence.failed": "This file could not be kept",
    "evidence.sent_name": "Name the sender gave it (custodian only):",
    "removed.gps": "GPS position",
    "removed.location": "location",
    "removed.camera": "camera make and model",
    "removed.device": "device make and model",
    "removed.serial": "serial numbers",
    "removed.capture_time": "capture time",
    "removed.dates": "creation and modification dates",
    "removed.author": "author or owner",
    "removed.annotation_authors": "annotation authors",
    "removed.software": "software names",
    "removed.comment": "descriptions and comments",
    "removed.tags": "tags (title, artist, comment)",
    "removed.document_info": "document properties (title, subject, keywords)",
    "removed.unique_id": "unique image id",
    "removed.document_id": "document ID",
    "removed.maker_note": "maker notes",
    "removed.thumbnail": "embedded thumbnail",
    "removed.extra_images": "other embedded images",
    "removed.frames": "animation frames after the first",
    "removed.exif": "other EXIF data",
    "removed.xmp": "XMP metadata",
    "removed.iptc": "IPTC data",
    "removed.icc_profile": "colour profile",
    "removed.text": "embedded text",
    "removed.stream_tags": "track tags",
    "removed.chapters": "chapters",
    "removed.data_streams": "data and subtitle tracks",
    "removed.page_metadata": "per-page metadata",
    "removed.image_metadata": "metadata of images inside",
    "reason.format_not_allowed": "a file type Krasip cannot clean",
    "reason.damaged": "damaged or incomplete file",
    "reason.not_cleanable": "cleaning did not succeed",
    "reason.pdf_attached_files": "the PDF carries other files inside it",
    "reason.stored_uncleaned": "stored before Krasip could clean files of this type",
    "reason.too_large": "image dimensions over the limit",
    "reason.empty": "empty file",
    "reason.gave_up": "every attempt failed",
    "reason.cleaner": "cleaning went over its memory or time limit",
    "reason.other": "could not be fetched from LINE",
    "agency.district": "{name} District Office",
    "field.category": "Category",
    "field.agency": "Agency",
    "field.official": "Official involved",
    "field.official_name": "Name of the official",
    "field.official_position": "Position of the official",
    "field.position": "Position",
    "field.description": "What happened",
    "field.when": "When",
    "field.where": "Where",
    "field.evidence_note": "Evidence",
    "field.witnesses": "Witnesses",
    "field.text": "Text",
    "field.date": "Date",
    "field.district_code": "District code",
    "field.name_th": "Name (Thai)",
    "field.name_en": "Name (English)",
    "field.name": "Full name",
    "field.contact": "Contact",
    "field.address": "Address",
    "field.relation": "Relation to the case",
    "field.line_user_id": "LINE user ID",
    "identity.title": "Complainant's identity",
    "identity.anonymous": "This report is anonymous: there is no identity to open.",
    "identity.sealed": (
        "Sealed (an official secret, §8.1.2). Only a custodian can open it, one "
        "case at a time, with a reason; every opening is recorded."
    ),
    "identity.custodian_only": "Only a custodian can open it.",
    "identity.key_file": "Key file (identity_private.json)",
    "identity.passphrase": "Key passphrase",
    "identity.reason": "Reason for opening (at least 10 characters)",
    "identity.open": "Open the identity (recorded)",
    "identity.openings": "Openings of this identity",
    "identity.shown_once": (
        "Shown once, on this page only; not stored or cached. This opening has been recorded."
    ),
    "identity.back": "Back to the case",
    "identity.reason_short": "Give a reason of at least 10 characters.",
    "identity.need_key": "Choose the key file and enter its passphrase.",
    "identity.bad_key": "The key file is not valid or does not fit this case.",
    "identity.wrong_passphrase": "Wrong passphrase.",
    "identity.none": "This case has no sealed identity.",
    "identity.misplaced": (
        "The sealed identity on this case is not this case's (copied from another case, or "
        "changed): it was not opened, and this has been recorded. Tell the administrator."
    ),
    "identity.legacy": (
        "This identity was sealed in the old form, not bound to its case number. The "
        "custodian must re-seal it with `krasip keys rebind` before it can be opened."
    ),
    "status.title": "Status and process",
    "status.current_note": "Note the reporter sees now:",
    "status.next": "Next step",
    "status.outcome": "Outcome (when closing)",
    "status.public_note": "Note to the reporter (optional)",
    "status.public_note_help": (
        "The reporter reads this when checking the status with the token. Nothing confidential."
    ),
    "status.submit": "Save status",
    "status.closed": "This case is closed.",
    "status.not_allowed": "The process does not allow this step from the current status.",
    "status.needs_outcome": "Closing a case needs an outcome.",
    "timeline.title": "Timeline",
    "timeline.filed": "received",
    "timeline.status": "status changed",
    "milestone.title": "Record a step of the process",
    "milestone.help": "Recorded steps start or meet the §6 deadlines and their LINE warnings.",
    "milestone.step": "Step",
    "milestone.date": "Date (today or earlier)",
    "milestone.submit": "Record step",
    "milestone.err.unknown": "Choose a step from the list.",
    "milestone.err.date": "The date is not valid.",
    "milestone.err.future": (
        "A step cannot be recorded ahead of time: the date may not be after today."
    ),
    "milestone.err.before_filing": "The date may not be before the case was received.",
    "milestone.subcommittee_appointed": "Fact-finding subcommittee appointed",
    "milestone.official_suspended": "Official suspended (order)",
    "milestone.official_transferred": "Official transferred (order)",
    "milestone.order_reported": "Order reported to the Operation Center",
    "milestone.inquiry_started": "Disciplinary inquiry started",
    "milestone.inquiry_progress_reported": "Inquiry progress reported",
    "milestone.inquiry_report_received": "Inquiry report received",
    "milestone.inquiry_considered": "Superior considered the inquiry report",
    "milestone.result_forwarded": "Result forwarded onwards",
    "deadlines.title": "Open deadlines",
    "deadlines.none": "No open deadlines.",
    "deadlines.what": "Deadline",
    "deadlines.due": "Due",
    "deadlines.left": "Left",
    "messages.title": "Messages with the reporter",
    "messages.help": (
        "The reporter reads these by sending the token in the chat, and can "
        "answer; you never learn who they are."
    ),
    "messages.from_staff": "Staff",
    "messages.from_reporter": "Reporter",
    "messages.read": "read",
    "messages.unread": "not read yet",
    "messages.none": "No messages yet.",
    "messages.new": "Message to the reporter",
    "messages.send": "Send message",
    "message.empty": "Write a message first.",
    "notes.title": "Internal notes",
    "notes.help": "Staff only; never shown to the reporter.",
    "notes.none": "No notes yet.",
    "notes.new": "New note",
    "notes.add": "Add note",
    "note.empty": "Write a note first.",
    "redacted.title": "Copy of a complaint (complainant masked)",
    "redacted.secret": "SECRET",
    "redacted.complainant": "Complainant",
    "redacted.concealed": "concealed (§8.1.2)",
    "redacted.withheld": "withheld — available from the centre (witness protection, §8.1.3)",
    "redacted.attachments": "{count} file(s), available from the centre",
    "redacted.footer": "Printed from Krasip on {when}",
    "intake.title": "Register a case from another channel",
    "intake.help": (
        "Enter complaints that came by the 1555 hotline, letter, e-mail, "
        "walk-in, website, Traffy Fondue or through executives, so one register "
        "and one report cover all channels."
    ),
    "intake.about": "Receipt",
    "intake.received": "Date received",
    "intake.no_district": "Not a district office / unknown",
    "intake.reporter_lang": "Reporter's language",
    "intake.identity": "Complainant's identity",
    "intake.anonymous": "Anonymous",
    "intake.confidential": "Named (the identity is sealed at once)",
    "intake.identity_help": (
        "Identity fields are encrypted with the public key: staff will not see "
        "them again; only a custodian can open them."
    ),
    "intake.submit": "Register and issue a tracking token",
    "intake.err.channel": "Choose a channel.",
    "intake.err.category": "Choose a category.",
    "intake.err.district": "Unknown district.",
    "intake.err.received": "The date received is not valid.",
    "intake.err.description": "Describe what happened.",
    "intake.err.identity": "A named complaint needs the complainant's name.",
    "intake.err.lang": "Unknown language.",
    "slip.title": "Tracking slip",
    "slip.once": (
        "The tracking token is shown only once and is not stored. Print it or "
        "give it to the reporter now."
    ),
    "slip.heading": "The Bangkok Anti-Corruption Operation Center has received your complaint",
    "slip.number": "Case number",
    "slip.token_label": "Your tracking token (keep it secret):",
    "slip.how": (
        "To follow your case, add Krasip as a friend on LINE and send this token in the chat."
    ),
    "slip.line_id": "LINE ID: {line_id}",
    "slip.scan": (
        "Scan this QR code with the camera or the LINE app to add us, or search the LINE ID above"
    ),
    "slip.search": 'In the LINE app, tap "Add friends" and search for "Krasip"',
    "slip.no_line": (
        "No LINE? Call the BMA hotline 1555 and give the case number above "
        "(never the tracking token)"
    ),
    "slip.website": "or write through the website {website}, giving the case number",
    "slip.to_case": "Open the case",
    "slip.another": "Register another",
    "stats.title": "Monthly complaint statistics",
    "stats.month": "Month",
    "stats.year": "Year (CE or BE)",
    "stats.show": "Show",
    "stats.csv": "Download CSV",
    "stats.heading": "{month} {year}",
    "stats.total": "{count} complaints in total",
    "stats.by_channel": "By channel and category",
    "stats.matrix": "Channel × category",
    "stats.by_outcome": "Outcomes",
    "stats.count": "Count",
    "stats.sum": "Total",
    "stats.chart": "Chart",
    "stats.open": "Still in progress",
    "stats.none": "No complaints this month.",
    "audit.title": "Audit log",
    "audit.intact": "Chain verified: no entry has been changed or removed.",
    "audit.broken": "Tampering detected! The chain is broken:",
    "audit.at": "Time",
    "audit.actor": "Actor",
    "audit.action": "Action",
    "audit.detail": "Detail",
    "users.title": "Users",
    "users.help": (
        "Add accounts, disable them and reset their two-factor here (or with `krasip staff`). "
        "Every account needs a code from an authenticator app; every change is recorded."
    ),
    "users.add_title": "Add an account",
    "users.add": "Add account",
    "users.added": (
        "Account {username} added. Give its owner the temporary password below by a safe "
        "channel; at the first log-in they set up two-factor."
    ),
    "users.password_once": "Temporary password (shown only once)",
    "users.add_failed": (
        "The account was not added: the username is taken or not valid "
        "(English letters, digits, '.', '-', '_', at most 64)."
    ),
    "users.actions": "Manage",
    "users.disable": "Disable",
    "users.disabled": "Account {username} disabled and signed out everywhere.",
    "users.reset_totp": "Reset two-factor",
    "users.totp_reset": (
        "Two-factor of {username} reset: the account is signed out everywhere and sets up "
        "a new code at its next log-in."
    ),
    "users.not_self": "You cannot disable your own account.",
    "password.title": "Change password",
    "password.current": "Current password",
    "password.new": "New password (at least 12 characters)",
    "password.again": "New password again",
    "password.submit": "Change password",
    "password.wrong": "The current password is wrong.",
    "password.mismatch": "The two new passwords differ.",
    "password.short": "The new password needs at least 12 characters.",
    "password.changed": (
        "Password changed. Every session has ended: log in with the new password."
    ),
    "users.name": "Name",
    "users.role": "Role",
    "users.totp": "Two-factor",
    "users.active": "Active",
    "users.last_login": "Last log-in",
    "channel.line": "LINE (Krasip)",
    "channel.hotline_1555": "Hotline 1555",
    "channel.letter": "Letter",
    "channel.email": "E-mail",
    "channel.walk_in": "Walk-in",
    "channel.website": "Website",
    "channel.traffy_fondue": "Traffy Fondue",
    "channel.executives": "Through BMA executives",
    "fmt.year": "{year}",
    "line.title": "Link my LINE account",
    "line.help": (
        "Once linked, the Krasip bot tells you on LINE about new cases, reporters' messages "
        "and deadlines coming due, never the content of a case."
    ),
    "line.linked": "Your LINE account is linked (since {when}).",
    "line.not_linked": "No LINE account is linked yet.",
    "line.mode_digest": "as a daily digest",
    "line.mode_immediate": "at once",
    "line.issue": "Get a LINE link code",
    "line.issue_again": "Get a new code to link another LINE account instead",
    "line.code_label": "Link code (works once)",
    "line.code_how": "Send link {code} to the Krasip bot in LINE within {minutes} minutes.",
    "line.code_once": "This code is shown only once and is not stored. Do not pass it on.",
    "line.group_title": "LINE group for notifications (admins)",
    "line.group_help": "A registered group receives the same notifications as staff.",
    "line.group_issue": "Get a group registration code",
    "line.group_code_how": (
        "Invite the Krasip bot to the group, then send link {code} in the group "
        "within {minutes} minutes."
    ),
    "outbox.title": "LINE outbox",
    "outbox.help": (
        "Delivery state only: never the destination or the content. Dead letters can be retried."
    ),
    "outbox.counts": "By state",
    "outbox.state": "State",
    "outbox.state.pending": "waiting to be sent",
    "outbox.state.sending": "sending",
    "outbox.state.sent": "sent",
    "outbox.state.dead": "not delivered: waiting for an admin to retry",
    "outbox.count": "Count",
    "outbox.latest": "Latest messages",
    "outbox.kind": "Kind",
    "outbox.purpose": "Purpose",
    "outbox.attempts": "Attempts",
    "outbox.created": "Created",
    "outbox.error": "Last error",
    "outbox.action": "Action",
    "outbox.retry": "Retry",
    "outbox.retry_label": "Retry message {id}",
    "outbox.retried": "Message {id} is back in the queue.",
    "outbox.not_dead": "This message is not a dead letter.",
    "outbox.empty": "The outbox is empty.",
}

CATALOGUES = {"th": TH, "en": EN}
# Content keys a redacted copy withholds (seed 003 §8.1.3 protects witnesses too).
REDACTED_KEYS = frozenset({"witnesses"})


# Words both audiences share (month names) live once, in the reporter's catalogue.
SHARED_PREFIXES = ("month.", "month_short.")


def t(lang: str, key: str, **kw: Any) -> str:
    if key.startswith(SHARED_PREFIXES):
        return reporter_texts.t(lang, key, **kw)
    template = CATALOGUES.get(lang, TH)[key]
    return template.format(**kw) if kw else template


def label(lang: str, kind: str, key: str | None) -> str:
    """A status, outcome, category or channel name; unknown keys are shown as they are."""
    if not key:
        return "—"
    if kind == "channel":
        return CATALOGUES.get(lang, TH).get(f"channel.{key}", key)
    catalogue_key = {
        "status": f"status_name.{key}",
        "outcome": f"status_name.closed.{key}",
        "category": f"cat.{key}",
    }.get(kind)
    if catalogue_key is None:
        return key
    try:
        return reporter_texts.t(lang, catalogue_key)
    except KeyError:
        return key


def deadline_label(lang: str, kind: str) -> str:
    """A deadline of seed 003 §6, in the words the LINE warnings use."""
    try:
        return reporter_texts.t(lang, f"deadline.{kind}")
    except KeyError:
        return kind


def removed_label(lang: str, code: str) -> str:
    """A kind of metadata cleaning removed from an evidence file."""
    return CATALOGUES.get(lang, TH).get(f"removed.{code}", code)


def evidence_reason(lang: str, code: str) -> str:
    """Why a file is held back or was not kept, from the code (or error) stored with it."""
    if not code:
        return ""
    if code.startswith("refused: "):
        code = code.removeprefix("refused: ").split(" ")[0]
    elif code.startswith("gave up"):
        code = "gave_up"
    elif code.startswith(("cleaner", "cleaning")):
        code = "cleaner"
    catalogue = CATALOGUES.get(lang, TH)
    return catalogue.get(f"reason.{code}") or catalogue["reason.other"]


def field_label(lang: str, key: str) -> str:
    return CATALOGUES.get(lang, TH).get(f"field.{key}", key)


def show_year(lang: str, year: int) -> str:
    return t(lang, "fmt.year", year=year + 543 if lang == "th" else year)


def show_date(lang: str, value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(BANGKOK).date()
    month = t(lang, f"month_short.{value.month}")
    year = value.year + 543 if lang == "th" else value.year
    return f"{value.day} {month} {year}"


def show_datetime(lang: str, value: datetime | None) -> str:
    if value is None:
        return "—"
    local = value.astimezone(BANGKOK)
    return f"{show_date(lang, local)} {local:%H:%M}"


# --- dates staff type ----------------------------------------------------------------

BE_OFFSET = 543
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_NAMED_DATE = re.compile(r"^\s*(\d{1,2})\s+([^\d\s]+?)\.?\s+(\d{4})\s*$")


def _month_numbers() -> dict[str, int]:
    found = {}
    for number in range(1, 13):
        for key in (f"month.{number}", f"month_short.{number}"):
            for name in reporter_texts.variants(key):
                found[name.casefold().rstrip(".")] = number
    return found


def read_date(text: str) -> date | None:
    """A date as staff type it: "5/3/2569" (a year from 2400 is Buddhist era, as Thai
    offices write it), "5/3/2026", "5 มี.ค. 2569", "5 March 2026", or ISO "2026-03-05".
    Day first, always; None when it is not a real date."""
    value = text.strip()
    if m := _ISO_DATE.match(value):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _NUMERIC_DATE.match(value):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif (m := _NAMED_DATE.match(value)) and m[2].casefold() in _month_numbers():
        day, month, year = int(m[1]), _month_numbers()[m[2].casefold()], int(m[3])
    else:
        return None
    if year >= 2400:
        year -= BE_OFFSET
    try:
        return date(year, month, day)
    except ValueError:
        return None


def input_date(lang: str, value: date) -> str:
    """A date as a text field shows it: "5/3/2569" in Thai (พ.ศ.), "5/3/2026" in English."""
    year = value.year + BE_OFFSET if lang == "th" else value.year
    return f"{value.day}/{value.month}/{year}"
