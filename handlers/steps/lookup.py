"""The token lookup: a match is always shown, only "wrong token" is slowed down."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

from handlers import flex, tokens
from handlers.dates import bangkok_today, show_date, show_datetime
from handlers.messages import flex as flex_message
from handlers.model import (
    CaseStatus,
    Incoming,
    Limits,
    MarkFailedFilesTold,
    MarkStaffMessagesRead,
    NoMatch,
    RecordLookupFailure,
    WrongTokens,
)
from handlers.steps.followup import quick_followup, ttl_minutes
from handlers.steps.quick import quick_help
from handlers.steps.state import idle
from handlers.steps.turn import Turn, catalogue_or
from handlers.texts import t

MAX_STAFF_SHOWN = 3  # unread staff messages per status card; the rest wait for the next look


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def lookup(turn: Turn, token: str) -> None:
    """The token is always looked up, and a match is always shown: only the answer
    "this token is wrong" is slowed down, so no throttle can refuse a real reporter."""
    found = turn.ctx.lookup(token)
    if isinstance(found, CaseStatus):
        show_status(turn, found)
        return
    lookup_failed(turn, found if isinstance(found, NoMatch) else NoMatch())


def lookup_failed(turn: Turn, miss: NoMatch) -> None:
    now, limits = turn.ctx.now, turn.ctx.limits
    seen = miss.wrong
    if seen.wait_until is not None and now < seen.wait_until:
        # Not counted again, so one reporter stuck on a mistyped token is not punished
        # further; guessing gains nothing from it either (80 bits, see the README).
        # Answered once a minute: a flood of wrong tokens then costs one reply a minute
        # per account, and the rest change nothing (the shell settles them on a read).
        if seen.told_at is not None and seen.told_at >= this_minute(now):
            return
        told = replace(seen, told_at=this_minute(now))
        keep = seen.wait_until + limits.lookup_memory
        turn.effects.append(RecordLookupFailure(told, keep, counted=False))
        turn.say("lookup.wait", quick_help(turn), minutes=minutes_left(seen.wait_until, now))
        return
    wrong = next_wrong_tokens(seen, now, limits, flood=miss.flood)
    if wrong.wait_until is not None:
        wrong = replace(wrong, told_at=this_minute(now))  # this answer tells of the delay
    keep = max(now, wrong.wait_until or now) + limits.lookup_memory
    turn.effects.append(RecordLookupFailure(wrong, keep))
    if wrong.wait_until is not None:
        # The delay's own length: its end was rounded up to the minute, which is not more
        # for the reporter to wait for.
        minutes = int(delay(limits, wrong.delays).total_seconds() // 60)
        turn.say("lookup.not_found")
        turn.say("lookup.wait", quick_help(turn), minutes=max(1, minutes))
    else:
        turn.say("lookup.not_found", quick_help(turn))


def next_wrong_tokens(
    seen: WrongTokens, now: datetime, limits: Limits, *, flood: bool
) -> WrongTokens:
    """The record after one more counted wrong token.

    The allowance used up, a delay begins: 1, 2, 4 ... minutes, at most the longest. While
    wrong tokens from everyone are above the global ceiling there is no allowance: each
    wrong token begins the next delay. The end is rounded up to the minute (the store
    keeps no finer time), so no delay is shorter than promised."""
    failures = seen.failures + 1
    if failures < limits.lookup_failures_allowed and not flood:
        return WrongTokens(failures, seen.delays, None)
    until = up_to_minute(now + delay(limits, seen.delays + 1))
    return WrongTokens(0, seen.delays + 1, until)


def delay(limits: Limits, nth: int) -> timedelta:
    """The ``nth`` delay (from 1): the first, then twice the one before, at most the longest."""
    step = limits.lookup_first_delay * (2 ** min(nth - 1, 16))
    return min(step, limits.lookup_longest_delay)


def this_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def up_to_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def show_status(turn: Turn, case: CaseStatus) -> None:
    lang = turn.lang
    shown = case.unread_staff_messages[:MAX_STAFF_SHOWN]
    status_key = case.status
    detail_key = f"status_detail.{case.status}"
    if case.status == "closed" and case.outcome:
        status_key = f"closed.{case.outcome}"
        detail_key = f"outcome_detail.{case.outcome}"
    bubble = flex.status_bubble(
        lang,
        case_number=case.case_number,
        category=catalogue_or(lang, f"cat.{case.category}", case.category),
        filed=show_date(lang, bangkok_today(case.filed_at)),
        status=catalogue_or(lang, f"status_name.{status_key}", case.status),
        status_detail=catalogue_or(lang, detail_key, ""),
        updated=show_datetime(lang, case.updated_at),
        public_note=case.public_note,
        staff_messages=[(show_datetime(lang, m.sent_at), m.text) for m in shown],
        more_waiting=len(case.unread_staff_messages) > len(shown),
        notice=t(lang, "status.files_not_kept", count=case.failed_files)
        if case.failed_files
        else None,
    )
    turn.replies.append(flex_message(t(lang, "status.alt", case_number=case.case_number), bubble))
    if shown:
        turn.effects.append(MarkStaffMessagesRead(case.case_id, tuple(m.message_id for m in shown)))
    if case.failed_files:
        # Told once, on this card; the next lookup does not repeat it.
        turn.effects.append(MarkFailedFilesTold(case.case_id))
    turn.state = idle(lang)
    turn.state.update(
        mode="followup",
        case_id=case.case_id,
        followup_at=turn.ctx.now.isoformat(),
        followup_media=0,
        case_anonymous=case.anonymous,
    )
    turn.say("followup.prompt", quick_followup(turn), minutes=ttl_minutes(turn))


def typed_token(incoming: Incoming) -> str | None:
    """The tracking token in a text message, canonical; ``None`` when there is none."""
    if incoming.kind != "text":
        return None
    return tokens.parse((incoming.text or "").strip())
