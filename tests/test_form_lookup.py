"""Checking a report's status with the tracking token, the delays after wrong tokens,
the follow-up messages to the centre, and the shell's fixed messages."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from test_form_support import (
    NOW,
    TOKEN,
    FakeLookup,
    Reporter,
    case_status,
    line_errors,
    quick_data,
    staff_message,
    texts_of,
)

from handlers import failure_notice, group_notice, receipt, state_lang, update_notice
from handlers.model import (
    AddReporterMessage,
    CaseStatus,
    FetchMedia,
    Incoming,
    MarkStaffMessagesRead,
    NoMatch,
    RecordLookupFailure,
    Result,
    WrongTokens,
)

WRONG = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"


def _reporter(**case: object) -> Reporter:
    return Reporter(lookup=FakeLookup({TOKEN: case_status(**case)}))


@dataclass
class RememberingLookup(FakeLookup):
    """Plays the shell's store of wrong tokens: hands the handler what it last recorded,
    until that record's time is over; ``flood`` plays the global ceiling."""

    wrong: WrongTokens = field(default_factory=WrongTokens)
    keep_until: datetime | None = None
    flood: bool = False
    now: datetime = NOW

    def __call__(self, token: str) -> CaseStatus | str | NoMatch:
        found = super().__call__(token)
        if isinstance(found, CaseStatus):
            return found
        if self.keep_until is None or self.now >= self.keep_until:
            self.wrong = WrongTokens()
        return NoMatch(self.wrong, self.flood)


@dataclass
class ThrottledReporter(Reporter):
    lookup: RememberingLookup = field(default_factory=RememberingLookup)

    def send(self, incoming: Incoming) -> Result:
        self.lookup.now = self.now
        result = super().send(incoming)
        for effect in result.effects:
            if isinstance(effect, RecordLookupFailure):
                self.lookup.wrong, self.lookup.keep_until = effect.wrong, effect.keep_until
        return result


def _throttled(**case: object) -> ThrottledReporter:
    return ThrottledReporter(lookup=RememberingLookup({TOKEN: case_status(**case)}))


def test_a_token_sent_while_idle_shows_the_status_card() -> None:
    reporter = _reporter()
    result = reporter.text("7kq2 m9xd 4fra 8pzt")
    assert reporter.lookup.calls == [TOKEN]
    card = result.replies[0]
    assert card["type"] == "flex"
    shown = texts_of(result.replies)
    assert "KRS-2026-000123" in shown
    assert "การเงิน ค่าธรรมเนียม ค่าปรับ" in shown  # category label, Thai by default
    assert "1 มี.ค. 2569" in shown  # filed date with the Buddhist-era year
    assert "ตรวจสอบข้อเท็จจริงเบื้องต้น" in shown
    assert "Documents requested from the district." in shown
    assert reporter.mode == "followup"


def test_status_card_in_english_uses_the_common_era() -> None:
    reporter = _reporter()
    reporter.tap("s=lang&v=en")
    result = reporter.text(f"my token is {TOKEN}")
    shown = texts_of(result.replies)
    assert "1 Mar 2026" in shown and "Preliminary review" in shown


def test_a_closed_case_shows_its_outcome_in_plain_words() -> None:
    reporter = _reporter(status="closed", outcome="referred_nacc")
    result = reporter.text(TOKEN)
    assert "ส่งเรื่องให้สำนักงาน ป.ป.ช." in texts_of(result.replies)


def test_unread_staff_messages_are_shown_and_marked_read() -> None:
    messages = tuple(staff_message(i, f"question {i}") for i in (1, 2, 3, 4))
    reporter = _reporter(unread_staff_messages=messages)
    result = reporter.text(TOKEN)
    shown = texts_of(result.replies)
    assert "question 1" in shown and "question 3" in shown and "question 4" not in shown
    assert MarkStaffMessagesRead(42, (1, 2, 3)) in result.effects


def test_status_word_asks_for_the_token_then_looks_it_up() -> None:
    reporter = _reporter()
    result = reporter.text("สถานะ")
    assert "7KQ2-M9XD-4FRA-8PZT" in texts_of(result.replies)
    assert reporter.mode == "await_token"
    reporter.text(TOKEN.replace("0", "O"))
    assert reporter.lookup.calls == [TOKEN]


