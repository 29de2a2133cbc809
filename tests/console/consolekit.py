"""Helpers for the console tests: accounts, a CSRF-aware client, filing cases, logging in."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp

from handlers import tokens
from store import repo

ROOT = Path(__file__).resolve().parents[2]
# Test runs write here; `python -m tests.console.screenshots` points this at docs/screenshots/
# to refresh the committed ones, so an ordinary run never changes them.
SCREENSHOTS = Path(os.environ.get("KRASIP_SCREENSHOTS") or ROOT / "build" / "screenshots")
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Account:
    username: str
    password: str
    role: str
    totp_secret: str | None

    def code(self, at: datetime) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(at)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Console:
    """The console through Flask's test client, as a browser without JavaScript would."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.client = bot.app.test_client()
        self.token = ""
        self.last_code: str | None = None  # the TOTP code the last log-in was let in with

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        if response.mimetype == "text/html":
            match = _CSRF.search(response.get_data(as_text=True))
            if match:
                self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.token:
            self.get("/console/login")
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, account: Account) -> Any:
        self.get("/console/login")
        response = self.post(
            "/console/login", {"username": account.username, "password": account.password}
        )
        if account.totp_secret:
            assert response.headers["Location"].endswith("/console/login/totp")
            self.get("/console/login/totp")
            # A TOTP step is accepted once: move to a fresh step for every log-in.
            self.bot.runtime.clock.advance(seconds=30)
            self.last_code = account.code(self.bot.runtime.clock())
            response = self.post("/console/login/totp", {"code": self.last_code})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert response.headers["Location"].endswith("/console/cases")
        self.get("/console/cases")  # a new session: a new CSRF token
        return response


def file_case(
    bot: Any,
    *,
    token: str | None = None,
    identity: dict[str, str] | None = None,
    notify_user_id: str | None = None,
    content: dict[str, Any] | None = None,
    channel: str = "line",
    filed_at: datetime | None = None,
    category: str = "city_law",
) -> tuple[int, str, str]:
    """A case as the chat form files it; returns (id, number, token)."""
    token = token or tokens.format_token(repo.new_token_bytes())
    report = content or {
        "category": category,
        "agency": {
            "kind": "district",
            "district_code": "1001",
            "name_th": "พระนคร",
            "name_en": "Phra Nakhon",
        },
        "official": {"name": "นายสมชาย", "position": "เจ้าพนักงานเทศกิจ"},
        "description": "เรียกรับเงินจากผู้ค้าหาบเร่แผงลอยทุกสัปดาห์",
        "when": {"text": "ทุกวันจันทร์", "date": None},
        "where": "ตลาดท่าเตียน",
        "evidence_note": "ภาพถ่ายการรับเงิน",
        "witnesses": "แม่ค้าร้านข้างเคียง",
    }
    with bot.runtime.db.transaction() as session:
        created = repo.create_case(
            session,
            bot.runtime.keys,
            now=filed_at or bot.runtime.clock(),
            token=token,
            channel=channel,
            lang="th",
            category=category,
            district_code="1001",
            anonymous=identity is None,
            meets_anonymous_bar=True,
            content=report,
            identity=identity,
            notify_user_id=notify_user_id,
        )
    return created.case_id, created.number, token


def new_page(browser: Any, base_url: str, **options: Any) -> Any:
    """A page in a fresh browser context (its own cookies), Thai locale, desktop size."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, locale="th-TH", **options
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def browser_login(page: Any, bot: Any, account: Account) -> None:
    page.goto("/console/login")
    page.get_by_label("ชื่อผู้ใช้").fill(account.username)
    page.get_by_label("รหัสผ่าน").fill(account.password)
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    if account.totp_secret:
        page.wait_for_url("**/console/login/totp")
        bot.runtime.clock.advance(seconds=30)
        page.get_by_label("รหัส 6 หลัก").fill(account.code(bot.runtime.clock()))
        page.get_by_role("button", name="ยืนยัน").click()
    page.wait_for_url("**/console/cases")


def words(messages: list[dict[str, Any]]) -> str:
    """Every text in some LINE messages, Flex included, as one string to search."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "altText") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(messages)
    return "\n".join(found)
