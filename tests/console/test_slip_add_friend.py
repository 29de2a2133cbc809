"""The intake slip is a way in on paper: the bot's LINE ID, an add-friend QR code made from
the configured ID, and the hotline for people without LINE (issue 14, item 14)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import qrcode

LINE_ID = "@bkk-krasip"
ADD_FRIEND = "https://line.me/R/ti/p/@bkk-krasip"


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"line_id": LINE_ID, "contact_website": "https://complaints.example.go.th"}


def _slip(console: Any, make_account: Any) -> str:
    console.login(make_account("somsri"))
    console.get("/console/intake")
    response = console.post(
        "/console/intake",
        {
            "channel": "walk_in",
            "received": "2024-05-02",
            "category": "city_law",
            "district": "1001",
            "reporter_lang": "th",
            "description": "เรียกเงินค่าที่ทุกสัปดาห์",
            "evidence_note": "",
            "witnesses": "",
            "mode": "anonymous",
        },
    )
    html = response.get_data(as_text=True)
    assert 'id="slip-token"' in html, html[:2000]
    return html


def _modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules of a qrcode SvgImage: one square per module, placed in millimetres."""
    size = float(re.search(r'<svg:rect[^>]* width="([\d.]+)mm"', svg).group(1))  # type: ignore[union-attr]
    return {
        (round(float(y) / size), round(float(x) / size))
        for x, y in re.findall(r'<svg:rect[^>]* x="([\d.]+)mm" y="([\d.]+)mm"', svg)
    }


def _expected(url: str) -> set[tuple[int, int]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    return {(r, c) for r, row in enumerate(code.get_matrix()) for c, dark in enumerate(row) if dark}


def test_slip_prints_the_line_id_and_a_qr_code_of_the_add_friend_link(
    console: Any, make_account: Any
) -> None:
    html = _slip(console, make_account)
    assert f"LINE ID: {LINE_ID}" in html
    figure = re.search(
        r'<figure class="slip-qr" id="slip-qr" data-url="([^"]+)">(.*?)</figure>', html, re.S
    )
    assert figure is not None
    assert figure.group(1) == ADD_FRIEND
    drawn = _modules(figure.group(2))
    assert drawn == _expected(ADD_FRIEND)
    assert drawn != _expected("https://line.me/R/ti/p/@krasip"), "made from the configured ID"


def test_slip_offers_the_hotline_and_website_without_the_token(
    console: Any, make_account: Any
) -> None:
    html = _slip(console, make_account)
    other = re.search(r'<p id="slip-other-ways">(.*?)</p>', html, re.S)
    assert other is not None
    assert "1555" in other.group(1) and "https://complaints.example.go.th" in other.group(1)
    assert "เลขที่เรื่อง" in other.group(1)