def test_a_wrong_token_gets_a_generic_answer_and_is_recorded() -> None:
    reporter = _reporter()
    result = reporter.text(WRONG)
    assert "ไม่พบเรื่องที่ตรงกับรหัสนี้" in texts_of(result.replies)
    keep = NOW + timedelta(hours=1)
    assert result.effects == [RecordLookupFailure(WrongTokens(failures=1), keep)]


def test_three_wrong_tokens_begin_a_one_minute_delay() -> None:
    reporter = _throttled()
    for _ in range(2):
        assert "กรุณารอ" not in texts_of(reporter.text(WRONG).replies)
    result = reporter.text(WRONG)
    shown = texts_of(result.replies)
    assert "ไม่พบเรื่องที่ตรงกับรหัสนี้" in shown and "อีกประมาณ 1 นาที" in shown
    # That answer told of the delay: the minute is kept, so no second answer follows in it.
    assert reporter.lookup.wrong == WrongTokens(0, 1, NOW + timedelta(minutes=1), NOW)


def test_a_wrong_token_during_a_delay_is_told_to_wait_once_a_minute_and_not_counted() -> None:
    reporter = _throttled()
    for _ in range(3):
        reporter.text(WRONG)
    # A longer delay than the first, so that it spans several minutes.
    reporter.lookup.wrong = replace(reporter.lookup.wrong, wait_until=NOW + timedelta(minutes=4))
    reporter.later(timedelta(seconds=20))
    result = reporter.text(WRONG)
    assert result.replies == [] and result.effects == [], "told in this minute already"
    reporter.later(timedelta(seconds=50))  # the next minute
    result = reporter.text(WRONG)
    assert "อีกประมาณ 3 นาที" in texts_of(result.replies)
    told = WrongTokens(0, 1, NOW + timedelta(minutes=4), NOW + timedelta(minutes=1))
    keep = NOW + timedelta(minutes=4) + timedelta(hours=1)
    # Not counted: a stuck reporter's delay does not grow, nor does the global count.
    assert result.effects == [RecordLookupFailure(told, keep, counted=False)]
    for _ in range(5):
        assert reporter.text(WRONG).replies == []
    reporter.later(timedelta(minutes=1))
    assert "อีกประมาณ 2 นาที" in texts_of(reporter.text(WRONG).replies)


# The old per-chat cool-down refused even the right token ("even the right token waits");
# a right token must now always be answered, so the card shows in the middle of a delay.
def test_the_right_token_is_answered_in_the_middle_of_a_delay() -> None:
    reporter = _throttled()
    for _ in range(3):
        reporter.text(WRONG)
    result = reporter.text(TOKEN)
    assert reporter.lookup.calls[-1] == TOKEN
    assert result.replies[0]["type"] == "flex"
    assert reporter.mode == "followup"


def test_delays_grow_one_two_four_up_to_fifteen_minutes_then_end() -> None:
    reporter = _throttled()
    reporter.text(WRONG)
    for minutes in (1, 2, 4, 8, 15, 15):
        for _ in range(2):
            result = reporter.text(WRONG)
        assert f"อีกประมาณ {minutes} นาที" in texts_of(result.replies)
        reporter.later(timedelta(minutes=minutes))  # the delay ends: wrong tokens count again
        assert [type(e) for e in reporter.text(WRONG).effects] == [RecordLookupFailure]


def test_wrong_tokens_are_forgotten_after_an_hour_without_one() -> None:
    reporter = _throttled()
    for _ in range(2):
        reporter.text(WRONG)
    reporter.later(timedelta(minutes=61))
    for _ in range(2):
        result = reporter.text(WRONG)
    assert "กรุณารอ" not in texts_of(result.replies)
    assert reporter.lookup.wrong.failures == 2


# The old global ceiling refused every lookup, right tokens too; now it only takes away
# the free tries of wrong ones.
def test_during_a_flood_each_wrong_token_begins_a_delay_but_right_tokens_are_shown() -> None:
    reporter = _throttled()
    reporter.lookup.flood = True
    result = reporter.text(WRONG)
    assert "อีกประมาณ 1 นาที" in texts_of(result.replies)
    assert reporter.text(TOKEN).replies[0]["type"] == "flex"


