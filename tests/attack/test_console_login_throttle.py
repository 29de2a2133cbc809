"""Finding 6: the log-in throttle locked people out. Five wrong passwords blocked the
custodian's right password and TOTP code; twenty made-up usernames from one address
blocked real accounts; behind a reverse proxy everyone shared the proxy's address.

Each attack is repeated here; the right person now gets in: after the account's backoff
(growing delays, never a lock), at once when only made-up names were tried, and
behind a proxy each person is counted by their own address (KRASIP_TRUSTED_PROXIES=1)."""

from __future__ import annotations

from typing import Any

import pytest
from evidencekit import account

from tests.conftest import Bot
from tests.console.consolekit import PASSWORD, Console

PROXY = "10.0.0.2"
WRONG = "wrong password!"  # noqa: S105 - the attacker's guess


def _try(console: Console, username: str, password: str = WRONG) -> Any:
    return console.post("/console/login", {"username": username, "password": password})


def test_five_wrong_passwords_then_the_custodian_gets_in_after_the_backoff(bot: Bot) -> None:
    custodian = account(bot, "kanya", "custodian")
    attacker, custodian_browser = Console(bot), Console(bot)
    attacker.get("/console/login")
    for _ in range(5):
        assert _try(attacker, "kanya").status_code == 401
    custodian_browser.get("/console/login")
    early = _try(custodian_browser, "kanya", PASSWORD)
    assert early.status_code == 429  # slowed, and the password was not even checked
    wait = int(early.headers["Retry-After"])
    assert wait <= 60
    bot.runtime.clock.advance(seconds=wait)
    custodian_browser.login(custodian)  # right password, then the TOTP code
    assert custodian_browser.get("/console/cases").status_code == 200


def test_delays_grow_for_the_attacker_but_never_become_a_lock(bot: Bot) -> None:
    staff = account(bot, "nid")
    attacker = Console(bot)
    attacker.get("/console/login")
    waits = []
    for _ in range(12):
        response = _try(attacker, "nid")
        while response.status_code == 429:
            wait = int(response.headers["Retry-After"])
            waits.append(wait)
            bot.runtime.clock.advance(seconds=wait)
            response = _try(attacker, "nid")
        assert response.status_code == 401
    assert waits == sorted(waits) and waits[-1] >= 8 * waits[0]  # doubling
    last = _try(attacker, "nid", PASSWORD)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) <= 15 * 60
    bot.runtime.clock.advance(seconds=int(last.headers["Retry-After"]))
    person = Console(bot)
    person.login(staff)
    assert person.get("/console/cases").status_code == 200


def test_the_accounts_own_browser_is_not_held_up_by_someone_elses_guesses(bot: Bot) -> None:
    """A browser that signed in before carries a known-device cookie: an attacker guessing
    at the account from elsewhere cannot keep its owner waiting."""
    nid = account(bot, "nid")
    own = Console(bot)
    own.login(nid)
    own.post("/console/logout")
    attacker = Console(bot)
    attacker.get("/console/login")
    for _ in range(8):
        _try(attacker, "nid")
    assert _try(attacker, "nid", PASSWORD).status_code == 429
    own.login(nid)  # no wait for the known browser
    assert own.get("/console/cases").status_code == 200


def test_twenty_made_up_usernames_from_one_address_then_a_real_account_logs_in(
    bot: Bot,
) -> None:
    real = account(bot, "nid")
    office = Console(bot)
    office.get("/console/login")
    for n in range(20):
        assert _try(office, f"nosuch{n}").status_code == 401
    assert _try(office, "nosuch99").status_code == 429  # the address is slowed for those
    office.login(real)  # the same address: a real account is not slowed at all
    assert office.get("/console/cases").status_code == 200


def _behind_proxy(bot: Bot, client_address: str) -> Console:
    console = Console(bot)
    console.client.environ_base.update(
        {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client_address}
    )
    console.get("/console/login")
    return console


def _spray_then_typo(bot: Bot) -> int:
    """One person behind the proxy sprays made-up names; another, behind the same proxy,
    mistypes their username once. The typo's answer is returned."""
    account(bot, "nid")
    attacker = _behind_proxy(bot, "203.0.113.5")
    for n in range(20):
        _try(attacker, f"nosuch{n}")
    assert _try(attacker, "nosuch99").status_code == 429
    colleague = _behind_proxy(bot, "203.0.113.9")
    return int(_try(colleague, "ndi", PASSWORD).status_code)


@pytest.mark.parametrize("bot_overrides", [{"trusted_proxies": 1}])
def test_two_people_behind_one_proxy_are_throttled_separately(bot: Bot) -> None:
    assert _spray_then_typo(bot) == 401  # counted by their own address: not slowed


def test_without_a_trusted_proxy_the_forwarded_address_is_ignored(bot: Bot) -> None:
    """The control: with the default 0, X-Forwarded-For is a client's claim and ignored
    (the attacker cannot pick fresh addresses), so both share the proxy's address."""
    assert _spray_then_typo(bot) == 429
