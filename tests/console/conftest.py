"""Console fixtures: staff accounts, a CSRF-aware test client, a real headless Chromium,
and the console served over https with a certificate made here.

The browser is found wherever it is (``KRASIP_CHROMIUM``, then ``chromium``,
``chromium-browser``, ``google-chrome`` on PATH, then Playwright's own download). Without
one, or without a Thai font, every browser test FAILS and says what to install: a skipped
browser test would hide the console's features.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from consolekit import PASSWORD, Account, Console, new_page
from werkzeug.serving import make_server

from store import staff

INSTALL = "apt-get install chromium fonts-thai-tlwg"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture
def make_account(bot: Any):
    """Create a console account with a TOTP secret, as `krasip staff add` gives it
    (``enrolled=False`` leaves it to the first log-in)."""

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


def find_chromium(playwright: Any) -> str | None:
    """The first Chromium found: an explicit path, PATH, then Playwright's own browsers."""
    chosen = os.environ.get("KRASIP_CHROMIUM")
    if chosen and Path(chosen).exists():
        return chosen
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    try:
        own = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - Playwright without its browsers says so variously
        return None
    return own if own and Path(own).exists() else None


def _thai_font_missing() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False  # cannot tell; Chromium shows boxes, the text assertions still hold
    found = subprocess.run([fc_list, ":lang=th"], capture_output=True, text=True, check=False)
    return not found.stdout.strip()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = find_chromium(playwright)
        if executable is None:
            pytest.fail(
                "no Chromium found (looked at $KRASIP_CHROMIUM, "
                f"{', '.join(CHROMIUM_NAMES)} on PATH, and Playwright's browsers): "
                f"{INSTALL}  (or: python -m playwright install chromium)",
                pytrace=False,
            )
        if _thai_font_missing():
            pytest.fail(f"no Thai font for Chromium: {INSTALL}", pytrace=False)
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, bot: Any) -> Iterator[Any]:
    page = new_page(browser, bot.url)
    yield page
    page.context.close()


# --- https -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (certificate, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def https_url(bot: Any, certificate: tuple[Path, Path]) -> Iterator[str]:
    """The same app served over TLS on its own port (what a TLS-terminating host does)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = make_server("127.0.0.1", 0, bot.app, threaded=True, ssl_context=context)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
