"""A confidential reporter's identity is sealed to the custodian's key the moment it is
typed (issue 10): the draft — which the server itself can decrypt, and a stolen server
with it — never holds the name or the contact; the review card shows them masked; the
filed case's identity opens for the custodian only, and only on its own case."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers import handle
from handlers.model import Context, Incoming
from store import repo
from store.crypto import IdentityPrivateKey, MisplacedCiphertext
from store.models import Case
from tests.conftest import Bot, Chat, Keys, texts_of

NAME = "สมหญิง ใจกล้าหาญ"
CONTACT = "081-234-5678"
# Every form a stored copy of them could take: the whole, each word, the bare digits.
NAME_FORMS = [NAME, *NAME.split(), NAME.replace(" ", "")]
CONTACT_FORMS = [CONTACT, "0812345678", "812345678", "+66812345678", "234-5678", "2345678"]
NUMBER_RE = re.compile(r"KRS-\d{4}-\d{6}")
TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def confidential_report_up_to_review(
    chat: Chat, name: str = NAME, contact: str = CONTACT
) -> list[dict[str, Any]]:
    """A Thai confidential report typed in LINE up to the review card; returns the card."""
    chat.say("ร้องเรียน")
    chat.choose("v=ok")
    chat.choose("v=confidential")
    chat.choose("v=registration")
    chat.choose("v=district")
    chat.say("เขตบางรัก")
    chat.say("นายสมมติ ตัวอย่าง")
    chat.choose("v=skip")
    chat.say("เจ้าหน้าที่ทะเบียนเรียกเงิน 3,000 บาท เพื่อเร่งออกใบอนุญาต")
    chat.choose("v=done")
    chat.say("15/10/2569")
    chat.say("สำนักงานเขตบางรัก ชั้น 2")
    chat.say("มีสำเนาใบเสร็จที่ไม่ถูกต้อง")
    chat.choose("v=done")
    chat.say("ผู้ยื่นคำขอคนถัดไป")
    chat.say(name)
    chat.say(contact)
    chat.choose("v=insider")
    return chat.choose("v=no")


def file_confidential_report(chat: Chat, name: str = NAME, contact: str = CONTACT) -> str:
    """Files the report; returns its case number."""
    confidential_report_up_to_review(chat, name, contact)
    receipt = texts_of(chat.choose("v=confirm"))
    found = NUMBER_RE.search(receipt)
    assert found and TOKEN_RE.search(receipt), "a receipt with number and token"
    return found.group(0)


def draft_state(bot: Bot, chat: Chat) -> dict[str, Any] | None:
    """The reporter's conversation state as the server decrypts it (its own keys suffice),
    read in a transaction that is rolled back."""
    with Session(bot.runtime.db.engine) as session:
        try:
            held = repo.lock_conversation(
                session, bot.runtime.keys, chat.user_id, bot.runtime.clock()
            )
            return held.state
        finally:
            session.rollback()


def custodian(keys: Keys) -> IdentityPrivateKey:
    return IdentityPrivateKey.from_encrypted_file(
        keys.private_key_file.read_bytes(), keys.passphrase
    )


def case_by_number(session: Session, number: str) -> Case:
    return session.scalars(select(Case).where(Case.number == number)).one()


def open_identity(bot: Bot, key: IdentityPrivateKey, number: str) -> dict[str, str]:
    """What the custodian reads for case ``number``: the console's and CLI's path."""
    with bot.runtime.db.transaction() as session:
        held = repo.sealed_identity(bot.runtime.keys, case_by_number(session, number))
    assert held is not None
    return key.open(held.sealed, held.case_number, draft=held.draft)


def test_name_and_contact_are_sealed_in_the_draft_and_shown_masked(
    bot: Bot, chat: Chat, keys: Keys
) -> None:
    card = texts_of(confidential_report_up_to_review(chat))
    assert "ส*** ใ***" in card and "08••••••78" in card, "the review shows them masked"
    for form in NAME_FORMS + CONTACT_FORMS:
        assert form not in card

    state = draft_state(bot, chat)
    assert state is not None and state["mode"] == "form" and state["step"] == "review"
    clear = json.dumps(state, ensure_ascii=False)
    for form in NAME_FORMS + CONTACT_FORMS:
        assert form not in clear, "the draft the server can read holds no identity"
    answers = state["form"]
    assert {answers[f]["masked"] for f in ("reporter_name", "reporter_contact")} == {
        "ส*** ใ***",
        "08••••••78",
    }
    # What the draft holds is sealed to the custodian's key: only that key opens it.
    assert all(isinstance(answers[f]["sealed"], str) for f in ("reporter_name", "reporter_contact"))

    raw = bot.stored_bytes()
    assert raw, "the scan sees what is stored"
    for form in NAME_FORMS + CONTACT_FORMS:
        assert form.encode() not in raw, f"{form!r} is stored in some form"


def test_the_custodian_opens_the_whole_record_on_its_own_case_only(
    bot: Bot, chat: Chat, new_chat: Any, keys: Keys
) -> None:
    number = file_confidential_report(chat)
    key = custodian(keys)
    assert open_identity(bot, key, number) == {
        "name": NAME,
        "contact": CONTACT,
        "relation": "insider",
        "line_user_id": chat.user_id,
    }
    other = file_confidential_report(new_chat(), "วิชัย ใจดี", "02-224-2963")
    with bot.runtime.db.transaction() as session:
        first, second = case_by_number(session, number), case_by_number(session, other)
        sealed, other_sealed = first.identity_sealed, second.identity_sealed
        first_draft = repo.sealed_identity(bot.runtime.keys, first).draft  # type: ignore[union-attr]
        # An attacker with SQL access copies the first identity onto the second case.
        session.execute(update(Case).where(Case.id == second.id).values(identity_sealed=sealed))
    assert sealed is not None and other_sealed is not None

    with pytest.raises(MisplacedCiphertext) as refused:
        open_identity(bot, key, other)
    assert other in str(refused.value) and NAME not in str(refused.value)
    # Even handed straight to the key (no check of the case's record), it does not open
    # as the other case's: its LINE part is bound to the first case's number, its typed
    # parts to the first draft.
    for draft in (None, first_draft):
        with pytest.raises(MisplacedCiphertext):
            key.open(sealed, other, draft=draft)


def test_one_typed_part_moved_into_another_identity_does_not_open(
    bot: Bot, chat: Chat, new_chat: Any, keys: Keys
) -> None:
    number = file_confidential_report(chat)
    other = file_confidential_report(new_chat(), "วิชัย ใจดี", "02-224-2963")
    with bot.runtime.db.transaction() as session:
        first, second = case_by_number(session, number), case_by_number(session, other)
        held = repo.sealed_identity(bot.runtime.keys, first)
        assert held is not None and second.identity_sealed is not None
        prefix = b"krasip-identity/2\n"
        envelope = json.loads(held.sealed.removeprefix(prefix))
        envelope["parts"]["name"] = json.loads(second.identity_sealed.removeprefix(prefix))[
            "parts"
        ]["name"]
        mixed = prefix + json.dumps(envelope).encode()
        session.execute(update(Case).where(Case.id == first.id).values(identity_sealed=mixed))
    key = custodian(keys)
    with pytest.raises(MisplacedCiphertext):
        open_identity(bot, key, number)
    with pytest.raises(MisplacedCiphertext):
        key.open(mixed, number, draft=held.draft)


def test_a_draft_typed_before_sealing_existed_is_sealed_at_the_next_step() -> None:
    """A draft stored by the previous version holds the name in the clear: the next
    event seals it, whatever the event."""
    now = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)
    state = {
        "v": 1,
        "lang": "th",
        "mode": "form",
        "step": "reporter_contact",
        "draft_id": "d0123",
        "form": {"anonymous": False, "reporter_name": NAME},
        "done": ["reporter_name"],
        "media_count": 0,
        "updated_at": now.isoformat(),
    }
    sealed: list[tuple[str, str, str]] = []

    def seal(draft_id: str, field: str, value: str) -> str:
        sealed.append((draft_id, field, value))
        return "sealed-" + str(len(sealed))

    ctx = Context(now=now, lookup=lambda token: "not_found", seal_identity=seal)
    result = handle(state, Incoming("sticker"), ctx)
    assert result.state is not None
    assert NAME not in json.dumps(result.state, ensure_ascii=False)
    assert result.state["form"]["reporter_name"] == {"sealed": "sealed-1", "masked": "ส*** ใ***"}
    assert sealed == [("d0123", "name", NAME)]


def test_an_invalid_contact_is_refused_before_anything_is_sealed(bot: Bot, chat: Chat) -> None:
    chat.say("report")
    chat.choose("v=ok")
    chat.choose("v=confidential")
    chat.choose("v=money")
    chat.choose("v=other")
    chat.say("Revenue office")
    chat.choose("v=skip")
    chat.choose("v=skip")
    chat.say("A payment was asked for")
    chat.choose("v=done")
    chat.say("yesterday")
    chat.say("Counter 3")
    chat.choose("v=none")
    chat.choose("v=skip")
    chat.say("Somsri Jaidee")
    answer = texts_of(chat.say("call me"))
    assert "phone" in answer.lower()
    state = draft_state(bot, chat)
    assert state is not None and state["step"] == "reporter_contact"
    assert "reporter_contact" not in state["form"]
    assert "Somsri" not in json.dumps(state)
