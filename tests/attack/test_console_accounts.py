"""Finding 5: staff accounts read whistleblower reports with a password only; TOTP could
not be reset, and accounts could be added or disabled only from a server shell.

The attacker holds a staff member's password (phished) and tries to read the register:
now the password alone reaches only the second-factor page. Admins add, disable and
reset the TOTP of accounts in the console; each change is CSRF-protected and audited,
and a staff account trying these pages is refused and recorded."""

from __future__ import annotations

import re

import pyotp
from evidencekit import account
from sqlalchemy import select

from store import staff
from store.models import AuditEntry
from tests.conftest import Bot
from tests.console.consolekit import PASSWORD, Account, Console, file_case


def _actions(bot: Bot) -> list[tuple[str, str]]:
    with bot.runtime.db.transaction() as session:
        return [(e.action, e.detail) for e in session.scalars(select(AuditEntry))]


def test_a_staff_password_alone_does_not_open_the_register(bot: Bot) -> None:
    file_case(bot)
    account(bot, "nid")  # a staff account, as `krasip staff add` makes it
    phisher = Console(bot)
    phisher.get("/console/login")
    answer = phisher.post("/console/login", {"username": "nid", "password": PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/totp")
    for path in ("/console/cases", "/console/cases/1"):
        assert phisher.get(path).headers["Location"].endswith("/console/login")


def test_a_staff_account_without_a_secret_must_enrol_before_it_reads_anything(bot: Bot) -> None:
    with bot.runtime.db.transaction() as session:
        staff.create_user(
            session,
            username="old",
            display_name="old",
            role="staff",
            password=PASSWORD,
            now=bot.runtime.clock(),
        )
    console = Console(bot)
    console.get("/console/login")
    answer = console.post("/console/login", {"username": "old", "password": PASSWORD})
    assert answer.headers["Location"].endswith("/console/login/enrol")
    assert console.get("/console/cases").status_code == 302


def test_admin_adds_resets_and_disables_accounts_in_the_console_and_it_is_audited(
    bot: Bot,
) -> None:
    admin = Console(bot)
    admin.login(account(bot, "boss", "admin"))
    admin.get("/console/admin/users")
    # Without the form's token nothing happens.
    forged = admin.client.post(
        "/console/admin/users", data={"username": "mole", "display_name": "x", "role": "admin"}
    )
    assert forged.status_code == 400
    added = admin.post(
        "/console/admin/users", {"username": "Malee", "display_name": "มาลี", "role": "staff"}
    )
    assert added.status_code == 200
    page = added.get_data(as_text=True)
    match = re.search(r'id="new-password">([^<]+)<', page)
    assert match, page[:500]
    password = match.group(1)

    # The new account logs in with that password and must enrol a second factor.
    newcomer = Console(bot)
    newcomer.get("/console/login")
    first = newcomer.post("/console/login", {"username": "malee", "password": password})
    assert first.headers["Location"].endswith("/console/login/enrol")
    enrol = newcomer.get("/console/login/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol)
    assert secret
    code = pyotp.TOTP(secret.group(1)).at(bot.runtime.clock())
    assert newcomer.post("/console/login/enrol", {"code": code}).status_code == 302
    assert newcomer.get("/console/cases").status_code == 200

    with bot.runtime.db.transaction() as session:
        malee = staff.find_user(session, "malee")
        assert malee is not None and malee.totp_confirmed
        malee_id = malee.id
    admin.get("/console/admin/users")
    assert admin.post(f"/console/admin/users/{malee_id}/reset-totp").status_code == 200
    assert newcomer.get("/console/cases").status_code == 302  # signed out at once
    again = Console(bot)
    again.get("/console/login")
    relog = again.post("/console/login", {"username": "malee", "password": password})
    assert relog.headers["Location"].endswith("/console/login/enrol")  # a new phone

    assert admin.post(f"/console/admin/users/{malee_id}/disable").status_code == 200
    gone = Console(bot)
    gone.get("/console/login")
    refused = gone.post("/console/login", {"username": "malee", "password": password})
    assert refused.status_code == 401

    audited = _actions(bot)
    for action in ("staff.add", "staff.totp_reset", "staff.disable"):
        assert (action, "malee" if action != "staff.add" else "malee as staff") in audited
    assert password not in str(audited)


def test_a_staff_account_cannot_manage_accounts(bot: Bot) -> None:
    account(bot, "boss", "admin")
    nid: Account = account(bot, "nid")
    console = Console(bot)
    console.login(nid)
    with bot.runtime.db.transaction() as session:
        boss = staff.find_user(session, "boss")
        assert boss is not None
        boss_id = boss.id
    assert console.get("/console/admin/users").status_code == 403
    assert console.post(f"/console/admin/users/{boss_id}/reset-totp").status_code == 403
    assert console.post(f"/console/admin/users/{boss_id}/disable").status_code == 403
    added = console.post(
        "/console/admin/users", {"username": "mole", "display_name": "x", "role": "admin"}
    )
    assert added.status_code == 403
    with bot.runtime.db.transaction() as session:
        assert staff.find_user(session, "mole") is None
        boss = staff.find_user(session, "boss")
        assert boss is not None and boss.active and boss.totp_secret_ct is not None
    assert [a for a, _ in _actions(bot)].count("admin.denied") == 4
