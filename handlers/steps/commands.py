"""The global commands that work from every state (report, status, cancel, stop
updates, the language switch), the restart question, greeting, help and the idle chat.

Like the ``fallbacks`` of python-telegram-bot's ConversationHandler."""

from __future__ import annotations

from handlers.messages import (
    read_postback,
)
from handlers.model import (
    Incoming,
    StopUpdates,
)
from handlers.steps.followup import is_pleasantry
from handlers.steps.language import switch_language
from handlers.steps.quick import (
    CANCEL,
    CMD,
    LANG,
    RESTART,
    cmd_item,
    quick_cancel,
    quick_help,
    quick_restart,
    says,
)
from handlers.steps.start import start_form
from handlers.steps.state import idle
from handlers.steps.turn import Turn, drop_draft, reask
from handlers.texts import LANGS


def command_in(turn: Turn, incoming: Incoming) -> tuple[str, str] | None:
    """A global command in this event, as (scope, value); ``None`` if there is none."""
    if incoming.kind == "postback":
        pb = read_postback(incoming.data)
        scope, value = pb.get("s", ""), pb.get("v", "")
        if scope in (CMD, LANG, RESTART, CANCEL) and value:
            return scope, value
        return None
    if incoming.kind != "text":
        return None
    said = incoming.text
    if turn.state.get("restart_prompt"):
        for value in ("continue", "over"):
            if says(said, f"btn.restart.{value}", f"label.restart.{value}"):
                return RESTART, value
    if turn.state.get("cancel_prompt"):
        for value in ("keep", "drop"):
            if says(said, f"btn.cancel_confirm.{value}", f"label.cancel_confirm.{value}"):
                return CANCEL, value
    for value, keys in (
        ("report", ("kw.report", "btn.cmd.report")),
        ("status", ("kw.status", "btn.cmd.status")),
        ("cancel", ("kw.cancel", "btn.cancel")),
        ("stop", ("kw.stop_updates",)),
    ):
        if says(said, *keys):
            return CMD, value
    return None


def run_command(turn: Turn, command: tuple[str, str], incoming: Incoming) -> None:
    scope, value = command
    mode = turn.state["mode"]
    if scope == RESTART:
        # The restart question was already answered or never asked: just carry on.
        reask_or_help(turn)
    elif scope == LANG:
        if mode == "form":
            switch_language(turn, value)
        elif value not in LANGS:
            reask_or_help(turn)
        else:
            turn.state["lang"] = value
            show_help(turn)
    elif value == "report":
        if mode == "form":
            turn.state["restart_prompt"] = True
            turn.say("restart.prompt", quick_restart(turn))
        else:
            start_form(turn, incoming)
    elif value == "status":
        if mode == "form":
            turn.say("status.finish_form_first")
            reask(turn)
        else:
            turn.state = idle(turn.lang)
            turn.state["mode"] = "await_token"
            turn.say("status.ask_token", [cmd_item(turn, "cancel")])
    elif value == "cancel":
        cancel(turn)
    elif value == "stop":
        turn.effects.append(StopUpdates())
        if mode == "form" and turn.state["form"].get("notify") is True:
            turn.state["form"]["notify"] = False  # the draft's opt-in goes too
        turn.say("updates.stopped")
        if mode == "form":
            reask(turn)
    else:
        reask_or_help(turn)


def cancel(turn: Turn, confirmed: bool = False) -> None:
    """Leave what is going on. A draft is deleted only once the reporter said so twice."""
    mode = turn.state["mode"]
    if mode == "form" and not confirmed:
        turn.state["cancel_prompt"] = True
        turn.say("cancel.confirm", quick_cancel(turn))
    elif mode == "form":
        drop_draft(turn)
        turn.say("cancel.form", quick_help(turn))
    elif mode in ("followup", "await_token"):
        turn.state = idle(turn.lang)
        turn.say("cancel.other", quick_help(turn))
    else:
        turn.say("cancel.nothing", quick_help(turn))


def cancel_answer(turn: Turn, value: str, pending: bool) -> None:
    """The answer to "delete this draft?"; a stale "delete" button asks again."""
    if value == "drop" and pending:
        cancel(turn, confirmed=True)
    elif value == "drop":
        cancel(turn)
    else:
        if turn.state["mode"] == "form":
            turn.say("cancel.kept")
        reask_or_help(turn)


def restart_answer(turn: Turn, value: str, incoming: Incoming) -> None:
    if value == "over" and turn.state["mode"] == "form":
        drop_draft(turn)
        start_form(turn, incoming)
    else:
        reask_or_help(turn)


def reask_or_help(turn: Turn) -> None:
    if turn.state["mode"] == "form":
        reask(turn)
    else:
        show_help(turn)


def greet(turn: Turn) -> None:
    turn.say("greeting", quick_help(turn))
    if turn.state["mode"] == "form":
        reask(turn)


def show_help(turn: Turn) -> None:
    turn.say("help", quick_help(turn))


def idle_event(turn: Turn, incoming: Incoming) -> None:
    awaiting = turn.state["mode"] == "await_token"
    # A token was looked up before this (handlers.engine): this text is not one.
    if incoming.kind == "text":
        if is_pleasantry(incoming.text):
            turn.state["mode"] = "idle"
            turn.say("idle.thanks", quick_help(turn))
            return
        if awaiting:
            turn.state["mode"] = "idle"
            turn.say("status.not_a_token", quick_help(turn))
            return
    if turn.followup_expired and incoming.kind in ("text", "media"):
        turn.say("followup.expired", quick_help(turn))
    elif incoming.kind == "media":
        turn.say("idle.media", quick_help(turn))
    else:
        show_help(turn)
