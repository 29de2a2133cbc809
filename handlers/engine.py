"""The conversation: one pure function from (state, event, context) to a :class:`Result`.

The engine interprets the form table in :mod:`handlers.form`; it knows the *kinds* of
step, never the questions. Around the form sit the global commands (start, status,
cancel, stop updates), the token lookup with its delays, and the follow-up mode in
which a reporter who has just looked up a case may send more to the centre.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers import districts, flex, identity, tokens
from handlers.dates import bangkok_today, parse_when, show_date, show_datetime
from handlers.form import (
    CHOICE_VALUES,
    FIRST_STEP,
    STEP_BY_ID,
    STEPS,
    Choice,
    Step,
    applies,
    choices_for,
    edit_groups,
    has_evidence,
    is_confidential,
    meets_anonymous_bar,
    next_step,
    steps_in_group,
)
from handlers.messages import (
    finish,
    postback_data,
    quick_item,
    read_postback,
    text,
)
from handlers.messages import flex as flex_message
from handlers.model import (
    AddReporterMessage,
    CaseStatus,
    Context,
    DiscardDraft,
    Effect,
    FetchMedia,
    Incoming,
    Limits,
    MarkFailedFilesTold,
    MarkStaffMessagesRead,
    MediaRef,
    Message,
    NoMatch,
    RecordLookupFailure,
    Result,
    State,
    StopUpdates,
    SubmitReport,
    WrongTokens,
)
from handlers.texts import LANGS, t, variants

STATE_VERSION = 1
DEFAULT_LANG = "th"
DISTRICT_PAGE = 11  # + "more" + "type the name" = 13 quick replies, LINE's maximum
MAX_CANDIDATES = 11
MAX_STAFF_SHOWN = 3  # unread staff messages per status card; the rest wait for the next look
SUMMARY_CHARS = 300  # long answers are cut in the review card
# Identity answers (handlers.identity.FIELDS) are sealed at typing and shown masked (8.2.1).

CMD = "cmd"  # postback scope of the global commands
LANG = "lang"
RESTART = "restart"
FOLLOWUP = "fu"


# --- the turn -------------------------------------------------------------------------


@dataclass
class _Turn:
    """One event being handled: the working copy of the state and what goes out."""

    state: State
    ctx: Context
    replies: list[Message] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    followup_expired: bool = False

    @property
    def lang(self) -> str:
        return state_lang(self.state)

    def say(self, key: str, quick: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        self.replies.append(text(t(self.lang, key, **kw), quick))

    def result(self) -> Result:
        if self.state.get("mode") == "idle":
            # An idle state keeps no instant: after a report it would be the filing time.
            self.state.pop("updated_at", None)
        else:
            self.state["updated_at"] = self.ctx.now.isoformat()
        new_state: State | None = self.state
        if _is_blank_idle(self.state):
            new_state = None  # nothing worth keeping: no conversation row at all
        return Result(new_state, finish(self.replies), self.effects)


def state_lang(state: State | None) -> str:
    """The reporter's language in ``state``: ``"th"`` unless English was chosen."""
    if isinstance(state, dict) and state.get("lang") in LANGS:
        return str(state["lang"])
    return DEFAULT_LANG


def handle(state: State | None, incoming: Incoming, ctx: Context) -> Result:
    """Handle one event from a reporter in a 1:1 chat; never raises on odd input."""
    turn = _Turn(_coerce(state), ctx)
    _expire(turn)
    identity.seal_plain_answers(ctx, turn.state)
    if incoming.kind == "follow":
        _greet(turn)
        return turn.result()
    command = _command(turn, incoming)
    restart_pending = turn.state.pop("restart_prompt", False)
    if restart_pending and command and command[0] == RESTART:
        _restart_answer(turn, command[1], incoming)
    elif command:
        _run_command(turn, command, incoming)
    elif turn.state["mode"] == "form":
        _form_event(turn, incoming)
    elif turn.state["mode"] == "followup":
        _followup_event(turn, incoming)
    else:
        _idle_event(turn, incoming)
    return turn.result()


# --- state ------------------------------------------------------------------------------


def _idle(lang: str) -> State:
    """An idle state. Wrong tokens are remembered by the shell, outside the state."""
    return {"v": STATE_VERSION, "lang": lang, "mode": "idle"}


def _is_blank_idle(state: State) -> bool:
    return state.get("mode") == "idle" and state_lang(state) == DEFAULT_LANG


