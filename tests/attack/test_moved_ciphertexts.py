"""Every ciphertext is bound to its place (issue 10): one copied to another row, as an
attacker with SQL access but no keys would copy it, is refused by the product — the chat
lookup, the console, the CLI — and the wrong content is never shown.

The attacker's copy is an ``UPDATE`` of the stored bytes. Each test first shows that the
untouched row works, so a refusal is the binding's doing, not a broken fixture.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from test_identity_sealed_at_typing import NAME, case_by_number, file_confidential_report

from bot.cli import main
from bot.console.texts import t as t_console
from emulator.client import Emulator, LineUser
from handlers.texts import t
from store import migrate, notices, repo, staff
from store.crypto import CryptoError, IdentityPrivateKey, LegacySealedIdentity, MisplacedCiphertext
from store.db import Database
from store.migrate import MigrationNeedsKeys
from store.models import (
    AuditEntry,
    Case,
    CaseMessage,
    CaseNote,
    NotificationGroup,
    StaffLineLink,
    StaffUser,
)
from tests.conftest import Bot, Chat, Keys, texts_of
from tests.console.consolekit import PASSWORD, Account, Console, file_case

FAILURE = t("th", "failure.notice")
REFUSED_PAGE = "ไม่ใช่ของที่นี่"  # the console's "stored data does not belong here"
REFUSED_IDENTITY = "ไม่ใช่ของเรื่องนี้"  # "the sealed identity is not this case's"
REASON = "the subcommittee needs a statement from the complainant"


# --- helpers ---------------------------------------------------------------------------


def account(bot: Bot, username: str, role: str = "staff") -> Account:
    with bot.runtime.db.transaction() as session:
        user = staff.create_user(
            session,
            username=username,
            display_name=username.title(),
            role=role,
            password=PASSWORD,
            now=bot.runtime.clock(),
        )
        secret = None
        if role in staff.ROLES_NEEDING_TOTP:
            secret = staff.start_totp_enrolment(bot.runtime.keys, user)
    return Account(username, PASSWORD, role, secret)


def logged_in(bot: Bot, username: str, role: str = "staff") -> Console:
    console = Console(bot)
    console.login(account(bot, username, role))
    return console


def copy_column(bot: Bot, model: Any, column: str, source: Any, target: Any) -> None:
    """What the attacker does: ``UPDATE … SET column = (the source row's bytes)``."""
    key = sa.inspect(model).primary_key[0]
    with bot.runtime.db.transaction() as session:
        blob = session.execute(select(getattr(model, column)).where(key == source)).scalar_one()
        assert blob is not None
        session.execute(update(model).where(key == target).values({column: blob}))


def case_id_of(bot: Bot, number: str) -> int:
    with bot.runtime.db.transaction() as session:
        return case_by_number(session, number).id


def token_case(bot: Bot, **kwargs: Any) -> tuple[int, str, str]:
    return file_case(bot, **kwargs)  # type: ignore[no-any-return]


def open_in_console(console: Console, keys: Keys, case_id: int) -> Any:
    return console.post(
        f"/console/cases/{case_id}/identity",
        {
            "reason": REASON,
            "passphrase": keys.passphrase,
            "key_file": (keys.private_key_file.open("rb"), "identity_private.json"),
        },
        content_type="multipart/form-data",
    )


def actions(bot: Bot, case_id: int) -> list[str]:
    with bot.runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.case_id == case_id)
                .order_by(AuditEntry.id)
            )
        )


