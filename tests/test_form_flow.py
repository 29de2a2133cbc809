"""A reporter goes through the whole form: anonymous and confidential, Thai and English."""

from __future__ import annotations

import json
from datetime import timedelta

from test_form_support import (
    Reporter,
    fill_until_review,
    quick_data,
    start_report,
    texts_of,
    unseal,
)

from handlers.model import DiscardDraft, FetchMedia, Incoming, SubmitReport


def test_anonymous_english_report_with_a_photo_is_submitted_with_all_answers() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    assert reporter.step == "review"
    result = reporter.tap("s=review&v=confirm")
    report = reporter.submitted()
    assert report.lang == "en"
    assert report.anonymous is True
    assert report.identity is None
    assert report.notify is True
    assert report.meets_anonymous_bar is True
    assert report.report["category"] == "money"
    assert report.report["agency"] == {
        "kind": "district",
        "district_code": "1004",
        "name_th": "บางรัก",
        "name_en": "Bang Rak",
    }
    assert report.report["official"] == {"name": "Somchai", "position": None}
    assert "500 baht" in report.report["description"]
    assert report.report["when"] == {"text": "15/03/2569", "date": "2026-03-15"}
    assert report.report["where"] == "Counter 2, Bang Rak district office"
    assert report.report["witnesses"] == "Khun Malee, clerk at counter 2"
    fetched = [e for e in reporter.effects if isinstance(e, FetchMedia)]
    assert [f.draft_id for f in fetched] == [report.draft_id]
    assert result.replies == []  # the shell sends the receipt
    assert reporter.mode == "idle"


def test_confidential_thai_report_keeps_identity_out_of_the_report() -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang="th", anonymous=False)
    review = texts_of(reporter.replies)
    assert "S*** J***" in review and "08••••••78" in review  # identity shown masked
    assert "Somsri" not in review and "081-234-5678" not in review
    draft = json.dumps(reporter.state, ensure_ascii=False)
    assert "Somsri" not in draft and "234" not in draft, "the draft holds it sealed only"
    reporter.text("ยืนยันและส่ง")  # typing the button label works too
    report = reporter.submitted()
    assert report.lang == "th"
    assert report.anonymous is False
    assert {k: unseal(v)[1:] for k, v in (report.identity or {}).items()} == {
        "name": ("name", "Somsri Jaidee"),
        "contact": ("contact", "081-234-5678"),
        "relation": ("relation", "victim"),
    }
    flat = repr(report.report)
    assert "Somsri" not in flat and "081-234-5678" not in flat


def test_the_form_can_be_answered_by_typing_button_labels_in_either_language() -> None:
    reporter = Reporter()
    reporter.text("ร้องเรียน")
    reporter.text("English")
    reporter.text("i understand, continue")
    reporter.text("ไม่ระบุตัวตน")
    assert reporter.step == "category"
    reporter.text("Fees/fines/payments")
    assert reporter.state and reporter.state["form"]["category"] == "money"


def test_anonymous_report_without_witnesses_is_warned_of_8_1_1() -> None:
    reporter = Reporter()
    fill_until_review(reporter, witnesses=None)
    assert reporter.step == "anonymous_bar"
    shown = texts_of(reporter.replies)
    assert "8.1.1" in shown and "names witnesses" in shown
    assert "s=anonymous_bar&v=add_witnesses" in quick_data(reporter.replies)
    assert "s=anonymous_bar&v=add_evidence" not in quick_data(reporter.replies)


def test_thai_anonymous_warning_quotes_seed_003_wording() -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang="th", media=False, witnesses=None)
    shown = texts_of(reporter.replies)
    assert "บัตรสนเท่ห์" in shown and "ชี้พยานบุคคลแน่นอน" in shown


def test_adding_witnesses_after_the_warning_meets_the_anonymous_bar() -> None:
    reporter = Reporter()
    fill_until_review(reporter, witnesses=None)
    reporter.tap("s=anonymous_bar&v=add_witnesses")
    assert reporter.step == "witnesses"
    reporter.text("The shop owner next door saw it")
    assert reporter.step == "review"
    reporter.tap("s=review&v=confirm")
    assert reporter.submitted().meets_anonymous_bar is True


def test_submitting_anyway_records_that_the_anonymous_bar_is_not_met() -> None:
    reporter = Reporter()
    fill_until_review(reporter, media=False, witnesses=None)
    reporter.tap("s=anonymous_bar&v=submit")
    assert reporter.step == "review"
    assert "8.1.1" in texts_of(reporter.replies)
    reporter.tap("s=review&v=confirm")
    assert reporter.submitted().meets_anonymous_bar is False


def test_confidential_report_is_not_warned_of_8_1_1() -> None:
    reporter = Reporter()
    fill_until_review(reporter, anonymous=False, media=False, witnesses=None)
    assert reporter.step == "review"


def test_intro_names_the_centre_and_leaves_the_8_2_2_warning_to_the_review() -> None:
    reporter = Reporter()
    reporter.text("report")
    reporter.tap("s=language&v=th")
    shown = texts_of(reporter.replies)
    assert "ศปท.กทม." in shown
    assert "ดำเนินคดี" not in shown  # said at the review step (tests/test_first_screens.py)
    assert quick_data(reporter.replies)[0] == "s=intro&v=ok"


def test_edit_from_review_returns_to_that_step_then_back_to_review() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    reporter.tap("s=review&v=edit.when")
    assert reporter.step == "when"
    reporter.text("yesterday")
    assert reporter.step == "review"
    reporter.tap("s=review&v=confirm")
    assert reporter.submitted().report["when"]["date"] == "2026-03-19"


