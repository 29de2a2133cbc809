"""Console fixtures: staff accounts, a CSRF-aware test client, and a real headless Chromium.

Browser tests drive Debian's Chromium through Playwright (no browser downloads); they
are skipped only when /usr/bin/chromium is absent, and never in CI (KRASIP_REQUIRE_BROWSER).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consolekit import PASSWORD, Account, Console

from store import staff

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def make_account(bot: Any):
    """Create a console account; admin and custodian get a TOTP secret, as `krasip staff
    add` gives them (``enrolled=False`` leaves it to the first log-in)."""

    def make(
        username: str,
        role: str = "staff",
        *,
        enrolled: bool = True,
        name: str | None = None,
        lang: str = "th",
    ) -> Account:
        with bot.runtime.db.transaction() as session:
            user = staff.create_user(
                session,
                username=username,
                display_name=name or username,
                role=role,
                password=PASSWORD,
                now=bot.runtime.clock(),
                lang=lang,
            )
            secret = None
            if enrolled and role in staff.ROLES_NEEDING_TOTP:
                secret = staff.start_totp_enrolment(bot.runtime.keys, user)
        return Account(username, PASSWORD, role, secret)

    return make


@pytest.fixture
def console(bot: Any) -> Console:
    return Console(bot)


# --- the browser -----------------------------------------------------------------------

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        # CI installs Chromium and sets this, so there the browser tests can never be skipped.
        if os.environ.get("KRASIP_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, bot: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=bot.url, viewport={"width": 1280, "height": 900}, locale="th-TH"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