def cli_env(database_url: str, keys: Keys, tmp_path: Path) -> dict[str, str]:
    """The environment `krasip` runs in on the server, with the test's database and keys."""
    folder = keys.private_key_file.parent
    return {
        "KRASIP_ENV": "production",
        "KRASIP_INSTANCE": str(tmp_path / "cli-instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s" * 40,
        "LINE_CHANNEL_SECRET": "c" * 32,
        "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40,
        "KRASIP_IDENTITY_PUBLIC_KEY_FILE": str(folder / "identity_public.txt"),
        "KRASIP_DATA_KEYS_FILE": str(folder / "data_keys.txt"),
        "KRASIP_LOOKUP_PEPPER_FILE": str(folder / "lookup_pepper.txt"),
        "KRASIP_AUDIT_KEY_FILE": str(folder / "audit_key.txt"),
        "KRASIP_AUDIT_SIGNING_KEY_FILE": str(folder / "audit_signing_key.txt"),
    }


def cli_open(env: dict[str, str], keys: Keys, number: str) -> Any:
    args = ["keys", "open", number, "--private-key", str(keys.private_key_file)]
    args += ["--actor", "custodian-1", "--reason", REASON]
    return CliRunner(env=env).invoke(main, args, input=keys.passphrase + "\n")


# --- case content, public note, messages, internal notes --------------------------------


def test_a_report_copied_onto_another_case_is_refused_by_the_console(bot: Bot) -> None:
    secret = "คดีหนึ่ง: ปลัดเขตรับเงินสองแสนบาท"
    first, _, _ = token_case(bot, content={"category": "money", "description": secret})
    target, _, _ = token_case(bot)
    console = logged_in(bot, "somsri")
    assert secret in console.get(f"/console/cases/{first}").get_data(as_text=True)

    copy_column(bot, Case, "content_ct", first, target)
    for path in (f"/console/cases/{target}", f"/console/cases/{target}/redacted"):
        page = console.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 409 and REFUSED_PAGE in html
        assert secret not in html and "ปลัดเขต" not in html
    with bot.runtime.db.transaction() as session:
        with pytest.raises(MisplacedCiphertext) as refused:
            repo.case_content(session, bot.runtime.keys, target)
    assert "ปลัด" not in str(refused.value)


def test_a_public_note_copied_onto_another_case_is_not_shown_by_its_token(
    bot: Bot, chat: Chat
) -> None:
    note = "ส่งเรื่องให้ สตง. ตรวจสอบแล้ว (เฉพาะเรื่องแรก)"
    first, _, first_token = token_case(bot)
    target, _, target_token = token_case(bot)
    at = bot.runtime.clock()
    with bot.runtime.db.transaction() as session:
        for case_id, text in ((first, note), (target, "หมายเหตุของเรื่องที่สาม")):
            repo.set_status(
                session, bot.runtime.keys, case_id, "preliminary_review", at, public_note=text
            )
    assert note in texts_of(chat.say(first_token))

    copy_column(bot, Case, "public_note_ct", first, target)
    answer = texts_of(chat.say(target_token))
    assert note not in answer and FAILURE in answer
    page = logged_in(bot, "somsri").get(f"/console/cases/{target}")
    assert page.status_code == 409 and note not in page.get_data(as_text=True)


def _staff_message(bot: Bot, case_id: int, text: str, direction: str = "staff") -> int:
    with bot.runtime.db.transaction() as session:
        return repo.add_message(
            session, bot.runtime.keys, case_id, direction, text, bot.runtime.clock()
        )


def test_a_staff_message_copied_onto_another_case_is_not_shown_by_its_token(
    bot: Bot, chat: Chat
) -> None:
    secret = "ขอบันทึกเสียงฉบับเต็มของคุณสมชาย"
    first, _, _ = token_case(bot)
    target, _, target_token = token_case(bot)
    source = _staff_message(bot, first, secret)
    victim = _staff_message(bot, target, "ขอทราบวันที่เกิดเหตุ")

    copy_column(bot, CaseMessage, "body_ct", source, victim)
    answer = texts_of(chat.say(target_token))
    assert secret not in answer and FAILURE in answer
    page = logged_in(bot, "somsri").get(f"/console/cases/{target}")
    assert page.status_code == 409 and secret not in page.get_data(as_text=True)


def test_a_message_copied_onto_another_message_or_direction_is_refused(
    bot: Bot, chat: Chat
) -> None:
    case_id, _, token = token_case(bot)
    one = _staff_message(bot, case_id, "คำถามข้อแรก")
    two = _staff_message(bot, case_id, "คำถามข้อที่สอง")
    copy_column(bot, CaseMessage, "body_ct", two, one)
    answer = texts_of(chat.say(token))
    assert "คำถามข้อที่สอง" not in answer and FAILURE in answer

    # The reporter's own words re-labelled as a staff message do not open either.
    other, _, other_token = token_case(bot)
    own = _staff_message(bot, other, "ถ้อยคำของผู้แจ้งเอง", direction="reporter")
    with bot.runtime.db.transaction() as session:
        session.execute(update(CaseMessage).where(CaseMessage.id == own).values(direction="staff"))
    answer = texts_of(chat.say(other_token))
    assert "ถ้อยคำของผู้แจ้งเอง" not in answer and FAILURE in answer


def test_an_internal_note_copied_onto_another_case_is_refused(bot: Bot) -> None:
    secret = "บันทึกภายใน: ผู้แจ้งเป็นญาติของผู้อำนวยการ"
    first, _, _ = token_case(bot)
    target, _, _ = token_case(bot)
    with bot.runtime.db.transaction() as session:
        source = staff.add_note(
            session, bot.runtime.keys, first, "somsri", secret, bot.runtime.clock()
        )
        victim = staff.add_note(
            session, bot.runtime.keys, target, "somsri", "ตรวจแล้ว", bot.runtime.clock()
        )
    console = logged_in(bot, "somsri")
    assert secret in console.get(f"/console/cases/{first}").get_data(as_text=True)

    copy_column(bot, CaseNote, "body_ct", source, victim)
    page = console.get(f"/console/cases/{target}")
    assert page.status_code == 409 and secret not in page.get_data(as_text=True)


# --- sealed identities ------------------------------------------------------------------


def test_an_identity_copied_onto_an_anonymous_case_is_refused_and_not_audited_as_opened(
    bot: Bot, chat: Chat, new_chat: Any, keys: Keys, tmp_path: Path
) -> None:
    """The issue's case: case 1's sealed identity copied onto anonymous case 3. The
    custodian opening "case 3" must not read case 1's name, and the audit log must not
    record an opening of case 3's identity."""
    number = file_confidential_report(chat)
    first = case_id_of(bot, number)
    target, target_number, _ = token_case(bot)
    env = cli_env(bot.settings.database_url, keys, tmp_path)
    custodian = logged_in(bot, "kanya", "custodian")
    opened = open_in_console(custodian, keys, first)
    assert opened.status_code == 200 and NAME in opened.get_data(as_text=True)

    with bot.runtime.db.transaction() as session:
        source = session.get(Case, first)
        assert source is not None
        session.execute(
            update(Case)
            .where(Case.id == target)
            .values(
                identity_sealed=source.identity_sealed,
                identity_key_fingerprint=source.identity_key_fingerprint,
                anonymous=False,
            )
        )
    refused = open_in_console(custodian, keys, target)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and REFUSED_IDENTITY in html
    assert NAME not in html and "ส***" not in html
    by_cli = cli_open(env, keys, target_number)
    assert by_cli.exit_code != 0 and "does not belong" in by_cli.output
    assert NAME not in by_cli.output and chat.user_id not in by_cli.output

    log = actions(bot, target)
    assert "identity.open" not in log, "no opening of case 3's identity is claimed"
    assert log.count("identity.open_refused") == 2
    # The case's own identity still opens by the CLI: the refusal is the copy's.
    assert NAME in cli_open(env, keys, number).output


def test_one_part_of_another_identity_swapped_in_is_refused(
    bot: Bot, chat: Chat, new_chat: Any, keys: Keys, tmp_path: Path
) -> None:
    number = file_confidential_report(chat)
    other = file_confidential_report(new_chat(), "วิชัย ใจดี", "02-224-2963")
    prefix = b"krasip-identity/2\n"
    with bot.runtime.db.transaction() as session:
        mine, theirs = case_by_number(session, number), case_by_number(session, other)
        assert mine.identity_sealed is not None and theirs.identity_sealed is not None
        envelope = json.loads(mine.identity_sealed.removeprefix(prefix))
        foreign = json.loads(theirs.identity_sealed.removeprefix(prefix))
        envelope["parts"]["name"] = foreign["parts"]["name"]
        session.execute(
            update(Case)
            .where(Case.id == mine.id)
            .values(identity_sealed=prefix + json.dumps(envelope).encode())
        )
        target = mine.id
    refused = open_in_console(logged_in(bot, "kanya", "custodian"), keys, target)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and REFUSED_IDENTITY in html and "วิชัย" not in html
    by_cli = cli_open(cli_env(bot.settings.database_url, keys, tmp_path), keys, number)
    assert by_cli.exit_code != 0 and "วิชัย" not in by_cli.output and NAME not in by_cli.output
    assert "identity.open" not in actions(bot, target)


def test_an_identity_sealed_before_binding_is_named_legacy_and_not_opened(
    bot: Bot, keys: Keys
) -> None:
    """A row as the previous version left it: no record in the report, the old form."""
    case_id, number, _ = token_case(bot)
    old = bot.runtime.keys.identity.seal_legacy({"name": "ผู้แจ้ง รุ่นเก่า"})
    content, _ = repo.seal_case(bot.runtime.keys, number, {"description": "เรื่องเดิม"}, None)
    with bot.runtime.db.transaction() as session:
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(identity_sealed=old, content_ct=content, anonymous=False)
        )
    custodian = logged_in(bot, "kanya", "custodian")
    legacy = t_console("th", "identity.legacy")
    assert legacy in custodian.get(f"/console/cases/{case_id}").get_data(as_text=True)
    refused = open_in_console(custodian, keys, case_id)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and legacy in html and "รุ่นเก่า" not in html
    assert "identity.open" not in actions(bot, case_id)