def keep_until(state: State | None, now: datetime, limits: Limits) -> datetime | None:
    """Until when the shell must keep ``state``; None when it need not be kept at all.

    After this the state is useless (a draft expired, a follow-up window closed), so it
    is destroyed rather than left to link a chat to a case.
    """
    if not isinstance(state, dict):
        return None
    mode = state.get("mode")
    if mode == "form":
        return now + limits.draft_ttl
    if mode == "followup":
        return (_when(state.get("followup_at")) or now) + limits.followup_ttl
    if mode == "await_token" or state_lang(state) != DEFAULT_LANG:
        # A language choice is remembered for a while, not for ever: a row kept long
        # after a report would date its filing.
        return now + limits.followup_ttl
    return None


def _coerce(state: State | None) -> State:
    """A private, well-formed copy of the stored state; anything unreadable starts afresh."""
    if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
        return _idle(state_lang(state))
    working = copy.deepcopy(state)
    # Per-chat wrong tokens of states saved before the shell kept them (unfollow lost them).
    working.pop("lookup_failures", None)
    working.pop("cooldown_until", None)
    mode = working.get("mode")
    if mode == "form":
        ok = (
            working.get("step") in STEP_BY_ID
            and isinstance(working.get("form"), dict)
            and isinstance(working.get("done"), list)
            and isinstance(working.get("draft_id"), str)
        )
        if not ok:
            return _idle(state_lang(working))
    elif mode == "followup":
        if not isinstance(working.get("case_id"), int):
            return _idle(state_lang(working))
    elif mode not in ("idle", "await_token"):
        return _idle(state_lang(working))
    return working


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _expire(turn: _Turn) -> None:
    """Stale drafts are discarded, stale follow-ups end."""
    st, now, limits = turn.state, turn.ctx.now, turn.ctx.limits
    last = _when(st.get("updated_at"))
    if st["mode"] == "form" and (last is None or now - last > limits.draft_ttl):
        _drop_draft(turn)
        turn.say("draft.expired")
    elif st["mode"] == "followup":
        since = _when(st.get("followup_at"))
        if since is None or now - since > limits.followup_ttl:
            turn.state = _idle(turn.lang)
            turn.followup_expired = True


def _drop_draft(turn: _Turn) -> None:
    st = turn.state
    # Only media leaves anything behind outside the state (fetched under the draft id).
    if int(st.get("media_count") or 0) > 0 and isinstance(st.get("draft_id"), str):
        turn.effects.append(DiscardDraft(st["draft_id"]))
    turn.state = _idle(turn.lang)


def _draft_id(ctx: Context, incoming: Incoming) -> str:
    if ctx.entropy:
        return "d" + ctx.entropy  # the shell's randomness: the id dates nothing
    # Handlers have no randomness: the time to the microsecond plus a digest of the event.
    seed = f"{ctx.now.isoformat()}|{incoming.kind}|{incoming.text}|{incoming.data}"
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8]
    return f"d{ctx.now.strftime('%Y%m%d%H%M%S%f')}{digest}"


# --- commands ---------------------------------------------------------------------


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def _said(value: str | None, *keys: str) -> bool:
    said = _norm(value)
    return bool(said) and any(said == _norm(v) for key in keys for v in variants(key))


def _command(turn: _Turn, incoming: Incoming) -> tuple[str, str] | None:
    """A global command in this event, as (scope, value); ``None`` if there is none."""
    if incoming.kind == "postback":
        pb = read_postback(incoming.data)
        scope, value = pb.get("s", ""), pb.get("v", "")
        if scope in (CMD, LANG, RESTART) and value:
            return scope, value
        return None
    if incoming.kind != "text":
        return None
    said = incoming.text
    if turn.state.get("restart_prompt"):
        for value in ("continue", "over"):
            if _said(said, f"btn.restart.{value}", f"label.restart.{value}"):
                return RESTART, value
    for value, keys in (
        ("report", ("kw.report", "btn.cmd.report")),
        ("status", ("kw.status", "btn.cmd.status")),
        ("cancel", ("kw.cancel", "btn.cancel")),
        ("stop", ("kw.stop_updates",)),
    ):
        if _said(said, *keys):
            return CMD, value
    return None


