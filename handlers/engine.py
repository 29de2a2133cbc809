"""The conversation: one pure function from (state, event, context) to a :class:`Result`.

This module only routes an event; each step or group of steps has its own module in
:mod:`handlers.steps` (see its docstring for the map). The form itself is data in
:mod:`handlers.form`. Around the form sit the global commands (start, status, cancel,
stop updates), the token lookup with its delays, and the follow-up mode in which a
reporter who has just looked up a case may send more to the centre.
"""

from __future__ import annotations

from handlers import identity
from handlers.model import Context, Incoming, Result, State
from handlers.steps.commands import (
    CANCEL,
    CMD,
    RESTART,
    cancel,
    cancel_answer,
    command_in,
    greet,
    idle_event,
    restart_answer,
    run_command,
)
from handlers.steps.flow import form_event, prompt
from handlers.steps.followup import followup_event
from handlers.steps.lookup import lookup, next_wrong_tokens, typed_token
from handlers.steps.state import coerce, keep_until, state_lang
from handlers.steps.turn import Turn, expire

__all__ = ["handle", "keep_until", "next_wrong_tokens", "state_lang"]


def handle(state: State | None, incoming: Incoming, ctx: Context) -> Result:
    """Handle one event from a reporter in a 1:1 chat; never raises on odd input."""
    turn = Turn(coerce(state), ctx, prompt)
    expire(turn)
    identity.seal_plain_answers(ctx, turn.state)
    if incoming.kind == "follow":
        greet(turn)
        return turn.result()
    command = command_in(turn, incoming)
    restart_pending = turn.state.pop("restart_prompt", False)
    cancel_pending = turn.state.pop("cancel_prompt", False)
    mode = turn.state["mode"]
    if restart_pending and command and command[0] == RESTART:
        restart_answer(turn, command[1], incoming)
    elif command and command[0] == CANCEL:
        cancel_answer(turn, command[1], cancel_pending)
    elif cancel_pending and command == (CMD, "cancel"):
        cancel(turn, confirmed=True)  # "cancel" typed twice: asked once, answered
    elif command:
        run_command(turn, command, incoming)
    elif mode == "form":
        form_event(turn, incoming)
    elif (token := typed_token(incoming)) is not None:
        # Outside the form a token is always looked up, even while following up a case.
        lookup(turn, token)
    elif mode == "followup":
        followup_event(turn, incoming)
    else:
        idle_event(turn, incoming)
    return turn.result()