# --- staff secrets and notification addresses ---------------------------------------------


def test_another_accounts_totp_secret_copied_in_does_not_log_in(bot: Bot) -> None:
    victim = account(bot, "anong", "admin")
    attacker = account(bot, "wichai", "admin")
    with bot.runtime.db.transaction() as session:
        ids = {
            u.username: u.id
            for u in session.scalars(
                select(StaffUser).where(StaffUser.username.in_(["anong", "wichai"]))
            )
        }
    copy_column(bot, StaffUser, "totp_secret_ct", ids["wichai"], ids["anong"])

    console = Console(bot)
    console.get("/console/login")
    console.post("/console/login", {"username": victim.username, "password": PASSWORD})
    console.get("/console/login/totp")
    bot.runtime.clock.advance(seconds=30)
    answer = console.post("/console/login/totp", {"code": attacker.code(bot.runtime.clock())})
    assert answer.status_code == 409 and REFUSED_PAGE in answer.get_data(as_text=True)
    assert console.get("/console/cases").status_code == 302, "not logged in"


def _link(bot: Bot, line: Emulator, username: str) -> LineUser:
    """A staff member links their LINE account with a one-time code, as in production."""
    phone = Chat(LineUser(line.url, "U" + uuid.uuid4().hex), bot)
    with bot.runtime.db.transaction() as session:
        user = staff.create_user(
            session,
            username=username,
            display_name=username.title(),
            role="staff",
            password=PASSWORD,
            now=bot.runtime.clock(),
        )
        code = notices.issue_link_code(
            session, bot.runtime.keys, user.id, "staff", bot.runtime.clock()
        )
    assert username.title() in texts_of(phone.say(f"link {code}"))
    return phone.user


