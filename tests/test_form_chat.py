"""How the chat feels (issue 14, items 2-6): cancel asks once, the agency step takes typed
names, sending to staff is explicit, the language is inferred and remembered, and dates
and phone numbers are read as people write them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_form_support import (
    TOKEN,
    Reporter,
    case_status,
    fill_until_review,
    quick_data,
    quick_labels,
    start_report,
    texts_of,
    unseal,
)

from handlers.dates import parse_when, understood
from handlers.form import valid_contact
from handlers.model import AddReporterMessage, DiscardDraft, FetchMedia
from handlers.texts import t

# --- item 2: cancel asks once, "keep going" first ---------------------------------------


def _at_evidence_with_a_photo(lang: str = "th") -> Reporter:
    reporter = Reporter()
    start_report(reporter, lang)
    for data in (
        "s=identity_mode&v=anonymous",
        "s=category&v=money",
        "s=agency&v=district",
        "s=district&v=1004",
        "s=official_name&v=skip",
        "s=official_position&v=skip",
    ):
        reporter.tap(data)
    reporter.text("เจ้าหน้าที่เรียกเงิน 500 บาท")
    reporter.tap("s=description&v=done")
    reporter.text("15/03/2569")
    reporter.text("ห้องทะเบียน")
    reporter.media("m1")
    assert reporter.step == "evidence"
    return reporter


@pytest.mark.parametrize("how", ["typed", "chip"])
def test_cancel_asks_once_with_keep_going_first_and_keeps_the_draft(how: str) -> None:
    reporter = _at_evidence_with_a_photo()
    before = dict(reporter.state or {})
    result = reporter.text("ยกเลิก") if how == "typed" else reporter.tap("s=cmd&v=cancel")
    assert result.effects == [], "nothing deleted before the reporter says so"
    assert quick_data(result.replies) == ["s=cx&v=keep", "s=cx&v=drop"]
    assert quick_labels(result.replies)[0] == "ทำต่อ"
    kept = reporter.tap("s=cx&v=keep")
    assert kept.effects == []
    assert reporter.step == "evidence"
    assert (reporter.state or {})["form"] == before["form"]
    assert t("th", "cancel.kept") in texts_of(kept.replies)


def test_cancel_confirmed_deletes_the_draft_and_its_files() -> None:
    reporter = _at_evidence_with_a_photo()
    draft_id = (reporter.state or {})["draft_id"]
    reporter.text("ยกเลิก")
    result = reporter.text("ยกเลิกและลบร่าง")  # the button's label typed works too
    assert result.effects == [DiscardDraft(draft_id)]
    assert reporter.mode == "idle"


def test_the_cancel_chips_beside_done_and_confirm_ask_first() -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang="th")
    assert "s=cmd&v=cancel" in quick_data(reporter.replies)  # beside "ยืนยันและส่ง"
    result = reporter.tap("s=cmd&v=cancel")
    assert result.effects == [] and reporter.step == "review"
    reporter.tap("s=cx&v=keep")
    assert reporter.step == "review"


def test_a_stale_delete_button_asks_again_instead_of_deleting() -> None:
    reporter = _at_evidence_with_a_photo()
    reporter.text("ยกเลิก")
    reporter.media("m2")  # the reporter carried on instead of answering
    result = reporter.tap("s=cx&v=drop")
    assert result.effects == [] and reporter.mode == "form"
    assert quick_data(result.replies)[0] == "s=cx&v=keep"


# --- item 3: the agency step takes typed districts and departments ----------------------


def _at_agency(lang: str = "th") -> Reporter:
    reporter = Reporter()
    start_report(reporter, lang)
    reporter.tap("s=identity_mode&v=anonymous")
    reporter.tap("s=category&v=money")
    assert reporter.step == "agency"
    return reporter


@pytest.mark.parametrize(
    ("typed", "code"), [("เขตบางรัก", "1004"), ("Chatuchak district office", "1030")]
)
def test_a_district_typed_at_the_agency_step_is_taken(typed: str, code: str) -> None:
    reporter = _at_agency()
    result = reporter.text(typed)
    form = (reporter.state or {})["form"]
    assert form["agency_kind"] == "district" and form["district"] == code
    assert reporter.step == "official_name"
    assert t("th", "err.choose") not in texts_of(result.replies)


def test_the_agency_step_offers_common_bma_departments() -> None:
    reporter = _at_agency()
    labels = quick_labels(reporter.replies)
    assert {"สำนักการโยธา", "สำนักเทศกิจ", "สำนักการศึกษา"} <= set(labels)
    assert len(labels) <= 13
    reporter.tap("s=agency&v=dept.city_law")
    assert (reporter.state or {})["form"]["agency_name"] == "สำนักเทศกิจ"
    assert reporter.step == "official_name"


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("สำนักการโยธา", "สำนักการโยธา"),
        ("public works department", "สำนักการโยธา"),
        ("ตำรวจท่องเที่ยว", "ตำรวจท่องเที่ยว"),
    ],
)
def test_a_department_or_other_agency_typed_at_the_agency_step_is_taken(
    typed: str, name: str
) -> None:
    reporter = _at_agency()
    reporter.text(typed)
    form = (reporter.state or {})["form"]
    assert form["agency_kind"] == "other" and form["agency_name"] == name
    assert reporter.step == "official_name"


def test_an_ambiguous_typed_district_offers_the_candidates() -> None:
    reporter = _at_agency()
    result = reporter.text("บาง")
    assert reporter.step == "district"
    assert all(d.startswith("s=district&") for d in quick_data(result.replies))


def test_a_department_reaches_the_report_and_the_review_in_the_reporters_language() -> None:
    reporter = _at_agency("en")
    reporter.tap("s=agency&v=dept.public_works")
    for answer in ("s=official_name&v=skip", "s=official_position&v=skip"):
        reporter.tap(answer)
    reporter.text("Asked for money")
    reporter.tap("s=description&v=done")
    reporter.text("15/03/2569")
    reporter.text("Site office")
    reporter.tap("s=evidence&v=none")
    reporter.tap("s=witnesses&v=skip")
    reporter.tap("s=notify&v=no")
    reporter.tap("s=anonymous_bar&v=submit")
    assert "Public Works Department" in texts_of(reporter.replies)
    reporter.tap("s=review&v=confirm")
    assert reporter.submitted().report["agency"] == {"kind": "other", "name": "สำนักการโยธา"}


# --- item 4: sending to staff after a lookup is an explicit step ------------------------


def _looked_up(anonymous: bool = True, lang: str = "th") -> Reporter:
    reporter = Reporter()
    reporter.lookup.cases[TOKEN] = case_status(anonymous=anonymous)
    if lang == "en":
        reporter.tap("s=lang&v=en")
    reporter.text(TOKEN)
    assert reporter.mode == "followup"
    return reporter


@pytest.mark.parametrize("said", ["ขอบคุณครับ", "thank you", "สวัสดี", "Thanks!", "ขอบคุณค่ะ 🙏"])
def test_thanks_and_greetings_after_a_lookup_are_answered_and_not_filed(said: str) -> None:
    reporter = _looked_up()
    result = reporter.text(said)
    assert result.effects == []
    assert reporter.mode == "followup"
    assert "s=fu&v=send" not in quick_data(result.replies)
    reporter.tap("s=fu&v=done")
    assert not any(isinstance(e, AddReporterMessage) for e in reporter.effects)


def test_a_message_is_shown_back_and_sent_only_when_confirmed() -> None:
    reporter = _looked_up()
    shown = reporter.text("เจ้าหน้าที่มาเก็บเงินอีกเมื่อเช้า")
    assert shown.effects == []
    assert "เจ้าหน้าที่มาเก็บเงินอีกเมื่อเช้า" in texts_of(shown.replies)
    assert quick_data(shown.replies)[0] == "s=fu&v=send"
    sent = reporter.tap("s=fu&v=send")
    assert sent.effects == [AddReporterMessage(42, "เจ้าหน้าที่มาเก็บเงินอีกเมื่อเช้า")]


def test_a_message_not_confirmed_is_never_sent() -> None:
    reporter = _looked_up()
    reporter.text("ข้อความที่พิมพ์ผิด")
    assert reporter.tap("s=fu&v=drop").effects == []
    reporter.media("m3")
    done = reporter.tap("s=fu&v=done")
    assert done.effects == [] and reporter.mode == "idle"
    assert reporter.effects == []
    assert t("th", "followup.done_unsent") in texts_of(done.replies)


def test_files_wait_for_the_confirmation_with_the_text() -> None:
    reporter = _looked_up()
    reporter.text("มีรูปใบเสร็จด้วย")
    shown = reporter.media("m4")
    assert shown.effects == [] and "1" in texts_of(shown.replies)
    sent = reporter.text("ส่งถึงศูนย์")  # the button's label typed
    assert [type(e) for e in sent.effects] == [AddReporterMessage, FetchMedia]
    fetched = sent.effects[1]
    assert isinstance(fetched, FetchMedia) and fetched.case_id == 42
    assert fetched.media.message_id == "m4"


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_confirmation_is_true_to_a_confidential_case(lang: str) -> None:
    reporter = _looked_up(anonymous=False, lang=lang)
    shown = texts_of(reporter.text("one more detail").replies)
    sent = texts_of(reporter.tap("s=fu&v=send").replies)
    for said in (shown, sent):
        assert t(lang, "followup.how.anonymous") not in said
        assert "anonymously" not in said and "ไม่เปิดเผยตัวตน" not in said
    assert sent == t(lang, "followup.sent.confidential")


def test_the_confirmation_of_an_anonymous_case_says_so_in_english() -> None:
    reporter = _looked_up(anonymous=True, lang="en")
    reporter.text("one more detail")
    sent = texts_of(reporter.tap("s=fu&v=send").replies)
    assert sent == t("en", "followup.sent.anonymous")


def test_thanks_while_idle_is_answered_politely() -> None:
    reporter = Reporter()
    result = reporter.text("ขอบคุณครับ")
    assert texts_of(result.replies).startswith(t("th", "idle.thanks"))
    assert result.effects == []


# --- item 5: the language is inferred and remembered, never demanded -------------------


@pytest.mark.parametrize(("word", "lang"), [("แจ้งเบาะแส", "th"), ("report", "en")])
def test_the_language_comes_from_the_starting_word(word: str, lang: str) -> None:
    reporter = Reporter()
    result = reporter.text(word)
    assert reporter.step == "intro", "no language question"
    assert (reporter.state or {})["lang"] == lang
    other = "en" if lang == "th" else "th"
    assert f"s=lang&v={other}" in quick_data(result.replies), "the switch is offered"


def test_the_switch_chip_changes_the_language_and_asks_the_same_question() -> None:
    reporter = Reporter()
    reporter.text("แจ้งเบาะแส")
    result = reporter.tap("s=lang&v=en")
    assert reporter.step == "intro" and (reporter.state or {})["lang"] == "en"
    assert quick_data(result.replies)[0] == "s=intro&v=ok"
    assert t("en", "btn.intro.ok") in quick_labels(result.replies)


def test_the_language_is_remembered_for_the_next_report() -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang="en")
    reporter.tap("s=review&v=confirm")
    reporter.later(timedelta(minutes=10))
    reporter.tap("s=cmd&v=report")  # the rich menu: no word to infer from
    assert reporter.step == "intro"
    assert (reporter.state or {})["lang"] == "en"


def test_a_rich_menu_start_with_nothing_remembered_is_thai_with_the_switch() -> None:
    reporter = Reporter()
    result = reporter.tap("s=cmd&v=report")
    assert (reporter.state or {})["lang"] == "th" and reporter.step == "intro"
    assert "s=lang&v=en" in quick_data(result.replies)


# --- item 6: relative dates and phone numbers as people write them ---------------------

FRIDAY = date(2026, 3, 20)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("last Tuesday", date(2026, 3, 17)),
        ("เมื่อวันอังคารที่แล้ว", date(2026, 3, 17)),
        ("วันศุกร์ที่แล้ว", date(2026, 3, 13)),  # said on a Friday: a week ago
        ("3 days ago", date(2026, 3, 17)),
        ("3 วันก่อน", date(2026, 3, 17)),
        ("สามวันก่อน", date(2026, 3, 17)),
        ("two weeks ago", date(2026, 3, 6)),
        ("เมื่อวานซืน", date(2026, 3, 18)),
    ],
)
def test_relative_days_are_read_against_the_message_date(said: str, expected: date) -> None:
    answer = parse_when(said, FRIDAY)
    assert answer.relative and answer.date == expected


@pytest.mark.parametrize(
    ("said", "lang", "shown"),
    [
        ("ต้นเดือนนี้", "th", "ต้นเดือนมีนาคม 2569"),
        ("early this month", "en", "early March 2026"),
        ("ปลายเดือนที่แล้ว", "th", "ปลายเดือนกุมภาพันธ์ 2569"),
        ("เดือนที่แล้ว", "th", "เดือนกุมภาพันธ์ 2569"),
        ("last week", "en", "the week of 9 Mar 2026 – 15 Mar 2026"),
    ],
)
def test_relative_periods_are_shown_as_understood(said: str, lang: str, shown: str) -> None:
    answer = parse_when(said, FRIDAY)
    assert answer.relative and answer.date is None
    assert understood(lang, answer) == shown


def test_a_relative_date_in_the_future_is_refused() -> None:
    assert parse_when("ปลายเดือนนี้", FRIDAY).error == "future"  # the 21st is tomorrow


def _at_when(lang: str = "th") -> Reporter:
    reporter = _at_agency(lang)
    for data in ("s=agency&v=district", "s=district&v=1004", "s=official_name&v=skip"):
        reporter.tap(data)
    reporter.tap("s=official_position&v=skip")
    reporter.text("เรียกเงิน")
    reporter.tap("s=description&v=done")
    assert reporter.step == "when"
    return reporter


def test_the_understood_date_is_shown_back_in_buddhist_era_and_confirmed() -> None:
    reporter = _at_when()  # NOW is Friday 20 March 2026 in Bangkok
    shown = reporter.text("เมื่อวันอังคารที่แล้ว")
    assert reporter.step == "when", "not taken before the reporter confirms"
    assert "วันอังคาร 17 มี.ค. 2569" in texts_of(shown.replies)
    assert quick_data(shown.replies)[:2] == ["s=when&v=ok", "s=when&v=retry"]
    reporter.tap("s=when&v=ok")
    assert reporter.step == "where"
    assert (reporter.state or {})["form"]["when"] == {
        "text": "วันอังคาร 17 มี.ค. 2569 (เมื่อวันอังคารที่แล้ว)",
        "date": "2026-03-17",
    }


def test_a_relative_date_counts_from_when_it_was_sent_not_when_it_arrived() -> None:
    reporter = _at_when()
    # LINE redelivers the message the next day: "3 days ago" still counts from Friday.
    reporter.sent_ms = int(reporter.now.timestamp() * 1000)
    reporter.now += timedelta(hours=20)
    shown = reporter.text("3 วันก่อน")
    assert "17 มี.ค. 2569" in texts_of(shown.replies)


def test_a_wrongly_understood_date_can_be_corrected() -> None:
    reporter = _at_when("en")
    reporter.text("last Tuesday")
    again = reporter.tap("s=when&v=retry")
    assert reporter.step == "when" and "when_to_check" not in (reporter.state or {})
    assert t("en", "date.retry") in texts_of(again.replies)
    reporter.text("16/03/2026")  # an exact date needs no check
    assert reporter.step == "where"
    assert (reporter.state or {})["form"]["when"]["date"] == "2026-03-16"


def test_typing_another_date_instead_of_confirming_replaces_the_first() -> None:
    reporter = _at_when()
    reporter.text("3 วันก่อน")
    shown = reporter.text("ต้นเดือนนี้")
    assert "ต้นเดือนมีนาคม 2569" in texts_of(shown.replies)
    reporter.text("ถูกต้อง")
    assert (reporter.state or {})["form"]["when"]["date"] is None
    assert "ต้นเดือนมีนาคม 2569" in (reporter.state or {})["form"]["when"]["text"]


@pytest.mark.parametrize(
    "said",
    ["phone 081 234 5678", "โทร 081-234-5678 ค่ะ", "Tel: +66 81 234 5678", "อีเมล a@b.co ครับ"],
)
def test_contacts_with_words_and_spaces_around_are_accepted(said: str) -> None:
    assert valid_contact(said)


@pytest.mark.parametrize("said", ["call me", "0812", "โทรหาได้ตลอด", "08123456789012"])
def test_things_that_are_not_contacts_are_still_refused(said: str) -> None:
    assert not valid_contact(said)


def test_a_phone_number_in_a_sentence_passes_the_contact_step_sealed() -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang="th", anonymous=False)
    reporter.tap("s=review&v=edit.identity")
    reporter.text("สมศรี ใจดี")
    result = reporter.text("โทร 081-234-5678 ค่ะ")
    assert t("th", "err.contact") not in texts_of(result.replies)
    assert reporter.step == "reporter_relation"
    sealed = (reporter.state or {})["form"]["reporter_contact"]
    assert unseal(sealed["sealed"] if isinstance(sealed, dict) else sealed)[2] == (
        "โทร 081-234-5678 ค่ะ"
    )
