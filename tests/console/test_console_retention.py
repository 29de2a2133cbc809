"""After the retention run purges February 2023, the console's statistics page and CSV say
exactly what they said before, and a purged case's page shows its tombstone."""

from __future__ import annotations

from test_console_statistics import EXECUTIVES, OUTCOMES, TRAFFY, close, register

from store import repo


def test_statistics_of_a_purged_month_are_unchanged(bot, console, clock, make_account) -> None:
    console.login(make_account("somsri"))
    entries = [("traffy_fondue", c) for c in TRAFFY] + [("executives", c) for c in EXECUTIVES]
    ids = []
    for n, ((channel, category), outcome) in enumerate(zip(entries, OUTCOMES, strict=True)):
        ids.append(register(console, channel, category, f"2023-02-{n % 28 + 1:02d}"))
        close(console, ids[-1], outcome)
    with bot.runtime.db.transaction() as session:
        assert repo.case_content(session, bot.runtime.keys, ids[0]), "a report before"

    def figures() -> tuple[str, str]:
        page = console.get("/console/statistics?year=2023&month=2").get_data(as_text=True)
        start = page.index('id="stats-total"')
        csv = console.get("/console/statistics.csv?year=2023&month=2").get_data(as_text=True)
        return page[start : page.index("</table>", start)], csv

    before = figures()
    assert "23" in before[0] and "forwarded_working_group,,11" in before[1]
    clock.advance(days=365 * 10 + 3)
    assert bot.worker.retention() == 23
    console.login(make_account("anong"))  # ten years on: a new session
    assert figures() == before, "the page and the CSV say the same after the purge"
    page = console.get(f"/console/cases/{ids[0]}")
    assert page.status_code == 200, "a tombstone still opens"
    with bot.runtime.db.transaction() as session:
        assert repo.case_content(session, bot.runtime.keys, ids[0]) == {}, "and no report"
