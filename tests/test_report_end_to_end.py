"""Complete reports, as a reporter files them in LINE, through the emulator and the real SDK."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from handlers import tokens
from store import media, repo
from store.crypto import IdentityPrivateKey
from store.models import Attachment, Case
from tests.conftest import Bot, Chat, Keys, texts_of

TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def photo_with_gps() -> bytes:
    """A phone photo as it leaves the camera: device model and GPS position in EXIF."""
    image = Image.new("RGB", (320, 240), (180, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "KrasipTestCam"  # Make
    exif[0x0110] = "Model-X100"  # Model
    exif[0x8825] = {1: "N", 2: (13.0, 43.0, 29.0), 3: "E", 4: (100.0, 31.0, 27.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@dataclass
class Filed:
    token: str
    case_number: str
    receipt: list[dict[str, Any]]


def _receipt(messages: list[dict[str, Any]]) -> Filed:
    plain = [m["text"] for m in messages if m["type"] == "text" and TOKEN_RE.fullmatch(m["text"])]
    assert plain, f"the receipt must carry the token as plain text: {texts_of(messages)}"
    number = re.search(r"KRS-\d{4}-\d{6}", texts_of(messages))
    assert number, "the receipt names the case number"
    return Filed(plain[0], number.group(0), messages)


THAI = {
    "official": "นายสมมติ ตัวอย่าง",
    "description": "เจ้าหน้าที่ฝ่ายทะเบียนเรียกเงินใต้โต๊ะ 5,000 บาท เพื่อเร่งออกใบอนุญาต",
    "description_more": "และไม่ออกใบเสร็จรับเงินให้",
    "where": "สำนักงานเขตบางรัก ชั้น 2 ห้องทะเบียน",
    "witnesses": "นางสมศรี ผู้ยื่นคำขอคนถัดไป",
}

ENGLISH = {
    "agency": "Department of Public Works, building control division",
    "official": "Inspector Wichai",
    "description": "The building inspector asked for 20,000 baht to sign off the permit",
    "where": "Soi Sukhumvit 55, the construction site",
    "witnesses": "My neighbour saw the payment",
    "name": "Somchai Jaidee",
    "phone": "081-234-5678",
}


def thai_report_up_to_the_evidence_step(chat: Chat) -> None:
    chat.say("ร้องเรียน")
    chat.choose("v=ok")
    chat.choose("v=anonymous")
    chat.choose("v=registration")
    chat.choose("v=district")
    picked = texts_of(chat.say("เขตบางรัก"))
    assert "บางรัก" in picked
    chat.say(THAI["official"])
    chat.choose("v=skip")
    chat.say(THAI["description"])
    chat.say(THAI["description_more"])
    chat.choose("v=done")
    chat.say("15/10/2569")
    chat.say(THAI["where"])


def file_anonymous_thai_report_with_photo(chat: Chat) -> Filed:
    thai_report_up_to_the_evidence_step(chat)
    received = texts_of(chat.send_image(photo_with_gps()))
    assert "1" in received
    chat.choose("v=done")
    chat.say(THAI["witnesses"])
    chat.choose("v=yes")
    review = texts_of(chat.last)
    assert THAI["where"] in review
    return _receipt(chat.choose("v=confirm"))


def file_confidential_english_report(chat: Chat) -> Filed:
    chat.say("report")
    chat.choose("v=ok")
    chat.choose("v=confidential")
    chat.choose("v=public_works")
    chat.choose("v=other")
    chat.say(ENGLISH["agency"])
    chat.say(ENGLISH["official"])
    chat.say("Chief building inspector")
    chat.say(ENGLISH["description"])
    chat.choose("v=done")
    chat.say("yesterday")
    chat.say(ENGLISH["where"])
    chat.say("I have a voice recording, will bring it")
    chat.choose("v=done")
    chat.say(ENGLISH["witnesses"])
    chat.say(ENGLISH["name"])
    chat.say(ENGLISH["phone"])
    chat.choose("v=witness")
    chat.choose("v=no")
    review = texts_of(chat.last)
    assert ENGLISH["name"] not in review, "the review masks the reporter's own details"
    return _receipt(chat.choose("v=confirm"))


def _case(bot: Bot, number: str) -> Case:
    with bot.runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        session.expunge(case)
        return case


def test_anonymous_thai_report_with_a_photo_is_filed_and_found_by_token(
    bot: Bot, chat: Chat
) -> None:
    filed = file_anonymous_thai_report_with_photo(chat)
    assert tokens.parse(filed.token) == filed.token

    case = _case(bot, filed.case_number)
    assert case.anonymous and case.meets_anonymous_bar
    assert case.category == "registration" and case.district_code == "1004"
    assert case.identity_sealed is None
    with bot.runtime.db.transaction() as session:
        assert repo.update_addresses(session, bot.runtime.keys, case.id) == [chat.user_id], (
            "the reporter asked for update messages"
        )
        content = repo.case_content(session, bot.runtime.keys, case.id)
    assert THAI["description"] in content["description"]
    assert THAI["description_more"] in content["description"]

    bot.run_worker()
    with bot.runtime.db.transaction() as session:
        stored = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        assert [(a.kind, a.state) for a in stored] == [("image", "stored")]

    card = texts_of(chat.say(filed.token.lower().replace("-", " ")))
    assert filed.case_number in card
    assert "ได้รับเรื่อง" in card or "รับเรื่อง" in card


def test_confidential_english_report_seals_the_identity(bot: Bot, chat: Chat, keys: Keys) -> None:
    filed = file_confidential_english_report(chat)
    case = _case(bot, filed.case_number)
    assert not case.anonymous
    with bot.runtime.db.transaction() as session:
        assert not repo.has_update_link(session, case.id), "the reporter declined updates"
    custodian = IdentityPrivateKey.from_encrypted_file(
        keys.private_key_file.read_bytes(), keys.passphrase
    )
    with bot.runtime.db.transaction() as session:
        held = repo.sealed_identity(bot.runtime.keys, session.get(Case, case.id))  # type: ignore[arg-type]
    assert held is not None and held.case_number == filed.case_number
    identity = custodian.open(held.sealed, held.case_number, draft=held.draft)
    assert identity["name"] == ENGLISH["name"]
    assert identity["line_user_id"] == chat.user_id
    with bot.runtime.db.transaction() as session:
        content = repo.case_content(session, bot.runtime.keys, case.id)
    assert ENGLISH["name"] not in str(content), "identity stays out of the case content"

    card = texts_of(chat.say(filed.token))
    assert filed.case_number in card
    assert "received" in card.lower()


def test_reporter_answers_staff_after_looking_up_the_case(bot: Bot, chat: Chat) -> None:
    filed = file_confidential_english_report(chat)
    case = _case(bot, filed.case_number)
    now = bot.runtime.clock()
    with bot.runtime.db.transaction() as session:
        repo.set_status(
            session,
            bot.runtime.keys,
            case.id,
            "preliminary_review",
            now,
            public_note="The ก.ก. office is checking the facts.",
        )
        repo.add_message(
            session,
            bot.runtime.keys,
            case.id,
            "staff",
            "Can you tell us the date of the payment?",
            now,
        )

    card = texts_of(chat.say(filed.token))
    assert "Can you tell us the date of the payment?" in card
    assert "The ก.ก. office is checking the facts." in card
    shown = texts_of(chat.say("It was on 3 November, in cash"))
    assert "It was on 3 November, in cash" in shown, "shown back before it is sent"
    chat.choose("v=send")

    with bot.runtime.db.transaction() as session:
        stored = session.get(Case, case.id)
        assert stored is not None
        bodies = [
            (m.direction, repo.message_text(bot.runtime.keys, stored, m)) for m in stored.messages
        ]
        assert ("reporter", "It was on 3 November, in cash") in bodies
        assert all(m.read_at is not None for m in stored.messages if m.direction == "staff")

    again = texts_of(chat.say(filed.token))
    assert "Can you tell us the date" not in again, "a message read once is not shown again"


def test_a_confidential_report_leaves_no_secret_in_the_database_file(bot: Bot, chat: Chat) -> None:
    filed = file_confidential_english_report(chat)
    chat.say(filed.token)
    bot.run_worker()
    raw = bot.stored_bytes()
    assert filed.case_number.encode() in raw, "the scan sees what is stored in the clear"
    secrets_ = {
        "name": ENGLISH["name"],
        "phone": ENGLISH["phone"],
        "phone digits": "0812345678",
        "LINE user id": chat.user_id,
        "description": ENGLISH["description"],
        "witnesses": ENGLISH["witnesses"],
        "token": filed.token,
        "token without dashes": filed.token.replace("-", ""),
    }
    for what, value in secrets_.items():
        assert value.encode() not in raw, f"{what} found in the database file"
        assert value.encode("utf-16-le") not in raw, f"{what} found (UTF-16) in the database file"


def test_a_full_report_logs_none_of_the_reporters_secrets(
    bot: Bot, chat: Chat, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    filed = file_confidential_english_report(chat)
    chat.say(filed.token)
    chat.say("More detail: the payment was in an envelope")
    bot.run_worker()
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records) + out + err
    assert "case " in logged and filed.case_number in logged, "the log does say what happened"
    for value in (
        ENGLISH["name"],
        ENGLISH["phone"],
        "0812345678",
        chat.user_id,
        ENGLISH["description"],
        ENGLISH["witnesses"],
        filed.token,
        filed.token.replace("-", ""),
        "payment was in an envelope",
    ):
        assert value not in logged


def test_a_photos_gps_and_device_metadata_are_gone_from_the_stored_image(
    bot: Bot, chat: Chat
) -> None:
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "the test photo has GPS"
    filed = file_anonymous_thai_report_with_photo(chat)
    bot.run_worker()
    case = _case(bot, filed.case_number)
    with bot.runtime.db.transaction() as session:
        attachment = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
        stored = media.read_content(bot.runtime.keys, attachment)
        assert attachment.sha256 and attachment.size == len(stored)
    image = Image.open(io.BytesIO(stored))
    assert image.size == (320, 240)
    assert dict(image.getexif()) == {}
    assert b"KrasipTestCam" not in stored and b"Model-X100" not in stored
    assert b"Exif" not in stored and b"GPS" not in stored


# Issue 13: a right token used to wait out the cool-down too, so a flood of wrong tokens
# locked real reporters out; now only wrong tokens wait, and a right one is always shown.
def test_a_wrong_token_gets_a_generic_answer_and_three_start_a_delay(bot: Bot, chat: Chat) -> None:
    answers = [texts_of(chat.say("7KQ2-M9XD-4FRA-8PZ" + str(n) + "")) for n in range(2, 5)]
    assert answers[0] == answers[1], "a wrong token reveals nothing about why"
    assert answers[2] != answers[0], "the third wrong token starts a delay"
    assert re.search(r"\d+", answers[2]), "the delay message says how long"
    filed = file_anonymous_thai_report_with_photo(chat)
    shown = texts_of(chat.say(filed.token))
    assert filed.case_number in shown, "a right token is answered in the middle of a delay"