def _new_case_notices(user: LineUser) -> int:
    return sum("KRS-" in texts_of([m["message"]]) for m in user.messages())


def _addressed(line: Emulator, user_id: str) -> int:
    """How often the bot addressed ``user_id`` in pushes and multicasts, repeats counted
    (LINE delivers a multicast once per user however often it is named)."""
    count = 0
    for entry in line.requests("/v2/bot/message/"):
        to = (entry.get("body") or {}).get("to")
        count += (to if isinstance(to, list) else [to]).count(user_id)
    return count


def test_a_staff_line_link_copied_onto_another_account_sends_nothing_there(
    bot: Bot, line: Emulator, new_chat: Any
) -> None:
    somsri, anong = _link(bot, line, "somsri"), _link(bot, line, "anong")
    file_confidential_report(new_chat())
    bot.settle()
    assert (_new_case_notices(somsri), _new_case_notices(anong)) == (1, 1)

    with bot.runtime.db.transaction() as session:
        by_name = dict(
            session.execute(
                select(StaffUser.username, StaffLineLink.staff_id).join(
                    StaffLineLink, StaffLineLink.staff_id == StaffUser.id
                )
            ).all()
        )
    copy_column(bot, StaffLineLink, "line_user_ct", by_name["somsri"], by_name["anong"])
    file_confidential_report(new_chat())
    bot.settle()
    # Somsri hears once, not twice; Anong's tampered link sends nothing anywhere.
    assert (_new_case_notices(somsri), _new_case_notices(anong)) == (2, 1)
    assert (_addressed(line, somsri.user_id), _addressed(line, anong.user_id)) == (2, 1)


