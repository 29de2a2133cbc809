"""After a lookup: the reporter may send more to the centre on that case for a while.

Nothing goes to staff without the reporter's say-so: what they type or send is held in
the state, shown back with "send to the centre?", and sent only when they confirm.
Thanks and greetings are answered politely and never filed.
"""

from __future__ import annotations

from typing import Any

from handlers.messages import postback_data, quick_item, read_postback
from handlers.model import AddReporterMessage, CaseUsage, FetchMedia, Incoming, MediaRef
from handlers.steps.quick import FOLLOWUP, norm, quick_help, says
from handlers.steps.state import idle
from handlers.steps.turn import Turn, refuse_media, refuse_text
from handlers.texts import t

PREVIEW_CHARS = 1000  # the part of the held text shown back before sending
_PUNCTUATION = " .!?~…🙏😊^_-"


def ttl_minutes(turn: Turn) -> int:
    return int(turn.ctx.limits.followup_ttl.total_seconds() // 60)


def is_pleasantry(text: str | None) -> bool:
    """Thanks, greetings or a bare "OK": polite talk, not something for the centre."""
    said = norm(text).strip(_PUNCTUATION)
    return bool(said) and says(said, "kw.thanks", "kw.greeting")


def _item(turn: Turn, value: str) -> dict[str, Any]:
    return quick_item(
        t(turn.lang, f"btn.followup.{value}"),
        postback_data(FOLLOWUP, value),
        t(turn.lang, f"label.followup.{value}"),
    )


def quick_followup(turn: Turn) -> list[dict[str, Any]]:
    return [_item(turn, "done")]


def _quick_confirm(turn: Turn) -> list[dict[str, Any]]:
    return [_item(turn, "send"), _item(turn, "drop"), _item(turn, "done")]


def _answer(turn: Turn, incoming: Incoming) -> str | None:
    """``send``, ``drop`` or ``done`` when the reporter tapped or typed one of them."""
    if incoming.kind == "postback":
        pb = read_postback(incoming.data)
        if pb.get("s") == FOLLOWUP and pb.get("v") in ("send", "drop", "done"):
            return pb["v"]
        return None
    if incoming.kind != "text":
        return None
    for value, keys in (
        ("done", ("btn.followup.done", "label.followup.done", "btn.done", "kw.done")),
        ("send", ("btn.followup.send", "label.followup.send", "kw.send")),
        ("drop", ("btn.followup.drop", "label.followup.drop")),
    ):
        if says(incoming.text, *keys):
            return value
    return None


def _pending(turn: Turn) -> dict[str, list[Any]]:
    held = turn.state.get("pending")
    if not isinstance(held, dict):
        held = {"texts": [], "media": []}
        turn.state["pending"] = held
    held.setdefault("texts", [])
    held.setdefault("media", [])
    return held


def _show_pending(turn: Turn) -> None:
    held = _pending(turn)
    body = "\n".join(held["texts"])
    if len(body) > PREVIEW_CHARS:
        body = body[: PREVIEW_CHARS - 1] + "…"
    parts = [t(turn.lang, "followup.preview_text", text=body)] if body else []
    if held["media"]:
        parts.append(t(turn.lang, "followup.preview_files", count=len(held["media"])))
    turn.say(
        "followup.confirm",
        _quick_confirm(turn),
        what="\n".join(parts),
        how=t(turn.lang, f"followup.how.{_mode(turn)}"),
    )


def _mode(turn: Turn) -> str:
    """How the case was filed, so the reporter is told the truth: "anonymously" only when it
    was. A state saved before this was known says neither."""
    filed = turn.state.get("case_anonymous")
    if filed is None:
        return "unknown"
    return "anonymous" if filed else "confidential"


def _usage(turn: Turn) -> CaseUsage:
    """What the case holds, counted from the store (shells without it: nothing)."""
    count = turn.ctx.case_usage
    return count(int(turn.state["case_id"])) if count is not None else CaseUsage()


def _case_full(turn: Turn, *, texts: int = 0, files: int = 0, size: int | None = None) -> bool:
    """The case's caps over its whole life (issue 13, finding 8): say which one is
    reached, and what to do instead, when ``texts`` more messages or ``files`` more files
    (one of ``size`` bytes, when LINE says) would pass it."""
    limits, used = turn.ctx.limits, _usage(turn)
    quick = quick_followup(turn)
    if texts and used.messages_today + texts > limits.case_max_messages_per_day:
        turn.say("err.case_messages_full", quick, max=limits.case_max_messages_per_day)
        return True
    if files and used.files + files > limits.case_max_files:
        turn.say("err.case_files_full", quick, max=limits.case_max_files)
        return True
    full = used.stored_bytes >= limits.case_max_bytes
    if files and (full or used.stored_bytes + (size or 0) > limits.case_max_bytes):
        turn.say("err.case_bytes_full", quick, max_mb=limits.case_max_bytes // (1024 * 1024))
        return True
    return False


def _send(turn: Turn) -> None:
    st = turn.state
    case_id = int(st["case_id"])
    held = _pending(turn)
    if not held["texts"] and not held["media"]:
        turn.say("followup.hint", quick_followup(turn))
        return
    if held["texts"] and _case_full(turn, texts=1):
        held["texts"] = []  # refused and said so; any files still go
        if not held["media"]:
            st.pop("pending", None)
            return
    if held["media"] and _case_full(turn, files=len(held["media"])):
        held["media"] = []
        if not held["texts"]:
            st.pop("pending", None)
            return
    if held["texts"]:
        turn.effects.append(AddReporterMessage(case_id, "\n".join(held["texts"])))
    for ref in held["media"]:
        turn.effects.append(FetchMedia(MediaRef(**ref), case_id=case_id))
    st["followup_media"] = int(st.get("followup_media") or 0) + len(held["media"])
    st.pop("pending", None)
    st["followup_at"] = turn.ctx.now.isoformat()
    turn.say(f"followup.sent.{_mode(turn)}", quick_followup(turn))


def followup_event(turn: Turn, incoming: Incoming) -> None:
    st = turn.state
    answer = _answer(turn, incoming)
    if answer == "done":
        unsent = bool(st.get("pending"))
        turn.state = idle(turn.lang)
        turn.say("followup.done_unsent" if unsent else "followup.done", quick_help(turn))
    elif answer == "send":
        _send(turn)
    elif answer == "drop":
        st.pop("pending", None)
        turn.say("followup.dropped", quick_followup(turn))
    elif incoming.kind == "text" and is_pleasantry(incoming.text) and not st.get("pending"):
        turn.say("followup.thanks", quick_followup(turn))
    elif incoming.kind == "text":
        body = (incoming.text or "").strip()  # not a token: handlers.engine looked those up
        held = _pending(turn)
        limit = turn.ctx.limits.max_text_chars
        joined = "\n".join([*held["texts"], body])
        if (
            refuse_text(turn, body, limit)
            or refuse_text(turn, joined, limit)
            or _case_full(turn, texts=1)
        ):
            if not held["texts"] and not held["media"]:
                st.pop("pending", None)
            return
        held["texts"].append(body)
        st["followup_at"] = turn.ctx.now.isoformat()
        _show_pending(turn)
    elif incoming.kind == "media" and incoming.media is not None:
        held = _pending(turn)
        count = int(st.get("followup_media") or 0) + len(held["media"])
        if refuse_media(turn, incoming.media, count, quick_followup(turn)):
            return
        if _case_full(turn, files=len(held["media"]) + 1, size=incoming.media.size):
            return
        media = incoming.media
        held["media"].append(
            {
                "message_id": media.message_id,
                "kind": media.kind,
                "file_name": media.file_name,
                "size": media.size,
                "duration_ms": media.duration_ms,
            }
        )
        st["followup_at"] = turn.ctx.now.isoformat()
        _show_pending(turn)
    else:
        turn.say("followup.hint", quick_followup(turn))