def test_counts_in_a_state_saved_before_the_upgrade_no_longer_refuse_the_right_token() -> None:
    reporter = _reporter()
    until = (NOW + timedelta(minutes=10)).isoformat()
    reporter.state = {"v": 1, "lang": "th", "mode": "idle", "cooldown_until": until}
    result = reporter.text(TOKEN)
    assert result.replies[0]["type"] == "flex"
    assert "cooldown_until" not in (reporter.state or {})


def test_a_token_is_not_looked_up_in_the_middle_of_the_form() -> None:
    reporter = _reporter()
    reporter.text("report")
    reporter.tap("s=language&v=en")
    reporter.tap("s=intro&v=ok")
    reporter.tap("s=identity_mode&v=anonymous")
    reporter.tap("s=category&v=other")
    reporter.tap("s=agency&v=other")
    reporter.text("Office")
    reporter.tap("s=official_name&v=skip")
    reporter.tap("s=official_position&v=skip")
    reporter.text(TOKEN)  # it is part of the description, not a lookup
    assert reporter.lookup.calls == []
    assert reporter.step == "description"


def test_follow_up_text_goes_to_the_centre_anonymously() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    shown = reporter.text("The clerk's name is on the receipt.")
    assert shown.effects == [], "shown back first, sent only when confirmed"
    result = reporter.tap("s=fu&v=send")
    assert result.effects == [AddReporterMessage(42, "The clerk's name is on the receipt.")]
    assert "โดยไม่เปิดเผยตัวตน" in texts_of(result.replies)
    assert quick_data(result.replies) == ["s=fu&v=done"]


def test_follow_up_media_is_fetched_for_the_case() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    assert reporter.media("m9", "video").effects == []
    result = reporter.tap("s=fu&v=send")
    assert [type(e) for e in result.effects] == [FetchMedia]
    assert result.effects[0] == FetchMedia(result.effects[0].media, case_id=42)  # type: ignore[union-attr]


def test_follow_up_ends_with_done() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    reporter.tap("s=fu&v=done")
    assert reporter.mode == "idle"
    result = reporter.text("more text")
    assert result.effects == []


def test_follow_up_expires_and_nothing_more_is_sent() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    reporter.later(timedelta(minutes=31))
    result = reporter.text("late addition")
    assert result.effects == []
    assert "หมดเวลา" in texts_of(result.replies)
    assert reporter.mode == "idle"


def test_over_long_follow_up_text_is_refused() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    result = reporter.text("x" * 2001)
    assert result.effects == []
    assert "2000" in texts_of(result.replies)


def test_a_report_can_be_started_from_follow_up_mode() -> None:
    reporter = _reporter()
    reporter.text(TOKEN)
    reporter.text("report")
    assert reporter.step == "intro"


def test_receipt_shows_token_large_and_alone_but_not_in_the_alt_text() -> None:
    messages = receipt("th", "KRS-2026-000123", TOKEN)
    assert line_errors(messages) == []
    assert messages[0]["type"] == "flex" and TOKEN not in messages[0]["altText"]
    assert "KRS-2026-000123" in texts_of(messages[:1])
    assert TOKEN in texts_of(messages[:1])
    assert messages[1] == {"type": "text", "text": TOKEN}
    assert "ความลับ" in texts_of(receipt("th", "KRS-1", TOKEN))
    assert "secret" in texts_of(receipt("en", "KRS-1", TOKEN))


def test_notices_are_short_valid_and_never_carry_case_content() -> None:
    for lang in ("th", "en"):
        for messages in (group_notice(lang), failure_notice(lang), update_notice(lang)):
            assert line_errors(messages) == [] and len(messages) == 1
    assert "1:1" in texts_of(group_notice("en"))
    assert "token" in texts_of(update_notice("en"))
    assert "lost" in texts_of(failure_notice("en"))


def test_state_lang_defaults_to_thai() -> None:
    assert state_lang(None) == "th"
    assert state_lang({"lang": "en"}) == "en"
    assert state_lang({"lang": "fr"}) == "th"
