"""A stolen server must not name anonymous reporters (issue 10).

Reporters file through the real bot and the LINE emulator: anonymous reports with and
without opt-in updates, confidential reports, lookups by token, follow-up messages,
staff replies and status changes through the console, a cancelled and an expired draft.
The windows then close and the worker runs. The thief takes the database's bytes, the
keys folder (never the custodian's private key) and the list of every LINE user id, and
LINE tells them whose event ids, reply tokens, message ids and retry keys those were.
What the thief can then tie to a user is judged by white-box carving (see carving.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
from carving import Person, Recorder, judge, summary
from PIL import Image

from emulator.client import Emulator
from store import staff
from tests.conftest import Bot, Chat, Clock, texts_of

TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
NUMBER_RE = re.compile(r"KRS-\d{4}-\d{6}")
CASE_LINK = re.compile(r"/console/cases/(\d+)\"")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAFF_PASSWORD = "correct horse battery staple"

ANONYMOUS = "anonymous, no updates"
OPT_IN_CLOSED = "updates, case closed"
OPT_IN_STOPPED = "updates, stopped"
OPT_IN_OPEN = "updates, case open"
CONFIDENTIAL = "confidential"
DRAFTS = "drafts"


def photo() -> bytes:
    image = Image.new("RGB", (64, 48), (40, 120, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


@dataclass
class Filed:
    token: str
    number: str


class Cast:
    """The reporters of the scenario, each a traced LINE user with a group."""

    def __init__(self, line: Emulator, make_chat: Callable[[], Chat]) -> None:
        self.line, self.make_chat = line, make_chat
        self.chats: dict[str, Chat] = {}
        self.groups: dict[str, str] = {}

    def new(self, label: str, group: str) -> Chat:
        chat = self.make_chat()
        self.chats[label], self.groups[label] = chat, group
        return chat

    def people(self) -> list[Person]:
        """Every identifier LINE could put a name to, per user."""
        state = self.line.app.extensions["emulator"]  # type: ignore[attr-defined]
        people = []
        for label, chat in self.chats.items():
            person = Person(label, self.groups[label], chat.user_id)
            person.add("LINE user id", chat.user_id)
            for event in chat.user.events:  # type: ignore[attr-defined]
                person.add("webhook event id", event.get("webhookEventId"))
                person.add("reply token", event.get("replyToken"))
                person.add("event time", event.get("timestamp"))
                message = event.get("message") or {}
                person.add("LINE message id", message.get("id"))
                person.add("quote token", message.get("quoteToken"))
            with state.lock:
                for entry in state.inbox:
                    if entry["to"] == chat.user_id:
                        person.add("LINE message id", entry["message"].get("id"))
                        person.add("quote token", entry["message"].get("quoteToken"))
                for token, issued in state.reply_tokens.items():
                    if issued["chat"] == chat.user_id:
                        person.add("reply token", token)
                for request in state.log:
                    to = (request.get("body") or {}).get("to")
                    if request.get("retry_key") and chat.user_id in (
                        to if isinstance(to, list) else [to]
                    ):
                        person.add("retry key", request["retry_key"])
            people.append(person)
        return people


class Desk:
    """A staff member at the console (Flask's test client, CSRF and all)."""

    def __init__(self, bot: Bot, clock: Clock) -> None:
        self.bot, self.clock = bot, clock
        self.client = bot.app.test_client()
        self.csrf = ""
        with bot.runtime.db.transaction() as session:
            user = staff.create_user(
                session,
                username="officer",
                display_name="Officer",
                role="staff",
                password=STAFF_PASSWORD,
                now=clock(),
            )
            self.totp = pyotp.TOTP(staff.start_totp_enrolment(bot.runtime.keys, user))

    def _page(self, path: str) -> str:
        html = self.client.get(path).get_data(as_text=True)
        found = CSRF.search(html)
        if found:
            self.csrf = found.group(1)
        return html

    def login(self) -> None:
        self.clock.advance(seconds=3)
        self._page("/console/login")
        response = self.client.post(
            "/console/login",
            data={"csrf_token": self.csrf, "username": "officer", "password": STAFF_PASSWORD},
        )
        assert response.headers["Location"].endswith("/console/login/totp"), response.status_code
        self._page("/console/login/totp")
        self.clock.advance(seconds=30)  # a TOTP step is accepted once
        response = self.client.post(
            "/console/login/totp",
            data={"csrf_token": self.csrf, "code": self.totp.at(self.clock())},
        )
        assert response.status_code == 302 and response.headers["Location"].endswith(
            "/console/cases"
        ), response.status_code

    def case_id(self, number: str) -> int:
        found = CASE_LINK.search(self._page(f"/console/cases?q={number}"))
        assert found, f"{number} not in the console's list"
        return int(found.group(1))

    def _post(self, path: str, data: dict[str, str]) -> None:
        self.login()  # a fresh session: the clock moves on between staff acts
        self._page("/console/cases")
        response = self.client.post(path, data={"csrf_token": self.csrf, **data})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert "/login" not in response.headers["Location"]
        self.bot.settle()

    def status(self, number: str, status: str, outcome: str = "", note: str = "") -> None:
        case_id = self.case_id(number)
        self._post(
            f"/console/cases/{case_id}/status",
            {"status": status, "outcome": outcome, "public_note": note},
        )

    def message(self, number: str, body: str) -> None:
        self._post(f"/console/cases/{self.case_id(number)}/messages", {"body": body})


def receipt(messages: list[dict[str, Any]]) -> Filed:
    plain = [m["text"] for m in messages if m["type"] == "text" and TOKEN_RE.fullmatch(m["text"])]
    number = NUMBER_RE.search(texts_of(messages))
    assert plain and number, f"no receipt: {texts_of(messages)[:200]}"
    return Filed(plain[0], number.group(0))


def start_thai_form(chat: Chat, *, confidential: bool = False) -> None:
    chat.say("ร้องเรียน")
    chat.choose("v=ok")
    chat.choose("v=confidential" if confidential else "v=anonymous")
    chat.choose("v=registration")
    chat.choose("v=district")
    chat.say("เขตบางรัก")
    chat.say("นายสมมติ ตัวอย่าง")
    chat.choose("v=skip")
    chat.say("เจ้าหน้าที่ฝ่ายทะเบียนเรียกเงินใต้โต๊ะ 5,000 บาท เพื่อเร่งออกใบอนุญาต")
    chat.choose("v=done")
    chat.say("15/10/2569")
    chat.say("สำนักงานเขตบางรัก ชั้น 2 ห้องทะเบียน")


def file_thai(
    chat: Chat, *, with_photo: bool = False, notify: bool = False, confidential: bool = False
) -> Filed:
    start_thai_form(chat, confidential=confidential)
    if with_photo:
        assert "1" in texts_of(chat.send_image(photo()))
    else:
        chat.say("มีสลิปการโอนเงินเก็บไว้")
    chat.choose("v=done")
    chat.say("นางสมศรี ผู้ยื่นคำขอคนถัดไป")
    if confidential:
        chat.say("นายทดสอบ ผู้แจ้ง")
        chat.say("081-234-5678")
        chat.choose("v=witness")
    chat.choose("v=yes" if notify else "v=no")
    return receipt(chat.choose("v=confirm"))


def file_english(chat: Chat, *, confidential: bool = False) -> Filed:
    chat.say("report")
    chat.choose("v=ok")
    chat.choose("v=confidential" if confidential else "v=anonymous")
    chat.choose("v=public_works")
    chat.choose("v=other")
    chat.say("Department of Public Works, building control division")
    chat.say("Inspector Wichai")
    chat.say("Chief building inspector")
    chat.say("The building inspector asked for 20,000 baht to sign off the permit")
    chat.choose("v=done")
    chat.say("yesterday")
    chat.say("Soi Sukhumvit 55, the construction site")
    chat.say("I have a voice recording, will bring it")
    chat.choose("v=done")
    chat.say("My neighbour saw the payment")
    if confidential:
        chat.say("Somchai Jaidee")
        chat.say("081-234-5678")
        chat.choose("v=witness")
    chat.choose("v=no")
    return receipt(chat.choose("v=confirm"))


def look_up(chat: Chat, filed: Filed) -> str:
    card = texts_of(chat.say(filed.token))
    assert filed.number in card, "the token finds the case"
    return card


def test_a_stolen_server_ties_no_reporter_to_a_report_they_did_not_choose(
    recorder: Any,
    thief: Any,
    clock: Clock,
    bot: Bot,
    line: Emulator,
    traced_chat: Callable[[], Chat],
) -> None:
    cast = Cast(line, traced_chat)
    desk = Desk(bot, clock)
    filed: dict[str, Filed] = {}

    # Anonymous reports without updates: photos, lookups, messages both ways.
    for n in range(1, 7):
        cast.new(f"anon-{n}", ANONYMOUS)
    filed["anon-1"] = file_thai(cast.chats["anon-1"], with_photo=True)
    filed["anon-2"] = file_thai(cast.chats["anon-2"], with_photo=True)
    filed["anon-3"] = file_thai(cast.chats["anon-3"])
    filed["anon-4"] = file_english(cast.chats["anon-4"])
    filed["anon-5"] = file_thai(cast.chats["anon-5"])
    filed["anon-6"] = file_thai(cast.chats["anon-6"], with_photo=True)
    look_up(cast.chats["anon-3"], filed["anon-3"])
    cast.chats["anon-3"].say("เจ้าหน้าที่คนนั้นทำงานกะเช้าทุกวันจันทร์")
    cast.chats["anon-3"].choose("v=send")
    cast.chats["anon-3"].choose("v=done")
    look_up(cast.chats["anon-4"], filed["anon-4"])  # its window is left to close
    look_up(cast.chats["anon-6"], filed["anon-6"])
    cast.chats["anon-6"].say("มีใบเสร็จปลอมอีกหนึ่งใบ")
    cast.chats["anon-6"].choose("v=send")

    # Anonymous reports with updates: one to be closed, one stopped, one left open.
    for label, group in (
        ("optin-closed", OPT_IN_CLOSED),
        ("optin-stopped", OPT_IN_STOPPED),
        ("optin-open", OPT_IN_OPEN),
    ):
        filed[label] = file_thai(
            cast.new(label, group), with_photo=label == "optin-open", notify=True
        )

    # Confidential reports: the identity is sealed for the custodian.
    filed["conf-1"] = file_thai(cast.new("conf-1", CONFIDENTIAL), confidential=True)
    filed["conf-2"] = file_english(cast.new("conf-2", CONFIDENTIAL), confidential=True)
    look_up(cast.chats["conf-1"], filed["conf-1"])
    cast.chats["conf-1"].say("ขอเพิ่มเติมว่ามีพยานอีกหนึ่งคน")
    cast.chats["conf-1"].choose("v=send")  # shown back, then sent when confirmed

    # A draft cancelled, and one abandoned with a photo in it.
    cancelled = cast.new("draft-cancelled", DRAFTS)
    start_thai_form(cancelled)
    cancelled.say("ยกเลิก")
    cancelled.choose("v=drop")  # asked once: "delete this draft?"
    abandoned = cast.new("draft-expired", DRAFTS)
    start_thai_form(abandoned)
    abandoned.send_image(photo())
    clock.advance(seconds=3)
    bot.run_worker()
    bot.settle()

    # Staff at work: status changes push updates to those who asked for them.
    desk.login()
    desk.status(filed["anon-1"].number, "preliminary_review", note="กำลังตรวจสอบ")
    desk.message(filed["anon-1"].number, "ขอทราบวันที่จ่ายเงินครั้งแรก")
    desk.message(filed["anon-6"].number, "ได้รับใบเสร็จแล้ว ขอบคุณครับ")
    desk.message(filed["conf-1"].number, "จะติดต่อกลับทางโทรศัพท์")
    for label in ("optin-closed", "optin-stopped", "optin-open"):
        desk.status(filed[label].number, "preliminary_review")
    desk.status(filed["optin-closed"].number, "closed", outcome="completed")
    desk.status(filed["anon-5"].number, "closed", outcome="no_grounds")
    pushed = {
        label: [m for m in cast.chats[label].user.messages() if m["via"] == "push"]
        for label in ("optin-closed", "optin-stopped", "optin-open", "anon-1")
    }
    assert pushed["optin-closed"] and pushed["optin-stopped"] and pushed["optin-open"]
    assert not pushed["anon-1"], "no update pushed without the reporter's choice"

    # Reporters read staff messages by token and answer; one stops updates.
    assert "วันที่จ่ายเงิน" in look_up(cast.chats["anon-1"], filed["anon-1"])
    cast.chats["anon-1"].say("จ่ายครั้งแรกต้นเดือนตุลาคม")
    assert "ได้รับใบเสร็จ" in look_up(cast.chats["anon-6"], filed["anon-6"])
    cast.chats["anon-6"].choose("v=done")
    look_up(cast.chats["conf-1"], filed["conf-1"])
    look_up(cast.chats["optin-closed"], filed["optin-closed"])
    cast.chats["optin-stopped"].say("หยุดแจ้งเตือน")
    before = len(cast.chats["optin-stopped"].user.messages())
    desk.status(filed["optin-stopped"].number, "fact_finding")
    desk.status(filed["optin-open"].number, "fact_finding")
    assert len(cast.chats["optin-stopped"].user.messages()) == before, "stopped means stopped"

    # The windows close: follow-up, drafts, and a few days of the worker.
    for step in ({"minutes": 31}, {"hours": 25}, {"days": 1}, {"days": 1}, {"days": 1}):
        clock.advance(**step)
        bot.run_worker()
        bot.settle()

    # The theft, and what it yields.
    people = cast.people()
    on_sqlite = bot.settings.database_url.startswith("sqlite")
    files = thief.take(bot)
    verdict = judge(
        files,
        recorder,
        people,
        data_keys=thief.data_keys,
        pepper=thief.pepper,
        secrets=[f.token for f in filed.values()]
        + [f.token.replace("-", "") for f in filed.values()],
    )
    title = "stolen server (" + ("SQLite" if on_sqlite else "PostgreSQL") + ")"
    report = summary(verdict, people, title, locate=thief.locate)
    print(report)

    linked = {
        group: sorted(p.label for p in people if p.group == group and verdict.linked(p.label))
        for group in (ANONYMOUS, OPT_IN_CLOSED, OPT_IN_STOPPED, OPT_IN_OPEN, CONFIDENTIAL, DRAFTS)
    }
    assert linked[OPT_IN_OPEN] == ["optin-open"], (
        "positive control: the open case's chosen update link must be found\n" + report
    )
    for group in (ANONYMOUS, OPT_IN_CLOSED, OPT_IN_STOPPED, CONFIDENTIAL, DRAFTS):
        assert not linked[group], f"{group}: {linked[group]} can be tied to LINE users\n{report}"


def test_the_carving_opens_what_the_thief_can_open_and_no_more() -> None:
    """The judge itself: wrapped keys are followed, destroyed or random ones are not."""
    recorder = Recorder()
    aead, mac = recorder.aesgcm_class(), recorder.hmac_module()
    data_key, pepper = os.urandom(32), os.urandom(32)
    person = Person("p", "g", "U" + uuid.uuid4().hex)
    person.add("LINE user id", person.user_id)
    user = person.user_id.encode()

    row_key = aead.generate_key(bit_length=256)
    wrap_nonce, seal_nonce = os.urandom(12), os.urandom(12)
    wrapped = wrap_nonce + aead(data_key).encrypt(wrap_nonce, row_key, b"vault.key|1")
    sealed = seal_nonce + aead(row_key).encrypt(seal_nonce, b'["' + user + b'"]', b"outbox.to|7")
    by_pepper = mac.new(pepper, b"reporter\x00" + user, hashlib.sha256).hexdigest().encode()
    day_key = aead.generate_key(bit_length=256)
    by_day = mac.new(day_key, b"chat\x00" + user, hashlib.sha256).hexdigest().encode()

    def linked(*chunks: bytes) -> bool:
        noise = os.urandom(4096)
        verdict = judge(
            [("db", noise + b"".join(chunks) + noise)],
            recorder,
            [person],
            data_keys={data_key: "k1"},
            pepper=pepper,
            secrets=[],
        )
        return verdict.linked("p")

    assert linked(wrapped, sealed), "a row key wrapped under the data key opens the row"
    assert not linked(sealed), "with its key destroyed, the row names no one"
    assert linked(by_pepper), "a pepper hash of a user id is recomputed from the list"
    assert not linked(by_day), "a hash under a random day key that is gone is not"
    assert linked(by_day, day_key), "unless that day key itself is still there"
    assert linked(user.decode().encode("utf-16-le")), "a user id in UTF-16 is found"
    assert not linked(b"nothing here")
