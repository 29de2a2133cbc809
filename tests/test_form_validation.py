"""What the form refuses, and how it recovers: limits, dates, contacts, districts,
stale buttons, cancelling, expiry and odd events."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_form_support import (
    NOW,
    Reporter,
    fake_seal,
    fill_until_review,
    quick_data,
    texts_of,
)

from handlers import handle
from handlers.dates import parse_when
from handlers.form import STEPS, valid_contact
from handlers.model import (
    Context,
    DiscardDraft,
    FetchMedia,
    Incoming,
    Limits,
    MediaRef,
    StopUpdates,
)
from handlers.texts import t


def _at_step(step: str, reporter: Reporter | None = None, **kw: object) -> Reporter:
    """A reporter whose form is waiting at ``step`` (anonymous English report)."""
    reporter = reporter or Reporter(**kw)  # type: ignore[arg-type]
    answers = [
        lambda: reporter.text("report"),
        lambda: reporter.tap("s=language&v=en"),
        lambda: reporter.tap("s=intro&v=ok"),
        lambda: reporter.tap("s=identity_mode&v=anonymous"),
        lambda: reporter.tap("s=category&v=money"),
        lambda: reporter.tap("s=agency&v=district"),
        lambda: reporter.tap("s=district&v=1004"),
        lambda: reporter.tap("s=official_name&v=skip"),
        lambda: reporter.tap("s=official_position&v=skip"),
        lambda: reporter.text("Bribe asked."),
        lambda: reporter.tap("s=description&v=done"),
        lambda: reporter.text("yesterday"),
        lambda: reporter.text("Counter 2"),
        lambda: reporter.media(),
        lambda: reporter.tap("s=evidence&v=done"),
        lambda: reporter.text("Khun Malee"),
        lambda: reporter.tap("s=notify&v=no"),
    ]
    for answer in answers:
        if reporter.step == step:
            return reporter
        answer()
    assert reporter.step == step
    return reporter


def test_over_long_short_answer_is_refused_with_the_limit_and_changes_nothing() -> None:
    reporter = _at_step("where", limits=Limits(max_short_chars=20))
    before = dict(reporter.state or {})
    result = reporter.text("x" * 21)
    assert "at most 20 characters" in texts_of(result.replies)
    assert reporter.step == "where"
    assert (reporter.state or {})["form"] == before["form"]


def test_description_total_limit_is_enforced_across_messages() -> None:
    reporter = _at_step("description", limits=Limits(max_description_chars=30))
    reporter.text("a" * 20)
    result = reporter.text("b" * 20)
    assert "30 characters in total" in texts_of(result.replies)
    assert (reporter.state or {})["form"]["description"] == "a" * 20


def test_done_without_any_description_is_refused() -> None:
    reporter = _at_step("description")
    result = reporter.tap("s=description&v=done")
    assert reporter.step == "description"
    assert "at least one message" in texts_of(result.replies)


def test_clear_empties_the_description() -> None:
    reporter = _at_step("description")
    reporter.text("wrong")
    reporter.tap("s=description&v=clear")
    reporter.text("right")
    reporter.tap("s=description&v=done")
    assert (reporter.state or {})["form"]["description"] == "right"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("15/03/2569", date(2026, 3, 15)),
        ("15/03/2026", date(2026, 3, 15)),
        ("1-3-2569", date(2026, 3, 1)),
        ("2026-03-15", date(2026, 3, 15)),
        ("today", date(2026, 3, 20)),
        ("วันนี้", date(2026, 3, 20)),
        ("yesterday", date(2026, 3, 19)),
        ("เมื่อวาน", date(2026, 3, 19)),
        ("5 มีนาคม 2569", date(2026, 3, 5)),
        ("5 Mar 2026", date(2026, 3, 5)),
        ("about March", None),
        ("ประมาณเดือนมีนาคม", None),
    ],
)
def test_dates_are_read_in_the_forms_people_write(said: str, expected: date | None) -> None:
    answer = parse_when(said, date(2026, 3, 20))
    assert answer.error is None
    assert answer.date == expected
    assert answer.text == said


def test_a_future_date_is_refused() -> None:
    reporter = _at_step("when")
    result = reporter.text("25/03/2569")
    assert reporter.step == "when"
    assert "future" in texts_of(result.replies)


def test_an_impossible_date_is_refused() -> None:
    assert parse_when("31/02/2569", date(2026, 3, 20)).error == "invalid"


def test_an_approximate_time_is_kept_as_given() -> None:
    reporter = _at_step("when")
    reporter.text("about March")
    assert (reporter.state or {})["form"]["when"] == {"text": "about March", "date": None}


@pytest.mark.parametrize(
    "contact",
    ["0812345678", "081-234-5678", "081 234 5678", "+66812345678", "02-224-2963", "a@b.co"],
)
def test_thai_phones_and_email_are_accepted_as_contact(contact: str) -> None:
    assert valid_contact(contact)


@pytest.mark.parametrize("contact", ["12345", "call me", "0812", "+1 555 1234", "a@b"])
def test_other_contacts_are_refused(contact: str) -> None:
    assert not valid_contact(contact)


def test_an_invalid_contact_is_asked_again() -> None:
    reporter = Reporter()
    fill_until_review(reporter, anonymous=False)
    reporter.tap("s=review&v=edit.identity")
    reporter.text("Somsri")
    assert reporter.step == "reporter_contact"
    result = reporter.text("my phone")
    assert reporter.step == "reporter_contact"
    assert "phone number" in texts_of(result.replies)


def test_a_typed_district_with_prefix_is_accepted() -> None:
    reporter = _at_step("district")
    result = reporter.text("เขตห้วยขวาง")
    assert (reporter.state or {})["form"]["district"] == "1017"
    assert "Huai Khwang" in texts_of(result.replies)


def test_an_ambiguous_district_offers_the_candidates() -> None:
    reporter = _at_step("district")
    result = reporter.text("Bangkok")
    assert reporter.step == "district"
    assert set(quick_data(result.replies)[:2]) == {"s=district&v=1016", "s=district&v=1020"}


def test_an_unknown_district_is_a_clear_error() -> None:
    reporter = _at_step("district")
    result = reporter.text("Springfield")
    assert reporter.step == "district"
    assert 'No Bangkok district is called "Springfield"' in texts_of(result.replies)


def test_a_stale_postback_re_asks_the_current_step() -> None:
    reporter = _at_step("where")
    result = reporter.tap("s=category&v=assets")
    assert reporter.step == "where"
    assert (reporter.state or {})["form"]["category"] == "money"
    assert "Where did it happen" in texts_of(result.replies)


@pytest.mark.parametrize("data", ["", "garbage", "s=", "v=1", "s=district&v=9999", "x" * 400])
def test_malformed_postbacks_never_crash(data: str) -> None:
    reporter = _at_step("district")
    reporter.tap(data)
    assert reporter.step == "district"


@pytest.mark.parametrize(
    "step", ["intro", "category", "district", "description", "evidence", "review"]
)
def test_cancel_leaves_the_form_at_any_step(step: str) -> None:
    reporter = _at_step(step)
    lang = (reporter.state or {})["lang"]
    reporter.text("cancel")
    assert reporter.mode == "form", "asked first"
    result = reporter.tap("s=cx&v=drop")
    assert reporter.mode == "idle"
    assert t(lang, "cancel.form") in texts_of(result.replies)


def test_cancel_after_media_discards_the_draft_attachments() -> None:
    reporter = _at_step("witnesses")
    draft_id = (reporter.state or {})["draft_id"]
    assert reporter.text("ยกเลิก").effects == []  # asked first: nothing deleted yet
    result = reporter.tap("s=cx&v=drop")
    assert result.effects == [DiscardDraft(draft_id)]


def test_cancel_before_any_media_has_nothing_to_discard() -> None:
    reporter = _at_step("category")
    reporter.tap("s=cmd&v=cancel")
    result = reporter.tap("s=cx&v=drop")
    assert reporter.mode == "idle"
    assert result.effects == []


def test_a_stale_draft_is_discarded_and_the_event_handled_from_idle() -> None:
    reporter = _at_step("witnesses")
    draft_id = (reporter.state or {})["draft_id"]
    reporter.later(timedelta(hours=25))
    result = reporter.text("hello")
    assert DiscardDraft(draft_id) in result.effects
    assert "deleted for your safety" in texts_of(result.replies)
    assert reporter.mode == "idle"
    assert "s=cmd&v=report" in quick_data(result.replies)


def test_too_many_media_items_are_refused() -> None:
    reporter = _at_step("evidence", limits=Limits(max_media_items=1))
    reporter.media("m1")
    result = reporter.media("m2")
    assert result.effects == []
    assert "At most 1 files" in texts_of(result.replies)


def test_a_file_over_the_size_limit_is_refused() -> None:
    reporter = _at_step("evidence")
    result = reporter.media("big", "file", size=26 * 1024 * 1024)
    assert not any(isinstance(e, FetchMedia) for e in result.effects)
    assert "25 MB" in texts_of(result.replies)
    assert (reporter.state or {})["media_count"] == 0


def test_media_sent_before_the_evidence_step_is_not_fetched() -> None:
    reporter = _at_step("category")
    result = reporter.media()
    assert result.effects == []
    assert reporter.step == "category"


def test_a_sticker_at_a_text_step_asks_for_text() -> None:
    reporter = _at_step("where")
    result = reporter.send(Incoming("sticker"))
    assert "answer in text" in texts_of(result.replies)


def test_stop_updates_works_in_the_middle_of_the_form() -> None:
    reporter = _at_step("review")
    result = reporter.text("stop updates")
    assert StopUpdates() in result.effects
    assert reporter.step == "review"


def test_follow_greets_with_report_status_and_language_choices() -> None:
    reporter = Reporter()
    result = reporter.send(Incoming("follow"))
    assert quick_data(result.replies) == ["s=cmd&v=report", "s=cmd&v=status", "s=lang&v=en"]
    assert "กระซิบ" in texts_of(result.replies)


def test_choosing_english_while_idle_switches_the_language() -> None:
    reporter = Reporter()
    result = reporter.tap("s=lang&v=en")
    assert "What would you like to do?" in texts_of(result.replies)
    assert (reporter.state or {})["lang"] == "en"


@pytest.mark.parametrize(
    "incoming",
    [
        Incoming("text", text=""),
        Incoming("text", text=None),
        Incoming("postback", data=None),
        Incoming("media", media=None),
        Incoming("media", media=MediaRef("m", "audio", duration_ms=1000)),
        Incoming("sticker"),
        Incoming("location"),
        Incoming("other"),
        Incoming("follow"),
    ],
)
# "language" is no longer asked (the starting word and the intro's switch set it).
@pytest.mark.parametrize("step", [s.id for s in STEPS if s.id not in ("reporter_name", "language")])
def test_no_event_at_any_step_raises(incoming: Incoming, step: str) -> None:
    reporter = Reporter()
    if step in ("reporter_contact", "reporter_relation"):
        fill_until_review(reporter, anonymous=False)
        reporter.tap("s=review&v=edit.identity")
        reporter.text("Somsri")
        if step == "reporter_relation":
            reporter.text("0812345678")
    elif step == "anonymous_bar":
        fill_until_review(reporter, witnesses=None)
    elif step == "agency_name":
        _at_step("agency", reporter)
        reporter.tap("s=agency&v=other")
    else:
        _at_step(step, reporter)
    assert reporter.step == step
    reporter.send(incoming)


def test_an_unreadable_state_starts_afresh() -> None:
    reporter = Reporter(state={"v": 1, "mode": "form", "step": "nonsense"})
    result = reporter.text("hello")
    assert reporter.mode == "idle"
    assert result.replies


def test_state_is_not_mutated_in_place() -> None:
    reporter = _at_step("where")
    before = repr(reporter.state)
    ctx = Context(now=NOW, lookup=reporter.lookup, seal_identity=fake_seal)
    handle(reporter.state, Incoming("text", text="Counter 9"), ctx)
    assert repr(reporter.state) == before
