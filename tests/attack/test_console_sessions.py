"""Finding 4: sessions could not be revoked. A cookie copied before log-out still loaded
the case list for up to 12 hours, because the session lived only in the signed cookie.

The attacker copies a signed-in browser's cookie, waits for the trigger (log-out, password
change, the account disabled, its TOTP reset) and replays the copy: now refused, because
every trigger deletes every server-side session row of the account."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from evidencekit import account
from sqlalchemy import func, select

from store.models import AuditEntry, StaffSession
from tests.conftest import Bot
from tests.console.consolekit import PASSWORD, Console


def _copy(console: Console, bot: Bot) -> str:
    cookie = console.client.get_cookie(bot.app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return str(cookie.value)


def _replay(bot: Bot, stolen: str) -> int:
    thief = bot.app.test_client()
    thief.set_cookie(bot.app.config["SESSION_COOKIE_NAME"], stolen)
    return int(thief.get("/console/cases").status_code)


def _log_out(bot: Bot, victim: Console) -> None:
    assert victim.post("/console/logout").status_code == 302


def _change_password(bot: Bot, victim: Console) -> None:
    victim.get("/console/account/password")
    new = "a brand new long password"
    changed = victim.post(
        "/console/account/password",
        {"current_password": PASSWORD, "new_password": new, "new_password_again": new},
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)[:300]


def _admin(bot: Bot) -> Console:
    admin = Console(bot)
    admin.login(account(bot, "boss", "admin"))
    return admin


def _disable(bot: Bot, victim: Console) -> None:
    admin = _admin(bot)
    admin.get("/console/admin/users")
    assert admin.post(f"/console/admin/users/{_uid(bot)}/disable").status_code == 200


def _reset_totp(bot: Bot, victim: Console) -> None:
    admin = _admin(bot)
    admin.get("/console/admin/users")
    assert admin.post(f"/console/admin/users/{_uid(bot)}/reset-totp").status_code == 200


def _uid(bot: Bot) -> int:
    from store import staff

    with bot.runtime.db.transaction() as session:
        user = staff.find_user(session, "nid")
        assert user is not None
        return user.id


@pytest.mark.parametrize(
    "trigger", [_log_out, _change_password, _disable, _reset_totp], ids=lambda f: f.__name__
)
def test_a_copied_cookie_is_refused_after_the_trigger(
    bot: Bot, trigger: Callable[[Bot, Console], None]
) -> None:
    victim, elsewhere = Console(bot), Console(bot)
    nid = account(bot, "nid")
    victim.login(nid)
    elsewhere.login(nid)  # a second browser of the same person
    stolen = _copy(victim, bot)
    assert _replay(bot, stolen) == 200  # the copy works before the trigger: a fair test

    trigger(bot, victim)

    assert _replay(bot, stolen) == 302
    assert elsewhere.get("/console/cases").status_code == 302  # every session, at once
    with bot.runtime.db.transaction() as session:
        left = session.scalar(select(func.count()).select_from(StaffSession))
        actions = set(session.scalars(select(AuditEntry.action)))
    assert left == (1 if trigger in (_disable, _reset_totp) else 0)  # the admin's own
    assert actions & {"logout", "staff.password", "staff.disable", "staff.totp_reset"}


def test_the_cookie_holds_a_random_id_not_the_account(bot: Bot) -> None:
    """A cookie forged for another account needs that account's live session id, which
    only its hash in the database could tell, and a hash cannot be turned back."""
    console = Console(bot)
    console.login(account(bot, "nid"))
    with console.client.session_transaction() as cookie:
        assert set(cookie) <= {"sid", "lang", "csrf_token"}
        sid = cookie["sid"]
    assert len(sid) >= 40
    with bot.runtime.db.transaction() as session:
        stored = list(session.scalars(select(StaffSession.token_hash)))
    assert stored and all(sid.encode() not in h for h in stored)