def test_changing_the_agency_to_another_department_asks_its_name() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    reporter.tap("s=review&v=edit.agency")
    reporter.tap("s=agency&v=other")
    assert reporter.step == "agency_name"
    reporter.text("Department of Public Works")
    assert reporter.step == "review"
    reporter.tap("s=review&v=confirm")
    assert reporter.submitted().report["agency"] == {
        "kind": "other",
        "name": "Department of Public Works",
    }


def test_switching_to_confidential_in_review_asks_for_the_identity() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    reporter.tap("s=review&v=edit.identity_mode")
    reporter.tap("s=identity_mode&v=confidential")
    assert reporter.step == "reporter_name"
    reporter.text("Somsri")
    reporter.text("somsri@example.com")
    reporter.text("I run a shop there")  # free text relation
    assert reporter.step == "review"
    draft_id = (reporter.state or {})["draft_id"]
    reporter.tap("s=review&v=confirm")
    identity = reporter.submitted().identity or {}
    assert {field: unseal(sealed) for field, sealed in identity.items()} == {
        "name": (draft_id, "name", "Somsri"),
        "contact": (draft_id, "contact", "somsri@example.com"),
        "relation": (draft_id, "relation", "I run a shop there"),
    }


def test_review_offers_confirm_and_edits_within_thirteen_quick_replies() -> None:
    reporter = Reporter()
    fill_until_review(reporter, anonymous=False)
    data = quick_data(reporter.replies)
    assert data[0] == "s=review&v=confirm"
    assert "s=review&v=edit.identity" in data
    assert len(data) <= 13


def test_description_is_appended_over_several_messages() -> None:
    reporter = Reporter()
    start_report(reporter)
    reporter.tap("s=identity_mode&v=anonymous")
    reporter.tap("s=category&v=other")
    reporter.tap("s=agency&v=other")
    reporter.text("Office of the Governor")
    reporter.tap("s=official_name&v=skip")
    reporter.tap("s=official_position&v=skip")
    reporter.text("First part.")
    reporter.text("Second part.")
    assert reporter.step == "description"
    reporter.text("done")
    assert reporter.step == "when"
    assert reporter.state and reporter.state["form"]["description"] == "First part.\nSecond part."


def test_each_evidence_item_is_fetched_and_counted() -> None:
    reporter = Reporter()
    fill_until_review(reporter, media=False)
    assert reporter.step == "anonymous_bar"
    reporter.tap("s=anonymous_bar&v=add_evidence")
    assert reporter.step == "evidence"
    first = reporter.media("m1", "image")
    second = reporter.media("m2", "file", size=1000)
    assert "item 1" in texts_of(first.replies) and "item 2" in texts_of(second.replies)
    reporter.text("The receipt book is in the drawer")
    reporter.tap("s=evidence&v=done")
    assert reporter.step == "review"
    reporter.tap("s=review&v=confirm")
    fetched = [e.media.message_id for e in reporter.effects if isinstance(e, FetchMedia)]
    assert fetched == ["m1", "m2"]
    assert reporter.submitted().report["evidence_note"] == "The receipt book is in the drawer"


def test_an_unrelated_message_during_the_form_re_asks_the_current_question() -> None:
    reporter = Reporter()
    start_report(reporter)
    reporter.tap("s=identity_mode&v=anonymous")
    result = reporter.send(Incoming("sticker"))
    assert reporter.step == "category"
    assert "s=category&v=money" in quick_data(result.replies)


def test_an_interrupted_form_resumes_where_it_stopped_hours_later() -> None:
    reporter = Reporter()
    start_report(reporter)
    reporter.tap("s=identity_mode&v=anonymous")
    reporter.later(timedelta(hours=5))
    result = reporter.text("hello?")
    assert reporter.step == "category"
    assert "s=category&v=money" in quick_data(result.replies)


def test_starting_again_during_a_draft_asks_continue_or_start_over() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    result = reporter.text("report")
    assert quick_data(result.replies) == ["s=restart&v=continue", "s=restart&v=over"]
    reporter.tap("s=restart&v=continue")
    assert reporter.step == "review"
    reporter.text("report")
    result = reporter.text("Start over")
    assert reporter.step == "intro"
    assert any(isinstance(e, DiscardDraft) for e in result.effects)


def test_confirming_twice_files_only_one_report() -> None:
    reporter = Reporter()
    fill_until_review(reporter)
    reporter.tap("s=review&v=confirm")
    reporter.tap("s=review&v=confirm")
    assert len([e for e in reporter.effects if isinstance(e, SubmitReport)]) == 1


def test_the_district_can_be_picked_from_paged_quick_replies() -> None:
    reporter = Reporter()
    start_report(reporter)
    reporter.tap("s=identity_mode&v=anonymous")
    reporter.tap("s=category&v=city_law")
    result = reporter.tap("s=agency&v=district")
    data = quick_data(result.replies)
    assert len(data) == 13 and data[-2] == "s=district&p=1" and data[-1] == "s=district&v=type"
    seen: set[str] = set()
    page = result
    for _ in range(5):
        codes = [d for d in quick_data(page.replies) if "&v=" in d and not d.endswith("type")]
        seen.update(codes)
        page = reporter.tap(quick_data(page.replies)[-2])
    assert len(seen) == 50
    reporter.tap("s=district&v=1017")
    assert reporter.state and reporter.state["form"]["district"] == "1017"
    assert reporter.step == "official_name"
