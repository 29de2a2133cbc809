"""Finding 2: the session cookie lacked Secure and SameSite in production and there was no
HSTS, so one visit over plain http (or a cross-site form) could carry a staff session.

The attacker read the production console's Set-Cookie header; now it is ``__Host-``,
Secure, HttpOnly and SameSite=Lax, every response pins https, and development over plain
http still logs in (a real socket and a client that honours Secure).

Finding 9 (part): development signed sessions with a constant from the source, so a forged
cookie reached the admin audit page; that cookie is refused now."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from evidencekit import account
from flask import Flask
from sqlalchemy import select

from store import staff
from store.models import StaffUser
from tests.conftest import Bot
from tests.console.consolekit import Console, csrf_of

HTTPS = "https://localhost"


def _cookie_attributes(set_cookie: str) -> tuple[str, set[str], dict[str, str]]:
    """(name, flags, key=value attributes) of one Set-Cookie header, lower-cased keys."""
    first, *rest = (part.strip() for part in set_cookie.split(";"))
    name = first.split("=", 1)[0]
    flags = {part.lower() for part in rest if "=" not in part}
    values = {k.lower(): v for k, _, v in (part.partition("=") for part in rest if "=" in part)}
    return name, flags, values


def _session_cookies(response: Any) -> list[str]:
    """The session's Set-Cookie headers, from Flask's test client or from requests."""
    headers = response.raw.headers if isinstance(response, requests.Response) else response.headers
    found = headers.getlist("Set-Cookie")
    return [h for h in found if h.split("=", 1)[0] in ("session", "__Host-krasip")]


@pytest.mark.parametrize("bot_overrides", [{"env": "production"}])
def test_production_session_cookie_is_secure_same_site_and_pinned_to_https(bot: Bot) -> None:
    console = Console(bot)
    # Over https the console's CSRF check wants a same-origin Referer or Origin.
    console.client.environ_base.update(
        {"HTTP_REFERER": f"{HTTPS}/console/login", "HTTP_ORIGIN": HTTPS}
    )
    staff = account(bot, "nid")
    page = console.get("/console/login")
    assert page.request.scheme == "https"
    response = console.post(
        "/console/login", {"username": staff.username, "password": staff.password}
    )
    if staff.totp_secret:
        console.get("/console/login/totp")
        bot.runtime.clock.advance(seconds=30)
        response = console.post("/console/login/totp", {"code": staff.code(bot.runtime.clock())})
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/cases")
    cookies = _session_cookies(response)
    assert cookies, response.headers
    for header in cookies:
        name, flags, values = _cookie_attributes(header)
        assert name == "__Host-krasip", header
        assert {"secure", "httponly"} <= flags, header
        assert values.get("samesite", "").lower() in ("lax", "strict"), header
        assert values.get("path") == "/" and "domain" not in values, header
    assert console.get("/console/cases").status_code == 200
    for path in ("/console/login", "/console/cases", "/healthz", "/callback"):
        pinned = console.get(path).headers.get("Strict-Transport-Security", "")
        assert pinned.startswith("max-age=") and int(pinned.split("=")[1]) >= 180 * 86400, path


def _login_over_http(bot: Bot, username: str) -> requests.Session:
    """Log in as a browser would over plain http: a real socket, a client that keeps Secure
    cookies to https only."""
    staff = account(bot, username)
    browser = requests.Session()
    page = browser.get(f"{bot.url}/console/login", timeout=10)
    sent = browser.post(
        f"{bot.url}/console/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": staff.username,
            "password": staff.password,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert sent.status_code == 302, sent.text[:300]
    if staff.totp_secret:
        page = browser.get(f"{bot.url}/console/login/totp", timeout=10)
        bot.runtime.clock.advance(seconds=30)
        sent = browser.post(
            f"{bot.url}/console/login/totp",
            data={"csrf_token": csrf_of(page.text), "code": staff.code(bot.runtime.clock())},
            allow_redirects=False,
            timeout=10,
        )
    assert sent.headers["Location"].endswith("/console/cases"), sent.headers
    assert _session_cookies(sent)
    for header in _session_cookies(sent):
        assert "secure" not in _cookie_attributes(header)[1], header
    return browser


def test_development_still_logs_in_over_plain_http(bot: Bot) -> None:
    browser = _login_over_http(bot, "dev-staff")
    cases = browser.get(f"{bot.url}/console/cases", allow_redirects=False, timeout=10)
    assert cases.status_code == 200
    assert "Strict-Transport-Security" not in cases.headers


@pytest.mark.parametrize("bot_overrides", [{"env": "production"}])
def test_production_cookie_never_goes_back_over_plain_http(bot: Bot) -> None:
    """What the attacker relied on: a staff browser sending its session over http."""
    browser = requests.Session()
    page = browser.get(f"{bot.url}/console/login", timeout=10)
    assert page.status_code == 200
    assert [c for c in browser.cookies if c.name == "__Host-krasip" and c.secure]
    # The client holds the cookie but, being Secure, sends it to https only.
    prepared = browser.prepare_request(requests.Request("GET", f"{bot.url}/console/cases"))
    assert "__Host-krasip" not in prepared.headers.get("Cookie", "")


# --- finding 9: the development SECRET_KEY was a public constant ------------------------

OLD_PUBLIC_SECRET_KEY = "krasip-dev-secret-key-not-for-production"  # noqa: S105 - the leak


def _forged_cookie(secret_key: str, content: dict[str, Any]) -> str:
    """A session cookie as the attacker made it: Flask's own signing, any key they like."""
    forger = Flask("forger")
    forger.secret_key = secret_key
    serializer = forger.session_interface.get_signing_serializer(forger)  # type: ignore[attr-defined]
    return str(serializer.dumps(content))


def test_a_cookie_signed_with_the_old_public_key_does_not_reach_the_audit_log(bot: Bot) -> None:
    account(bot, "boss", "admin")
    at = bot.runtime.clock()
    with bot.runtime.db.transaction() as session:
        boss = session.scalars(select(StaffUser).where(StaffUser.username == "boss")).one()
        # The old cookie's content, and (the strongest case) a live server-side session id.
        content = {"uid": boss.id, "auth_at": at.timestamp(), "seen_at": at.timestamp()}
        content["sid"] = staff.start_session(session, boss, at)
    assert bot.app.secret_key and bot.app.secret_key != OLD_PUBLIC_SECRET_KEY
    name = bot.app.config["SESSION_COOKIE_NAME"]

    attacker = bot.app.test_client()
    attacker.set_cookie(name, _forged_cookie(OLD_PUBLIC_SECRET_KEY, content))
    refused = attacker.get("/console/admin/audit")
    assert refused.status_code == 302 and "/console/login" in refused.headers["Location"]

    # The same cookie under the instance's own key does get in: the refusal is the key's.
    insider = bot.app.test_client()
    insider.set_cookie(name, _forged_cookie(str(bot.app.secret_key), content))
    assert insider.get("/console/admin/audit").status_code == 200