def test_a_group_address_copied_onto_another_group_sends_nothing_there(
    bot: Bot, line: Emulator, new_chat: Any
) -> None:
    groups = {name: "C" + uuid.uuid4().hex for name in ("one", "two")}
    with bot.runtime.db.transaction() as session:
        admin = staff.create_user(
            session,
            username="admin",
            display_name="Admin",
            role="admin",
            password=PASSWORD,
            now=bot.runtime.clock(),
        )
        for group_id in groups.values():
            notices.register_group(
                session, bot.runtime.keys, group_id, admin.id, bot.runtime.clock()
            )
    members = {name: LineUser(line.url, group_id) for name, group_id in groups.items()}
    file_confidential_report(new_chat())
    bot.settle()
    assert [_new_case_notices(members[n]) for n in ("one", "two")] == [1, 1]

    with bot.runtime.db.transaction() as session:
        ids = list(session.scalars(select(NotificationGroup.id).order_by(NotificationGroup.id)))
    copy_column(bot, NotificationGroup, "group_id_ct", ids[0], ids[1])
    file_confidential_report(new_chat())
    bot.settle()
    assert [_new_case_notices(members[n]) for n in ("one", "two")] == [2, 1]


# --- migration 0005 and `keys rebind` ------------------------------------------------------

OLD_NOTE = "บันทึกภายในก่อนปรับรุ่น"
TOTP = "JBSWY3DPEHPK3PXP"
OLD_MESSAGE = "ข้อความจากเจ้าหน้าที่ก่อนปรับรุ่น"
OLD_PUBLIC = "หมายเหตุสาธารณะก่อนปรับรุ่น"
OLD_REPORT = {"category": "money", "description": "รายงานก่อนปรับรุ่น"}
OLD_IDENTITY = {"name": "ผู้แจ้ง รุ่นเก่า", "contact": "0899999999", "line_user_id": "Uold"}


def _old_rows(url: str, keys: Keys) -> None:
    """Rows as revision 0004 wrote them: each ciphertext bound to its purpose only."""
    ring = keys.material.keyring()
    data, now = ring.data, datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    tables = meta.tables
    with engine.begin() as connection:
        totp = data.encrypt_text(TOTP, "staff.totp")
        connection.execute(
            tables["staff_user"].insert(),
            {
                "id": 1,
                "username": "anong",
                "display_name": "Anong",
                "role": "admin",
                "password_hash": "x",
                "totp_secret_ct": totp,
                "totp_confirmed": True,
                "lang": "th",
                "active": True,
                "created_at": now,
            },
        )
        for number, sealed in (("KRS-2026-000001", True), ("KRS-2026-000002", False)):
            connection.execute(
                tables["case"].insert(),
                {
                    "id": int(number[-1]),
                    "number": number,
                    "channel": "line",
                    "lang": "th",
                    "category": "money",
                    "anonymous": not sealed,
                    "meets_anonymous_bar": True,
                    "status": "received",
                    "filed_at": now,
                    "updated_at": now,
                    "content_ct": data.encrypt_json(OLD_REPORT, "case.content"),
                    "public_note_ct": data.encrypt_text(OLD_PUBLIC, "case.public_note"),
                    "token_hash": ring.token_hash(f"AAAA-BBBB-CCCC-000{number[-1]}"),
                    "identity_sealed": ring.identity.seal_legacy(OLD_IDENTITY) if sealed else None,
                },
            )
        message = data.encrypt_text(OLD_MESSAGE, "case_message.body")
        connection.execute(
            tables["case_message"].insert(),
            {"id": 7, "case_id": 1, "direction": "staff", "created_at": now, "body_ct": message},
        )
        note = data.encrypt_text(OLD_NOTE, "case_note.body")
        connection.execute(
            tables["case_note"].insert(),
            {"id": 3, "case_id": 2, "at": now, "author": "anong", "body_ct": note},
        )
        link = data.encrypt_text("Ustaff-old", "staff.line_user")
        connection.execute(
            tables["staff_line_link"].insert(),
            {
                "staff_id": 1,
                "line_key": "k" * 64,
                "linked_at": now,
                "digest": False,
                "line_user_ct": link,
            },
        )
        group = data.encrypt_text("Cgroup-old", "notification_group.id")
        connection.execute(
            tables["notification_group"].insert(),
            {
                "id": 1,
                "group_key": "g" * 64,
                "registered_by": 1,
                "registered_at": now,
                "active": True,
                "group_id_ct": group,
            },
        )
    engine.dispose()


