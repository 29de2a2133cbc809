"""A flood of wrong tokens must not stop real reporters (issue 13, finding 1).

The attack: one LINE account sent 306 wrong tokens in 25 s, and afterwards the real
reporter's correct token, from their own account and from a fresh one, was refused, since
a global ceiling was checked before the token was looked up; blocking and unblocking the
bot reset the per-chat cool-down. Now a token is always looked up and a match always
shown; only wrong tokens wait, per LINE account, in a record that outlives the chat.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.lookup_flood import Account, event, file_cases, flood, random_token, summary
from emulator.client import Emulator
from store.models import LookupFailure, LookupThrottle, ProcessedEvent
from tests.attack.test_faults import _locked
from tests.conftest import Bot, Clock, texts_of

NOT_FOUND = "ไม่พบเรื่องที่ตรงกับรหัสนี้"


def _wait_minutes(messages: list[dict[str, Any]]) -> int | None:
    """The minutes a "please wait" answer names, or None when there is none."""
    shown = texts_of(messages)
    marker = "ลองใหม่ในอีกประมาณ "
    if marker not in shown:
        return None
    return int(shown.split(marker, 1)[1].split(" ", 1)[0])


def _card_of(messages: list[dict[str, Any]], case_number: str) -> bool:
    return any(m["type"] == "flex" and case_number in m.get("altText", "") for m in messages)


def _minutes_between(began: datetime, ended: datetime) -> int:
    """How many minutes of the clock the span touches."""
    start, end = (at.replace(second=0, microsecond=0) for at in (began, ended))
    return int((end - start).total_seconds() // 60) + 1


def _into_next_minute(clock: Clock) -> None:
    """Move the clock to one second into its next minute."""
    now = clock()
    clock.advance(seconds=61 - now.second - now.microsecond / 1e6)


def _into_minute_after_told(bot: Bot, clock: Clock) -> None:
    """Move the clock half a minute into the minute after the one the account was last
    told to wait in. That is before its delay ends, however much real time the steps since
    took (the clock runs with real time, so counting from now could cross the end)."""
    (row,) = _throttle_rows(bot)
    assert row.told_at is not None
    clock.advance(seconds=(row.told_at + timedelta(seconds=90) - clock()).total_seconds())


def _say(bot: Bot, account: Account, *texts: str) -> list[dict[str, Any]]:
    account.say(*texts)
    bot.settle()
    return account.new_messages()


def _throttle_rows(bot: Bot) -> list[LookupThrottle]:
    with bot.runtime.db.transaction() as session:
        rows = list(session.scalars(select(LookupThrottle)))
        session.expunge_all()
    return rows


def test_three_hundred_wrong_tokens_from_one_account_stop_no_real_reporter(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    (filed,) = file_cases(bot.runtime, 1)
    attacker = Account(line, clock)
    began = clock()
    answers = _say(bot, attacker, *(random_token() for _ in range(306)))
    minutes = _minutes_between(began, clock())
    assert texts_of(answers).count(NOT_FOUND) == 3, "only three were told 'not found'"
    # The third began a one-minute delay and said so. The other 303 came while the account
    # had been told already (in the same minute): no answer and nothing written. Only a
    # new minute of the clock, if the flood ran into one, gets one more "please wait".
    waits = [w for w in (_wait_minutes([m]) for m in answers) if w is not None]
    assert 1 <= len(waits) <= minutes and set(waits) <= {1, 2}, (waits, minutes)
    with bot.runtime.db.transaction() as session:
        written = session.scalar(select(func.count()).select_from(ProcessedEvent))
    assert written == 3 + len(waits) - 1, "the silent ones were settled on a read"

    reporter = Account(line, clock)  # the real reporter, on their own account
    assert _card_of(_say(bot, reporter, filed.token), filed.case_number)
    fresh = Account(line, clock)  # a fresh account
    assert _card_of(_say(bot, fresh, filed.token), filed.case_number)
    # Even the flooding account, in the middle of its delay, gets the card for a right token.
    assert _card_of(_say(bot, attacker, filed.token), filed.case_number)

    # One stuck account does not grow the global count past its three counted guesses.
    with bot.runtime.db.transaction() as session:
        assert len(list(session.scalars(select(LookupFailure)))) == 3


def test_blocking_and_unblocking_the_bot_does_not_end_a_delay(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    attacker = Account(line, clock)
    assert _wait_minutes(_say(bot, attacker, *(random_token() for _ in range(3)))) == 1
    attacker.unfollow()
    attacker.follow()
    bot.settle()
    attacker.new_messages()
    _into_minute_after_told(bot, clock)  # told to wait again, once a minute
    answer = _say(bot, attacker, random_token())
    # The end is kept rounded up to the minute, so what is left may read one more.
    assert _wait_minutes(answer) in (1, 2) and NOT_FOUND not in texts_of(answer)

    clock.advance(minutes=2)
    assert _wait_minutes(_say(bot, attacker, *(random_token() for _ in range(3)))) == 2
    attacker.unfollow()
    attacker.follow()
    bot.settle()
    attacker.new_messages()
    _into_minute_after_told(bot, clock)
    assert _wait_minutes(_say(bot, attacker, random_token())) in (1, 2)


def test_the_delay_grows_and_then_ends(bot: Bot, line: Emulator, clock: Clock) -> None:
    (filed,) = file_cases(bot.runtime, 1)
    attacker = Account(line, clock)
    waits = []
    for _ in range(5):
        waits.append(_wait_minutes(_say(bot, attacker, *(random_token() for _ in range(3)))))
        clock.advance(minutes=(waits[-1] or 0) + 1)  # its end is rounded up to the minute
    assert waits == [1, 2, 4, 8, 15]
    # That delay is over: a wrong token is looked at and counted again.
    answer = _say(bot, attacker, random_token())
    assert NOT_FOUND in texts_of(answer) and _wait_minutes(answer) is None
    assert _card_of(_say(bot, attacker, filed.token), filed.case_number)

    # An hour and more without a wrong token: forgotten, and the worker deletes the row.
    clock.advance(minutes=75)
    assert _throttle_rows(bot), "kept until the worker cleans"
    bot.worker.cleaning()
    assert _throttle_rows(bot) == []
    assert _wait_minutes(_say(bot, attacker, *(random_token() for _ in range(3)))) == 1


def test_the_record_names_no_case_and_keeps_times_to_the_minute(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    (filed,) = file_cases(bot.runtime, 1)
    attacker = Account(line, clock)
    _say(bot, attacker, random_token(), filed.token, random_token(), random_token())
    (row,) = _throttle_rows(bot)
    assert {c.name for c in LookupThrottle.__table__.columns} == {
        "reporter_key",
        "failures",
        "delays",
        "wait_until",
        "told_at",
        "expires_at",
    }
    assert attacker.user_id not in row.reporter_key and len(row.reporter_key) == 64
    assert (row.failures, row.delays) == (0, 1), "the right token reset nothing"
    for at in (row.wait_until, row.told_at, row.expires_at):
        assert at is not None and at.second == 0 and at.microsecond == 0


@pytest.mark.parametrize("bot_overrides", [{"lookup_global_ceiling": 10}])
def test_above_the_global_ceiling_wrong_tokens_wait_at_once_and_right_ones_do_not(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    (filed,) = file_cases(bot.runtime, 1)
    for _ in range(5):  # 5 accounts x 2 counted wrong tokens reach the ceiling of 10
        guesses = _say(bot, Account(line, clock), random_token(), random_token())
        assert _wait_minutes(guesses) is None
    newcomer = Account(line, clock)
    answer = _say(bot, newcomer, random_token())
    assert NOT_FOUND in texts_of(answer) and _wait_minutes(answer) == 1, "no free tries"
    assert _card_of(_say(bot, newcomer, filed.token), filed.case_number)
    assert _card_of(_say(bot, Account(line, clock), filed.token), filed.case_number)


def test_load_fifty_accounts_flood_while_twenty_reporters_look_up(
    bot: Bot, line: Emulator, clock: Clock
) -> None:
    reporters = file_cases(bot.runtime, 20)
    result = flood(line, clock, reporters, accounts=50, wrong_tokens=1000, lookups_each=1)
    print(f"\nlookup flood ({bot.settings.database_url.split(':', 1)[0]}): {summary(result)}")
    assert result.wrong_sent == 1000
    assert result.unanswered == []
    assert len(result.latencies) == 20, "every real lookup got its status card"


def test_a_told_accounts_wrong_tokens_are_settled_on_a_read_while_another_writer_holds_the_database(
    bot: Bot, line: Emulator, clock: Clock, database_url: str
) -> None:
    """A flood's wrong tokens need no writer's lock, so they never queue ahead of a real
    reporter's lookup for it: while another writer holds the database, the flooding
    account (in a delay, told so this minute) is answered at once, with nothing."""
    _into_next_minute(clock)  # the whole test runs within one minute of the clock
    attacker = Account(line, clock)
    assert _wait_minutes(_say(bot, attacker, *(random_token() for _ in range(3)))) == 1
    with _locked(database_url, 0):
        started = time.monotonic()
        statuses = [
            line.post_raw_events([event("message", attacker.user_id, clock(), random_token())])
            for _ in range(20)
        ]
        took = time.monotonic() - started
        # The writing way waits for the lock, gives up and asks LINE to deliver again.
        newcomer = line.post_raw_events([event("message", "U" + "0" * 32, clock(), "hello")])
    assert statuses == [200] * 20 and took < 5, (statuses, took)
    assert newcomer == 503, "the lock was held: anything that writes had to wait"
    bot.settle()
    assert attacker.new_messages() == [], "told once this minute, nothing more"
