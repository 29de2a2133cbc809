"""Notifications seen from the console: identity openings told to the other admins on LINE,
milestones and the deadlines they start, linking a LINE account, and the outbox."""

from __future__ import annotations

import re
from datetime import date, timedelta

from click.testing import CliRunner
from consolekit import csrf_of, file_case, words
from sqlalchemy import select, update
from test_console_cli import _env

from bot.cli import main
from store import notices, outbox, staff
from store.models import AuditEntry, CaseEvent, OutboxMessage


def _link(bot, username: str, line_user_id: str) -> None:
    with bot.runtime.db.transaction() as session:
        user = staff.find_user(session, username)
        assert user is not None
        notices.link_staff_line(
            session, bot.runtime.keys, user.id, line_user_id, bot.runtime.clock()
        )


def _actions(bot, action: str) -> list[AuditEntry]:
    with bot.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _events(bot, case_id: int) -> list[tuple[str, str | None]]:
    with bot.runtime.db.transaction() as session:
        rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
        return [(e.kind, e.actor) for e in rows]


def _today(bot) -> str:
    return bot.runtime.clock().astimezone(staff.BANGKOK).date().isoformat()


# --- identity openings -------------------------------------------------------------------


def test_opening_an_identity_tells_the_other_admins_on_line_without_the_identity(
    bot, console, keys, make_account, new_chat
) -> None:
    case_id, number, _ = file_case(bot, identity={"name": "นางสาวมาลี ปกปิด"})
    custodian = make_account("kanya", "custodian")
    make_account("anong", "admin")
    make_account("somsri")
    admin_phone, custodian_phone, staff_phone = new_chat(), new_chat(), new_chat()
    _link(bot, "anong", admin_phone.user_id)
    _link(bot, "kanya", custodian_phone.user_id)
    _link(bot, "somsri", staff_phone.user_id)

    console.login(custodian)
    console.get(f"/console/cases/{case_id}")
    response = console.post(
        f"/console/cases/{case_id}/identity",
        {
            "reason": "the subcommittee needs a statement from the complainant",
            "passphrase": keys.passphrase,
            "key_file": (keys.private_key_file.open("rb"), "identity_private.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and "นางสาวมาลี ปกปิด" in response.get_data(as_text=True)
    bot.settle()

    told = admin_phone.new_messages()
    assert len(told) == 1
    said = words(told)
    assert number in said and "kanya" in said
    assert "มาลี" not in str(told) and "subcommittee needs" not in str(told)
    assert custodian_phone.new_messages() == []
    assert staff_phone.new_messages() == []


# --- milestones and deadlines ------------------------------------------------------------


def test_recording_an_inquiry_start_shows_the_30_day_progress_report_deadline(
    bot, console, make_account
) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri", lang="en"))
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert 'id="deadline-subcommittee"' in page and 'id="deadline-inquiry_progress"' not in page
    today = date.fromisoformat(_today(bot))
    # A text field in the console's one date convention (CE here: the account reads English).
    assert f'value="{today.day}/{today.month}/{today.year}"' in page

    response = console.post(
        f"/console/cases/{case_id}/milestones",
        {"milestone": "inquiry_started", "date": _today(bot)},
    )
    assert response.status_code == 302
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    row = re.search(r'<tr id="deadline-inquiry_progress">(.*?)</tr>', page)
    assert row, page
    assert "Progress report on the disciplinary inquiry (every 30 days)" in row.group(1)
    assert "30 days left" in row.group(1)
    due = (bot.runtime.clock() + timedelta(days=30)).astimezone(staff.BANGKOK)
    assert f"{due.day} {due:%b} {due.year}" in row.group(1)
    assert "Disciplinary inquiry started" in page.split('class="timeline"')[1]
    assert _events(bot, case_id)[-1] == ("inquiry_started", "staff:somsri")
    [entry] = _actions(bot, "case.milestone")
    assert entry.case_id == case_id and "inquiry_started" in entry.detail


def test_an_overdue_deadline_shows_as_overdue(bot, console, make_account) -> None:
    at = bot.runtime.clock()
    case_id, _, _ = file_case(bot, filed_at=at - timedelta(days=60))
    console.login(make_account("somsri", lang="en"))
    console.get(f"/console/cases/{case_id}")
    started = (at - timedelta(days=40)).astimezone(staff.BANGKOK).date().isoformat()
    console.post(
        f"/console/cases/{case_id}/milestones", {"milestone": "inquiry_started", "date": started}
    )
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    row = re.search(r'<tr id="deadline-inquiry_progress">(.*?)</tr>', page)
    assert row and 'class="badge overdue"' in row.group(1) and "days overdue" in row.group(1)


def test_a_future_date_or_an_unknown_step_is_refused_and_changes_nothing(
    bot, console, make_account
) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri", lang="en"))
    console.get(f"/console/cases/{case_id}")
    before = _events(bot, case_id)
    tomorrow = (bot.runtime.clock() + timedelta(days=1)).astimezone(staff.BANGKOK).date()
    future = console.post(
        f"/console/cases/{case_id}/milestones",
        {"milestone": "inquiry_started", "date": tomorrow.isoformat()},
    )
    assert future.status_code == 400
    assert "may not be after today" in future.get_data(as_text=True)
    unknown = console.post(
        f"/console/cases/{case_id}/milestones", {"milestone": "filed", "date": _today(bot)}
    )
    assert unknown.status_code == 400
    assert "Choose a step from the list" in unknown.get_data(as_text=True)
    garbled = console.post(
        f"/console/cases/{case_id}/milestones",
        {"milestone": "inquiry_started", "date": "next tuesday"},
    )
    assert garbled.status_code == 400
    assert _events(bot, case_id) == before
    assert _actions(bot, "case.milestone") == []


def test_recording_a_milestone_needs_a_csrf_token(bot, console, make_account) -> None:
    case_id, _, _ = file_case(bot)
    console.login(make_account("somsri"))
    before = _events(bot, case_id)
    response = console.client.post(
        f"/console/cases/{case_id}/milestones",
        data={"milestone": "inquiry_started", "date": _today(bot)},
    )
    assert response.status_code == 400
    assert _events(bot, case_id) == before


# --- linking a LINE account ----------------------------------------------------------------


def test_the_code_shown_on_the_page_links_a_line_account(bot, console, make_account, chat) -> None:
    console.login(make_account("somsri", name="Somsri"))
    page = console.get("/console/line").get_data(as_text=True)
    assert "ยังไม่ได้เชื่อมบัญชี LINE" in page
    assert "group-code" not in page
    issued = console.post("/console/line/code").get_data(as_text=True)
    code = re.search(r'id="link-code">(\d{6})<', issued).group(1)  # type: ignore[union-attr]
    assert f"link {code}" in issued and "10 นาที" in issued

    assert "Somsri" in words(chat.say(f"link {code}"))
    with bot.runtime.db.transaction() as session:
        found = notices.staff_for_line(session, bot.runtime.keys, chat.user_id)
        assert found is not None and found[0].username == "somsri"
    assert "เชื่อมกับบัญชี LINE แล้ว" in console.get("/console/line").get_data(as_text=True)
    assert code not in console.get("/console/line").get_data(as_text=True)

    [entry] = _actions(bot, "notify.code_issued")
    assert entry.actor == "staff:somsri" and code not in entry.detail


def test_only_admins_get_a_group_code(bot, console, make_account) -> None:
    console.login(make_account("somsri"))
    console.get("/console/line")
    assert console.post("/console/line/group-code").status_code == 403
    assert _actions(bot, "notify.code_issued") == []
    assert [e.detail for e in _actions(bot, "notify.denied")] == ["refused: role staff"]

    admin = console.__class__(bot)
    admin.login(make_account("anong", "admin", lang="en"))
    page = admin.get("/console/line").get_data(as_text=True)
    assert "/console/line/group-code" in page
    issued = admin.post("/console/line/group-code").get_data(as_text=True)
    code = re.search(r'id="link-code">(\d{6})<', issued).group(1)  # type: ignore[union-attr]
    assert "Invite the Krasip bot to the group" in issued and f"link {code}" in issued
    [entry] = _actions(bot, "notify.code_issued")
    assert entry.detail == "group code" and code not in entry.detail


def test_the_line_page_posts_need_a_csrf_token(bot, console, make_account) -> None:
    console.login(make_account("somsri"))
    assert console.client.post("/console/line/code").status_code == 400
    assert _actions(bot, "notify.code_issued") == []


def test_the_cli_prints_a_link_code_and_group_codes_only_for_admins(
    bot, keys, make_account, chat
) -> None:
    make_account("somsri", name="Somsri")
    make_account("anong", "admin")
    runner = CliRunner()
    env = _env(bot, keys)
    issued = runner.invoke(main, ["staff", "link-code", "somsri"], env=env)
    assert issued.exit_code == 0, issued.output
    code = issued.stdout.strip()
    assert re.fullmatch(r"\d{6}", code) and code not in issued.stderr
    assert "Somsri" in words(chat.say(f"link {code}"))

    refused = runner.invoke(main, ["staff", "link-code", "somsri", "--group"], env=env)
    assert refused.exit_code != 0 and "only an admin" in refused.output
    group = runner.invoke(main, ["staff", "link-code", "anong", "--group"], env=env)
    assert group.exit_code == 0 and re.fullmatch(r"\d{6}", group.stdout.strip())
    missing = runner.invoke(main, ["staff", "link-code", "nobody"], env=env)
    assert missing.exit_code != 0
    assert [e.actor for e in _actions(bot, "notify.code_issued")] == ["cli", "cli"]


# --- the outbox ------------------------------------------------------------------------------


def _dead_letter(bot, to: str) -> int:
    with bot.runtime.db.transaction() as session:
        row_id = outbox.enqueue(
            session,
            bot.runtime.keys,
            kind="push",
            to=[to],
            messages=[{"type": "text", "text": "secret content of a push"}],
            now=bot.runtime.clock(),
            purpose="staff.new_case",
        ).id
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(state="dead", attempts=8, last_error="HTTP 500")
        )
    return row_id


def test_an_admin_retries_a_dead_letter_from_the_outbox_page(
    bot, console, make_account, chat
) -> None:
    row_id = _dead_letter(bot, chat.user_id)
    console.login(make_account("anong", "admin", lang="en"))
    page = console.get("/console/outbox").get_data(as_text=True)
    assert 'id="count-dead">1<' in page and f'id="outbox-{row_id}"' in page
    assert "HTTP 500" in page and "staff.new_case" in page
    assert chat.user_id not in page and "secret content" not in page
    assert f'action="/console/outbox/{row_id}/retry"' in page

    assert console.client.post(f"/console/outbox/{row_id}/retry").status_code == 400  # no CSRF
    response = console.post(f"/console/outbox/{row_id}/retry")
    assert response.status_code == 302
    bot.settle()
    with bot.runtime.db.transaction() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None and row.state == "sent"
    assert "secret content of a push" in words(chat.new_messages())
    [entry] = _actions(bot, "outbox.retry")
    assert entry.actor == "staff:anong" and entry.detail == f"row {row_id}"
    again = console.post(f"/console/outbox/{row_id}/retry")
    assert again.status_code == 400 and "not a dead letter" in again.get_data(as_text=True)


def test_staff_cannot_see_or_retry_the_outbox(bot, console, make_account, chat) -> None:
    row_id = _dead_letter(bot, chat.user_id)
    console.login(make_account("somsri"))
    assert "/console/outbox" not in console.get("/console/cases").get_data(as_text=True)
    assert console.get("/console/outbox").status_code == 403
    token = csrf_of(console.get("/console/line").get_data(as_text=True))
    refused = console.client.post(f"/console/outbox/{row_id}/retry", data={"csrf_token": token})
    assert refused.status_code == 403
    with bot.runtime.db.transaction() as session:
        assert session.get(OutboxMessage, row_id).state == "dead"  # type: ignore[union-attr]
    assert _actions(bot, "outbox.retry") == []
    assert len(_actions(bot, "admin.denied")) == 2