def test_migration_binds_old_rows_and_the_custodian_rebinds_old_identities(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    migrate.upgrade(database_url, revision="0004")
    _old_rows(database_url, keys)
    with pytest.raises(MigrationNeedsKeys):
        migrate.upgrade(database_url)
    ring = keys.material.keyring()
    migrate.upgrade(database_url, keyring=ring)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            assert repo.case_content(session, ring, 1) == OLD_REPORT
            first = session.get(Case, 1)
            assert first is not None
            assert repo.public_note(ring, first) == OLD_PUBLIC
            assert [repo.message_text(ring, first, m) for m in first.messages] == [OLD_MESSAGE]
            assert [n.text for n in staff.notes(session, ring, 2)] == [OLD_NOTE]
            user = session.get(StaffUser, 1)
            assert user is not None and staff.totp_secret(ring, user) == TOTP
            assert {r.to for r in notices.recipients(session, ring)} == {"Ustaff-old", "Cgroup-old"}
            # Now bound: the bare purpose no longer opens them.
            with pytest.raises(CryptoError):
                ring.data.decrypt(first.content_ct, "case.content")
        with Session(db.engine) as session:
            # Case 1's report copied onto case 2 is refused (and the copy rolled back).
            moved = select(Case.content_ct).where(Case.id == 1).scalar_subquery()
            session.execute(update(Case).where(Case.id == 2).values(content_ct=moved))
            with pytest.raises(MisplacedCiphertext):
                repo.case_content(session, ring, 2)
            session.rollback()
        with db.transaction() as session:
            first = session.get(Case, 1)
            assert first is not None
            with pytest.raises(LegacySealedIdentity):
                repo.sealed_identity(ring, first)

        env = cli_env(database_url, keys, tmp_path)
        legacy = cli_open(env, keys, "KRS-2026-000001")
        assert legacy.exit_code != 0 and "keys rebind" in legacy.output
        assert "รุ่นเก่า" not in legacy.output
        rebind = CliRunner(env=env).invoke(
            main,
            ["keys", "rebind", "--private-key", str(keys.private_key_file), "--actor", "kanya"],
            input=keys.passphrase + "\n",
        )
        assert rebind.exit_code == 0, rebind.output
        assert "1 identity re-sealed" in rebind.output and "รุ่นเก่า" not in rebind.output
        opened = cli_open(env, keys, "KRS-2026-000001")
        assert opened.exit_code == 0 and "ผู้แจ้ง รุ่นเก่า" in opened.output

        custodian = IdentityPrivateKey.from_encrypted_file(
            keys.private_key_file.read_bytes(), keys.passphrase
        )
        with db.transaction() as session:
            first = session.get(Case, 1)
            assert first is not None
            held = repo.sealed_identity(ring, first)
            assert held is not None
            assert custodian.open(held.sealed, held.case_number, draft=held.draft) == OLD_IDENTITY
            assert repo.case_content(session, ring, 1) == OLD_REPORT
            log = [
                (e.action, e.case_id)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
        assert log == [
            ("identity.open_refused", 1),
            ("identity.rebind", 1),
            ("identity.open", 1),
        ]
    finally:
        db.dispose()