def _run_command(turn: _Turn, command: tuple[str, str], incoming: Incoming) -> None:
    scope, value = command
    mode = turn.state["mode"]
    if scope == RESTART:
        # The restart question was already answered or never asked: just carry on.
        _reask_or_help(turn)
    elif scope == LANG:
        if mode == "form" or value not in LANGS:
            _reask_or_help(turn)
        else:
            turn.state["lang"] = value
            _help(turn)
    elif value == "report":
        if mode == "form":
            turn.state["restart_prompt"] = True
            turn.say("restart.prompt", _quick_restart(turn))
        else:
            _start_form(turn, incoming)
    elif value == "status":
        if mode == "form":
            turn.say("status.finish_form_first")
            _reask(turn)
        else:
            turn.state = _idle(turn.lang)
            turn.state["mode"] = "await_token"
            turn.say("status.ask_token", [_cmd_item(turn, "cancel")])
    elif value == "cancel":
        _cancel(turn)
    elif value == "stop":
        turn.effects.append(StopUpdates())
        if mode == "form" and turn.state["form"].get("notify") is True:
            turn.state["form"]["notify"] = False  # the draft's opt-in goes too
        turn.say("updates.stopped")
        if mode == "form":
            _reask(turn)
    else:
        _reask_or_help(turn)


def _cancel(turn: _Turn) -> None:
    mode = turn.state["mode"]
    if mode == "form":
        _drop_draft(turn)
        turn.say("cancel.form", _quick_help(turn))
    elif mode in ("followup", "await_token"):
        turn.state = _idle(turn.lang)
        turn.say("cancel.other", _quick_help(turn))
    else:
        turn.say("cancel.nothing", _quick_help(turn))


def _restart_answer(turn: _Turn, value: str, incoming: Incoming) -> None:
    if value == "over" and turn.state["mode"] == "form":
        _drop_draft(turn)
        _start_form(turn, incoming)
    else:
        _reask_or_help(turn)


def _reask_or_help(turn: _Turn) -> None:
    if turn.state["mode"] == "form":
        _reask(turn)
    else:
        _help(turn)


# --- quick replies ----------------------------------------------------------------


def _cmd_item(turn: _Turn, value: str) -> dict[str, Any]:
    key = "btn.cancel" if value == "cancel" else f"btn.cmd.{value}"
    return quick_item(t(turn.lang, key), postback_data(CMD, value), t(turn.lang, key))


def _quick_help(turn: _Turn) -> list[dict[str, Any]]:
    other = "en" if turn.lang == "th" else "th"
    return [
        _cmd_item(turn, "report"),
        _cmd_item(turn, "status"),
        quick_item(
            t(other, "btn.lang.self"), postback_data(LANG, other), t(other, "btn.lang.self")
        ),
    ]


def _quick_restart(turn: _Turn) -> list[dict[str, Any]]:
    return [
        quick_item(
            t(turn.lang, f"btn.restart.{v}"),
            postback_data(RESTART, v),
            t(turn.lang, f"label.restart.{v}"),
        )
        for v in ("continue", "over")
    ]


def _choice_item(turn: _Turn, step: Step, choice: Choice) -> dict[str, Any]:
    return quick_item(
        t(turn.lang, choice.button_key),
        postback_data(step.id, choice.value),
        t(turn.lang, choice.label_key),
    )


