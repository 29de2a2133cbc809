"""The monthly statistics reproduce the centre's published table for February 2023."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from consolekit import SCREENSHOTS, browser_login, file_case

from store import staff

# DOMAIN.md, "The statistics table the centre publishes (February 2023)".
TRAFFY = ["public_works"] * 2 + ["city_law"] * 4 + ["environment"] + ["other"] * 8
EXECUTIVES = ["procurement"] * 3 + ["registration"] * 2 + ["personnel"] * 2 + ["money"]
OUTCOMES = (
    ["completed"] * 4
    + ["forwarded_agency"] * 5
    + ["forwarded_working_group"] * 11
    + ["referred_nacc"] * 2
    + ["referred_pacc"]
)


def register(console, channel: str, category: str, day: str) -> int:
    console.get("/console/intake")
    response = console.post(
        "/console/intake",
        {
            "channel": channel,
            "received": day,
            "category": category,
            "district": "",
            "agency_name": "",
            "reporter_lang": "th",
            "description": "เรื่องร้องเรียน",
            "mode": "anonymous",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    html = response.get_data(as_text=True)
    assert re.search(r'id="slip-token">[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}<', html)
    return int(re.search(r"/console/cases/(\d+)", html).group(1))  # type: ignore[union-attr]


def close(console, case_id: int, outcome: str) -> None:
    console.get(f"/console/cases/{case_id}")
    response = console.post(
        f"/console/cases/{case_id}/status",
        {"status": "closed", "outcome": outcome, "public_note": ""},
    )
    assert response.status_code == 302


def test_february_2023_reproduces_the_published_figures(bot, console, page, make_account) -> None:
    console.login(make_account("somsri"))
    entries = [("traffy_fondue", c) for c in TRAFFY] + [("executives", c) for c in EXECUTIVES]
    for n, ((channel, category), outcome) in enumerate(zip(entries, OUTCOMES, strict=True)):
        case_id = register(console, channel, category, f"2023-02-{n % 28 + 1:02d}")
        close(console, case_id, outcome)
    # Neighbours that must not count: the day before, the day after, and a case received
    # on 1 March in Bangkok that is still 28 February in UTC.
    register(console, "traffy_fondue", "other", "2023-01-31")
    register(console, "hotline_1555", "other", "2023-03-01")
    file_case(bot, channel="email", filed_at=datetime(2023, 2, 28, 17, 30, tzinfo=UTC))

    with bot.runtime.db.transaction() as session:
        stats = staff.monthly_statistics(session, 2023, 2)
    assert stats.total == 23
    assert stats.by_channel == {"traffy_fondue": 15, "executives": 8}
    assert stats.by_channel_category["traffy_fondue"] == {
        "public_works": 2,
        "city_law": 4,
        "environment": 1,
        "other": 8,
    }
    assert stats.by_outcome == {
        "completed": 4,
        "forwarded_agency": 5,
        "forwarded_working_group": 11,
        "referred_nacc": 2,
        "referred_pacc": 1,
    }
    assert stats.open_cases == 0

    # The same figures on the page (the year typed in the Buddhist era) and in the CSV.
    html = console.get("/console/statistics?year=2566&month=2").get_data(as_text=True)
    assert "กุมภาพันธ์ พ.ศ. 2566" in html
    assert "เรื่องร้องเรียนทั้งหมด 23 เรื่อง" in html
    for channel, count in (("traffy_fondue", 15), ("executives", 8)):
        assert re.search(rf'data-channel="{channel}">.*?<td class="num">{count}</td>', html, re.S)
    for outcome, count in (
        ("completed", 4),
        ("forwarded_agency", 5),
        ("forwarded_working_group", 11),
        ("referred_nacc", 2),
        ("referred_pacc", 1),
        ("no_grounds", 0),
    ):
        assert re.search(rf'data-outcome="{outcome}">.*?<td class="num">{count}</td>', html, re.S)
    exported = console.get("/console/statistics.csv?year=2023&month=2")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert ["total", "", "", "23"] in rows
    assert ["channel_category", "traffy_fondue", "other", "8"] in rows
    assert ["outcome", "forwarded_working_group", "", "11"] in rows
    from store.models import AuditEntry

    with bot.runtime.db.transaction() as session:
        assert session.query(AuditEntry).filter_by(action="statistics.export").count() == 1

    browser_login(page, bot, make_account("anong"))
    page.goto("/console/statistics?year=2023&month=2")
    assert "เรื่องร้องเรียนทั้งหมด 23 เรื่อง" in page.locator("#stats-total").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "statistics.png"), full_page=True)
