"""Bombs are refused before decoding; damaged and unknown files are held back, shown to staff
only behind a warning, and released by the custodian alone, audited."""

from __future__ import annotations

import time

import pytest
from evidencekit import (
    ELF,
    attachments_of,
    console_as,
    file_report_with,
    pdf_with_author,
    photo_with_gps,
    png_bomb,
    send_file,
    send_image,
    send_video,
    stored_content,
    video_with_location,
    zip_archive,
)
from sqlalchemy import select

from store import sanitize, staff
from store.models import AuditEntry
from tests.conftest import Bot, Chat, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_small_png_declaring_14000_by_14000_pixels_is_refused_before_decoding(
    bot: Bot, chat: Chat
) -> None:
    bomb = png_bomb()
    assert len(bomb) < 30 * 1024
    # Decoding it would take 588 MB: under a 200 MB limit only a refusal from the header
    # can finish, and it must finish well inside the generous bound.
    started = time.monotonic()
    outcome = sanitize.clean_isolated(bomb, sanitize.Limits(memory_bytes=200 * 1024 * 1024))
    assert time.monotonic() - started < 10
    assert (outcome.verdict, outcome.reason, outcome.detail) == (
        "refused",
        "too_large",
        "14000x14000",
    )
    filed = file_report_with(chat, send_image(bomb))
    bot.run_worker()
    _, [row] = attachments_of(bot, filed.case_number)
    assert row.state == "failed" and row.blob_ct is None
    assert row.error == "refused: too_large (14000x14000)"
    assert row.attempts == 1, "a refusal is final, never retried"


def test_an_image_within_the_limits_but_over_the_side_limit_is_refused(bot: Bot) -> None:
    outcome = sanitize.clean(photo_with_gps(), sanitize.Limits(max_side=300))
    assert (outcome.verdict, outcome.detail) == ("refused", "320x240")


@pytest.mark.parametrize(
    ("make", "send"),
    [
        pytest.param(photo_with_gps, send_image, id="jpeg"),
        pytest.param(video_with_location, send_video, id="mp4"),
        pytest.param(pdf_with_author, lambda d: send_file(d, "a.pdf"), id="pdf"),
    ],
)
def test_a_truncated_file_is_held_back_as_damaged(bot: Bot, chat: Chat, make, send) -> None:  # type: ignore[no-untyped-def]
    whole = make()
    cut = whole[: len(whole) * 2 // 3]
    filed = file_report_with(chat, send(cut))
    bot.run_worker()
    case_id, [row] = attachments_of(bot, filed.case_number)
    assert (row.state, row.held_back) == ("stored", "damaged")
    assert stored_content(bot, row) == cut, "kept as sent, for the custodian to judge"
    page = console_as(bot, "somsri").get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert "Held back." in page and "damaged or incomplete file" in page


def test_a_file_outside_the_allowlist_is_shown_to_staff_only_behind_a_warning(
    bot: Bot, chat: Chat
) -> None:
    archive = zip_archive()
    filed = file_report_with(
        chat,
        send_file(archive, "evidence.docx", "application/vnd.openxmlformats"),
        send_file(ELF, "photo.jpg", "image/jpeg"),
    )
    bot.run_worker()
    case_id, rows = attachments_of(bot, filed.case_number)
    assert [(r.state, r.held_back) for r in rows] == [("stored", "format_not_allowed")] * 2
    page_url = f"/console/cases/{case_id}"

    somsri = console_as(bot, "somsri")
    page = somsri.get(page_url).get_data(as_text=True)
    assert page.count("This file could not be cleaned: it may contain data") == 2
    assert "The custodian decides whether staff may download it." in page
    for row in rows:
        href = f"/console/cases/{case_id}/attachments/{row.id}"
        assert f'href="{href}"' not in page and f'src="{href}"' not in page
        assert somsri.get(href).status_code == 403
    assert "evidence.docx" not in page

    admin = console_as(bot, "kanya", "admin")
    assert admin.get(f"/console/cases/{case_id}/attachments/{rows[0].id}").status_code == 403
    assert (
        admin.post(
            f"/console/cases/{case_id}/attachments/{rows[0].id}/release",
            {"reason": "I would like to read it please"},
        ).status_code
        == 403
    )

    custodian = console_as(bot, "prasert", "custodian")
    seen = custodian.get(page_url).get_data(as_text=True)
    assert "evidence.docx" in seen, "the custodian sees the sender's own name for it"
    download = custodian.get(f"/console/cases/{case_id}/attachments/{rows[0].id}")
    assert download.status_code == 200 and download.data == archive
    assert download.mimetype == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "evidence.docx" not in download.headers["Content-Disposition"]
    short = custodian.post(
        f"/console/cases/{case_id}/attachments/{rows[0].id}/release", {"reason": "ok"}
    )
    assert short.status_code == 400
    released = custodian.post(
        f"/console/cases/{case_id}/attachments/{rows[0].id}/release",
        {"reason": "the archive holds only the contract scan"},
    )
    assert released.status_code == 302

    again = somsri.get(page_url).get_data(as_text=True)
    assert "Released to staff by the custodian" in again
    assert somsri.get(f"/console/cases/{case_id}/attachments/{rows[0].id}").status_code == 200
    assert somsri.get(f"/console/cases/{case_id}/attachments/{rows[1].id}").status_code == 403

    with bot.runtime.db.transaction() as session:
        entries = staff.audit_entries(session, case_id=case_id)
        actions = [(e.actor, e.action) for e in entries]
        assert ("staff:prasert", "attachment.release") in actions
        assert ("staff:somsri", "attachment.denied") in actions
        assert ("staff:kanya", "attachment.release_denied") in actions
        release = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "attachment.release")
        ).one()
        assert release.detail.startswith(f"attachment {rows[0].id}; reason: the archive")


def test_a_html_file_is_held_back_and_never_rendered(bot: Bot, chat: Chat) -> None:
    page = b"<html><body><script>alert(document.cookie)</script></body></html>"
    filed = file_report_with(chat, send_file(page, "receipt.jpg", "image/jpeg"))
    bot.run_worker()
    case_id, [row] = attachments_of(bot, filed.case_number)
    assert row.held_back == "format_not_allowed"
    custodian = console_as(bot, "prasert", "custodian")
    served = custodian.get(f"/console/cases/{case_id}/attachments/{row.id}")
    assert served.mimetype == "application/octet-stream"
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in served.headers["Content-Security-Policy"]