def _with_cancel(turn: _Turn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(items) < 13:
        items = [*items, _cmd_item(turn, "cancel")]
    return items


# --- greeting, help, idle -------------------------------------------------------------


def _greet(turn: _Turn) -> None:
    turn.say("greeting", _quick_help(turn))
    if turn.state["mode"] == "form":
        _reask(turn)


def _help(turn: _Turn) -> None:
    turn.say("help", _quick_help(turn))


def _idle_event(turn: _Turn, incoming: Incoming) -> None:
    awaiting = turn.state["mode"] == "await_token"
    if incoming.kind == "text":
        token = tokens.parse(incoming.text or "")
        if token is not None:
            _lookup(turn, token)
            return
        if awaiting:
            turn.state["mode"] = "idle"
            turn.say("status.not_a_token", _quick_help(turn))
            return
    if turn.followup_expired and incoming.kind in ("text", "media"):
        turn.say("followup.expired", _quick_help(turn))
    elif incoming.kind == "media":
        turn.say("idle.media", _quick_help(turn))
    else:
        _help(turn)


# --- lookup, delays and follow-up ----------------------------------------------------


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _lookup(turn: _Turn, token: str) -> None:
    """The token is always looked up, and a match is always shown: only the answer
    "this token is wrong" is slowed down, so no throttle can refuse a real reporter."""
    found = turn.ctx.lookup(token)
    if isinstance(found, CaseStatus):
        _show_status(turn, found)
        return
    _lookup_failed(turn, found if isinstance(found, NoMatch) else NoMatch())


def _lookup_failed(turn: _Turn, miss: NoMatch) -> None:
    now, limits = turn.ctx.now, turn.ctx.limits
    seen = miss.wrong
    if seen.wait_until is not None and now < seen.wait_until:
        # Not counted again, so one reporter stuck on a mistyped token is not punished
        # further; guessing gains nothing from it either (80 bits, see the README).
        turn.say("lookup.wait", _quick_help(turn), minutes=_minutes_left(seen.wait_until, now))
        return
    wrong = next_wrong_tokens(seen, now, limits, flood=miss.flood)
    keep = max(now, wrong.wait_until or now) + limits.lookup_memory
    turn.effects.append(RecordLookupFailure(wrong, keep))
    if wrong.wait_until is not None:
        # The delay's own length: its end was rounded up to the minute, which is not more
        # for the reporter to wait for.
        minutes = int(_delay(limits, wrong.delays).total_seconds() // 60)
        turn.say("lookup.not_found")
        turn.say("lookup.wait", _quick_help(turn), minutes=max(1, minutes))
    else:
        turn.say("lookup.not_found", _quick_help(turn))


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
    until = _up_to_minute(now + _delay(limits, seen.delays + 1))
    return WrongTokens(0, seen.delays + 1, until)


def _delay(limits: Limits, nth: int) -> timedelta:
    """The ``nth`` delay (from 1): the first, then twice the one before, at most the longest."""
    step = limits.lookup_first_delay * (2 ** min(nth - 1, 16))
    return min(step, limits.lookup_longest_delay)


def _up_to_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def _show_status(turn: _Turn, case: CaseStatus) -> None:
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
        category=_catalogue_or(lang, f"cat.{case.category}", case.category),
        filed=show_date(lang, bangkok_today(case.filed_at)),
        status=_catalogue_or(lang, f"status_name.{status_key}", case.status),
        status_detail=_catalogue_or(lang, detail_key, ""),
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
    turn.state = _idle(lang)
    turn.state.update(
        mode="followup",
        case_id=case.case_id,
        followup_at=turn.ctx.now.isoformat(),
        followup_media=0,
    )
    turn.say("followup.prompt", _quick_followup(turn), minutes=_ttl_minutes(turn))


def _ttl_minutes(turn: _Turn) -> int:
    return int(turn.ctx.limits.followup_ttl.total_seconds() // 60)


def _quick_followup(turn: _Turn) -> list[dict[str, Any]]:
    return [
        quick_item(
            t(turn.lang, "btn.done"), postback_data(FOLLOWUP, "done"), t(turn.lang, "label.done")
        )
    ]


def _followup_event(turn: _Turn, incoming: Incoming) -> None:
    st = turn.state
    case_id = int(st["case_id"])
    pb = read_postback(incoming.data) if incoming.kind == "postback" else {}
    finished = (pb.get("s") == FOLLOWUP and pb.get("v") == "done") or (
        incoming.kind == "text" and _said(incoming.text, "btn.done", "label.done", "kw.done")
    )
    if finished:
        turn.state = _idle(turn.lang)
        turn.say("followup.done", _quick_help(turn))
        return
    if incoming.kind == "text":
        body = (incoming.text or "").strip()
        token = tokens.parse(body)
        if token is not None:
            _lookup(turn, token)
            return
        if _refuse_text(turn, body, turn.ctx.limits.max_text_chars):
            return
        turn.effects.append(AddReporterMessage(case_id, body))
        st["followup_at"] = turn.ctx.now.isoformat()
        turn.say("followup.sent", _quick_followup(turn))
    elif incoming.kind == "media" and incoming.media is not None:
        count = int(st.get("followup_media") or 0)
        if _refuse_media(turn, incoming.media, count, _quick_followup(turn)):
            return
        turn.effects.append(FetchMedia(incoming.media, case_id=case_id))
        st["followup_media"] = count + 1
        st["followup_at"] = turn.ctx.now.isoformat()
        turn.say("followup.media_received", _quick_followup(turn), count=count + 1)
    else:
        turn.say("followup.hint", _quick_followup(turn))


# --- shared checks ----------------------------------------------------------------


def _refuse_text(turn: _Turn, body: str, limit: int) -> bool:
    """Over-long or empty input changes nothing and says why."""
    if not body:
        turn.say("err.empty")
        return True
    if len(body) > limit:
        turn.say("err.too_long", limit=limit, length=len(body))
        return True
    return False


def _refuse_media(
    turn: _Turn, media: MediaRef, count: int, quick: list[dict[str, Any]] | None = None
) -> bool:
    limits = turn.ctx.limits
    if count >= limits.max_media_items:
        turn.say("err.too_many_media", quick, max=limits.max_media_items)
        return True
    if media.size is not None and media.size > limits.max_file_bytes:
        turn.say("err.file_too_big", quick, max_mb=limits.max_file_bytes // (1024 * 1024))
        return True
    return False


def _catalogue_or(lang: str, key: str, fallback: str) -> str:
    try:
        return t(lang, key)
    except KeyError:
        return fallback


# --- the form ---------------------------------------------------------------------------


def _start_form(turn: _Turn, incoming: Incoming) -> None:
    turn.state = _idle(turn.lang)
    turn.state.update(
        mode="form",
        step=FIRST_STEP,
        draft_id=_draft_id(turn.ctx, incoming),
        form={},
        done=[],
        media_count=0,
        started_at=turn.ctx.now.isoformat(),
    )
    _advance(turn)


def _current(turn: _Turn) -> Step:
    return STEP_BY_ID[turn.state["step"]]


def _advance(turn: _Turn) -> None:
    step = next_step(turn.state)
    turn.state["step"] = step.id
    turn.replies.extend(_prompt(turn, step))


def _reask(turn: _Turn) -> None:
    turn.replies.extend(_prompt(turn, _current(turn)))


def _complete(turn: _Turn, step: Step, value: Any) -> None:
    st = turn.state
    if step.field in identity.FIELDS and isinstance(value, str):
        # Sealed now, validated before: the draft never holds the answer in the clear.
        choice = step.kind == "choice" and any(c.value == value for c in step.choices)
        value = identity.seal_answer(turn.ctx, st["draft_id"], step.field, value, choice)
    if step.field:
        st["form"][step.field] = value
    if step.id not in st["done"]:
        st["done"].append(step.id)
    _advance(turn)


def _form_event(turn: _Turn, incoming: Incoming) -> None:
    step = _current(turn)
    if incoming.kind == "postback":
        pb = read_postback(incoming.data)
        if pb.get("s") != step.id:
            _reask(turn)  # a button from an earlier question, or garbage
            return
        _answer(turn, step, pb.get("v"), None, pb.get("p"))
    elif incoming.kind == "text":
        said = incoming.text or ""
        choice = _typed_choice(turn, step, said)
        _answer(turn, step, choice.value if choice else None, said, None)
    elif incoming.kind == "media" and incoming.media is not None:
        if step.kind == "media":
            _evidence_media(turn, step, incoming.media)
        else:
            turn.say("err.media_not_now")
            _reask(turn)
    else:
        turn.say("err.choose" if step.kind in ("choice", "review") else "err.answer_in_text")
        _reask(turn)


def _choices(turn: _Turn, step: Step) -> tuple[Choice, ...]:
    if step.kind == "review":
        return _review_choices(turn)
    return choices_for(step, turn.state)


def _typed_choice(turn: _Turn, step: Step, said: str) -> Choice | None:
    for choice in _choices(turn, step):
        if _said(said, choice.button_key, choice.label_key) or _norm(said) == choice.value:
            return choice
    return None


def _answer(turn: _Turn, step: Step, value: str | None, said: str | None, page: str | None) -> None:
    """Apply an answer (a choice ``value`` and/or typed text ``said``) to ``step``."""
    chosen = next((c for c in _choices(turn, step) if value is not None and c.value == value), None)
    kind = step.kind
    if kind == "choice":
        _answer_choice(turn, step, chosen, said)
    elif kind == "review":
        _answer_review(turn, chosen)
    elif kind == "district":
        _answer_district(turn, step, value, said, page)
    elif chosen is not None:
        _answer_fixed(turn, step, chosen)
    elif said is None:
        _reask(turn)
    elif kind == "multi_text":
        _append_description(turn, step, said.strip())
    elif kind == "media":
        _append_evidence_note(turn, step, said.strip())
    elif kind == "date":
        _answer_date(turn, step, said.strip())
    else:
        _answer_text(turn, step, said.strip())


def _limit(turn: _Turn, step: Step) -> int:
    limits = turn.ctx.limits
    return limits.max_short_chars if step.limit == "short" else limits.max_text_chars


def _answer_choice(turn: _Turn, step: Step, chosen: Choice | None, said: str | None) -> None:
    if chosen is None:
        if step.free_text and said is not None and said.strip():
            _answer_text(turn, step, said.strip())
            return
        turn.say("err.choose")
        _reask(turn)
        return
    if chosen.reopen:
        # "Add evidence" and the like: ask those steps again, then come back here.
        turn.state["done"] = [s for s in turn.state["done"] if s not in chosen.reopen]
        _advance(turn)
        return
    if step.field == "lang":
        turn.state["lang"] = chosen.value
    value = CHOICE_VALUES.get(step.id, {}).get(chosen.value, chosen.value)
    _complete(turn, step, value)


def _answer_text(turn: _Turn, step: Step, body: str) -> None:
    if _refuse_text(turn, body, _limit(turn, step)):
        _reask(turn)
        return
    if step.validator is not None and not step.validator(body):
        turn.say(step.error_key or "err.invalid")
        _reask(turn)
        return
    _complete(turn, step, body)


def _answer_fixed(turn: _Turn, step: Step, chosen: Choice) -> None:
    """A quick reply on a text-like step: skip, done, no evidence, clear, today, yesterday."""
    form = turn.state["form"]
    if chosen.value == "skip":
        _complete(turn, step, None)
    elif chosen.value == "clear":
        form.pop(step.field or "", None)
        turn.say("description.cleared")
        _reask(turn)
    elif chosen.value in ("today", "yesterday"):
        _answer_date(turn, step, t(turn.lang, chosen.label_key))
    elif step.kind == "multi_text" and not form.get(step.field or ""):
        turn.say("err.description_empty")
        _reask(turn)
    elif chosen.value == "none":
        _complete(turn, step, form.get(step.field or ""))
    else:  # done
        _complete(turn, step, form.get(step.field or ""))


def _append_description(turn: _Turn, step: Step, body: str) -> None:
    limits = turn.ctx.limits
    if _refuse_text(turn, body, limits.max_text_chars):
        return
    key = step.field or step.id
    sofar = turn.state["form"].get(key) or ""
    joined = f"{sofar}\n{body}" if sofar else body
    if len(joined) > limits.max_description_chars:
        turn.say(
            "err.description_full",
            limit=limits.max_description_chars,
            room=limits.max_description_chars - len(sofar),
        )
        return
    turn.state["form"][key] = joined
    items = [_choice_item(turn, step, c) for c in _choices(turn, step)]
    turn.say(
        "description.added",
        _with_cancel(turn, items),
        length=len(joined),
        limit=limits.max_description_chars,
    )


def _append_evidence_note(turn: _Turn, step: Step, body: str) -> None:
    limit = turn.ctx.limits.max_text_chars
    if _refuse_text(turn, body, limit):
        return
    key = step.field or step.id
    sofar = turn.state["form"].get(key) or ""
    joined = f"{sofar}\n{body}" if sofar else body
    if len(joined) > limit:
        turn.say("err.too_long", limit=limit, length=len(joined))
        return
    turn.state["form"][key] = joined
    turn.say("evidence.noted", _evidence_quick(turn, step))


def _evidence_quick(turn: _Turn, step: Step) -> list[dict[str, Any]]:
    choices = [c for c in _choices(turn, step) if c.value != "none" or not has_evidence(turn.state)]
    return _with_cancel(turn, [_choice_item(turn, step, c) for c in choices])


def _evidence_media(turn: _Turn, step: Step, media: MediaRef) -> None:
    count = int(turn.state.get("media_count") or 0)
    if _refuse_media(turn, media, count, _evidence_quick(turn, step)):
        return
    turn.effects.append(FetchMedia(media, draft_id=turn.state["draft_id"]))
    turn.state["media_count"] = count + 1
    turn.say(
        "evidence.received",
        _evidence_quick(turn, step),
        count=count + 1,
        max=turn.ctx.limits.max_media_items,
    )


def _answer_date(turn: _Turn, step: Step, body: str) -> None:
    if _refuse_text(turn, body, _limit(turn, step)):
        _reask(turn)
        return
    today = turn.ctx.today_bangkok or bangkok_today(turn.ctx.now)
    answer = parse_when(body, today)
    if answer.error:
        turn.say(f"err.date_{answer.error}")
        _reask(turn)
        return
    _complete(
        turn, step, {"text": answer.text, "date": answer.date.isoformat() if answer.date else None}
    )


# --- districts ----------------------------------------------------------------------


def _sorted_districts(lang: str) -> list[districts.District]:
    return sorted(districts.DISTRICTS, key=lambda d: d.name_th if lang == "th" else d.name_en)


def _district_name(lang: str, district: districts.District) -> str:
    return district.name_th if lang == "th" else district.name_en


def _district_item(turn: _Turn, step: Step, district: districts.District) -> dict[str, Any]:
    name = _district_name(turn.lang, district)
    return quick_item(
        name, postback_data(step.id, district.code), t(turn.lang, "fmt.district", name=name)
    )


def _district_tail(turn: _Turn, step: Step, next_page: int) -> list[dict[str, Any]]:
    lang = turn.lang
    return [
        quick_item(
            t(lang, "btn.district.more"),
            postback_data(step.id, p=str(next_page)),
            t(lang, "label.district.more"),
        ),
        quick_item(
            t(lang, "btn.district.type"),
            postback_data(step.id, "type"),
            t(lang, "label.district.type"),
        ),
    ]


def _district_page(turn: _Turn, step: Step, page: int) -> list[dict[str, Any]]:
    ordered = _sorted_districts(turn.lang)
    pages = _district_pages()
    page = page % pages
    chunk = ordered[page * DISTRICT_PAGE : (page + 1) * DISTRICT_PAGE]
    items = [_district_item(turn, step, d) for d in chunk]
    return items + _district_tail(turn, step, (page + 1) % pages)


def _district_pages() -> int:
    return math.ceil(len(districts.DISTRICTS) / DISTRICT_PAGE)


def _answer_district(
    turn: _Turn, step: Step, value: str | None, said: str | None, page: str | None
) -> None:
    if page is not None:
        number = (int(page) if page.isdigit() else 0) % _district_pages()
        turn.say(
            "district.page",
            _district_page(turn, step, number),
            page=number + 1,
            pages=_district_pages(),
        )
        return
    if value == "type":
        turn.say("district.type_name")
        return
    if value is not None:
        chosen = districts.BY_CODE.get(value)
        if chosen is None:
            _reask(turn)
        else:
            _choose_district(turn, step, chosen)
        return
    body = (said or "").strip()
    if _refuse_text(turn, body, turn.ctx.limits.max_short_chars):
        return
    found = districts.match(body)
    if len(found) == 1:
        _choose_district(turn, step, found[0])
    elif found:
        items = [_district_item(turn, step, d) for d in found[:MAX_CANDIDATES]]
        turn.say("district.ambiguous", items + _district_tail(turn, step, 0))
    else:
        turn.say("district.none", _district_page(turn, step, 0), typed=body)


def _choose_district(turn: _Turn, step: Step, chosen: districts.District) -> None:
    turn.say("district.chosen", name=_district_name(turn.lang, chosen))
    _complete(turn, step, chosen.code)


# --- review and submission --------------------------------------------------------------


def _review_choices(turn: _Turn) -> tuple[Choice, ...]:
    edits = tuple(
        Choice(f"edit.{group}", f"btn.edit.{group}", f"label.edit.{group}")
        for group, _first in edit_groups(turn.state)
    )
    return (Choice("confirm", "btn.review.confirm", "label.review.confirm"), *edits)


def _answer_review(turn: _Turn, chosen: Choice | None) -> None:
    if chosen is None:
        turn.say("err.choose")
        _reask(turn)
    elif chosen.value == "confirm":
        _submit(turn)
    else:
        group = chosen.value.removeprefix("edit.")
        reopen = set(steps_in_group(group))
        turn.state["done"] = [s for s in turn.state["done"] if s not in reopen]
        _advance(turn)


def _submit(turn: _Turn) -> None:
    st = turn.state
    form: dict[str, Any] = st["form"]
    confidential = is_confidential(st)
    turn.effects.append(
        SubmitReport(
            lang=turn.lang,
            anonymous=not confidential,
            report=_report(st),
            identity=identity.sealed_identity(form) if confidential else None,
            notify=form.get("notify") is True,
            meets_anonymous_bar=meets_anonymous_bar(st),
            draft_id=st["draft_id"],
        )
    )
    # The shell replies with handlers.receipt once the case exists.
    turn.state = _idle(turn.lang)


def _report(st: State) -> dict[str, Any]:
    """The case content: everything but the reporter's identity."""
    form: dict[str, Any] = st["form"]
    agency: dict[str, Any]
    district = districts.BY_CODE.get(str(form.get("district")))
    if form.get("agency_kind") == "district" and district is not None:
        agency = {
            "kind": "district",
            "district_code": district.code,
            "name_th": district.name_th,
            "name_en": district.name_en,
        }
    else:
        agency = {"kind": "other", "name": form.get("agency_name")}
    return {
        "category": form.get("category"),
        "agency": agency,
        "official": {"name": form.get("official_name"), "position": form.get("official_position")},
        "description": form.get("description"),
        "when": form.get("when"),
        "where": form.get("where"),
        "evidence_note": form.get("evidence_note"),
        "witnesses": form.get("witnesses"),
    }


# --- prompts ------------------------------------------------------------------------


def _prompt(turn: _Turn, step: Step) -> list[Message]:
    lang = turn.lang
    if step.kind == "review":
        return [_review_message(turn)]
    if step.kind == "district":
        return [text(t(lang, step.prompt_key), _district_page(turn, step, 0))]
    if step.kind == "media":
        return [
            text(
                t(lang, step.prompt_key, max=turn.ctx.limits.max_media_items),
                _evidence_quick(turn, step),
            )
        ]
    items = [_choice_item(turn, step, c) for c in _choices(turn, step)]
    if step.kind == "multi_text" and not turn.state["form"].get(step.field or ""):
        items = items[:1]  # "clear" means nothing yet
    kw: dict[str, Any] = {}
    if step.kind == "multi_text":
        kw["limit"] = turn.ctx.limits.max_description_chars
    return [text(t(lang, step.prompt_key, **kw), _with_cancel(turn, items))]


def _short(value: str) -> str:
    return value if len(value) <= SUMMARY_CHARS else value[: SUMMARY_CHARS - 1] + "…"


def _summary_value(turn: _Turn, step: Step) -> str:
    lang, st = turn.lang, turn.state
    form: dict[str, Any] = st["form"]
    raw = form.get(step.field or "")
    if step.id == "agency":
        district = districts.BY_CODE.get(str(form.get("district")))
        if form.get("agency_kind") == "district" and district is not None:
            return t(lang, "fmt.district", name=_district_name(lang, district))
        return str(form.get("agency_name") or "-")
    if step.id == "official_name":
        parts = [p for p in (form.get("official_name"), form.get("official_position")) if p]
        return ", ".join(parts) if parts else t(lang, "sum.not_given")
    if step.id == "evidence":
        files = t(lang, "sum.files", count=int(st.get("media_count") or 0))
        note = str(raw) if raw else ""
        return _short(f"{files}\n{note}".strip())
    if step.id == "when" and isinstance(raw, dict):
        parsed = raw.get("date")
        shown = str(raw.get("text") or "")
        if isinstance(parsed, str):
            shown = show_date(lang, datetime.fromisoformat(parsed).date())
        return shown or "-"
    if step.field in identity.FIELDS:
        chosen = raw.get("choice") if isinstance(raw, dict) else None
        choice = next((c for c in step.choices if chosen and c.value == chosen), None)
        return t(lang, choice.label_key) if choice else identity.shown(raw)
    if step.kind == "choice" and step.field:
        stored = {v: k for k, v in CHOICE_VALUES.get(step.id, {}).items()}
        key = stored.get(raw, raw)
        choice = next((c for c in step.choices if c.value == key), None)
        if choice is not None:
            return t(lang, choice.label_key)
    if raw is None or raw == "":
        return t(lang, "sum.not_given")
    return _short(str(raw))


def _review_message(turn: _Turn) -> Message:
    lang, st = turn.lang, turn.state
    rows = [
        (t(lang, step.summary_key), _summary_value(turn, step))
        for step in STEPS
        if step.summary_key and applies(step, st)
    ]
    warning = None
    if st["form"].get("anonymous") is True and not meets_anonymous_bar(st):
        warning = t(lang, "review.below_bar")
    step = STEP_BY_ID["review"]
    bubble = flex.review_bubble(lang, rows, postback_data(step.id, "confirm"), warning)
    items = [_choice_item(turn, step, c) for c in _review_choices(turn)]
    return flex_message(t(lang, step.prompt_key), bubble, _with_cancel(turn, items))
