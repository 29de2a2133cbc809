"""Starting a report: a fresh draft with its id."""

from __future__ import annotations

import hashlib

from handlers.form import (
    FIRST_STEP,
)
from handlers.model import (
    Context,
    Incoming,
)
from handlers.steps.language import LEGACY_STEP, starting_lang
from handlers.steps.state import idle
from handlers.steps.turn import Turn, advance


def draft_id(ctx: Context, incoming: Incoming) -> str:
    if ctx.entropy:
        return "d" + ctx.entropy  # the shell's randomness: the id dates nothing
    # Handlers have no randomness: the time to the microsecond plus a digest of the event.
    seed = f"{ctx.now.isoformat()}|{incoming.kind}|{incoming.text}|{incoming.data}"
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8]
    return f"d{ctx.now.strftime('%Y%m%d%H%M%S%f')}{digest}"


def start_form(turn: Turn, incoming: Incoming) -> None:
    """A new draft, in the language of the starting word, else the one remembered (Thai
    by default); the intro offers the switch, so the language is never asked."""
    lang = starting_lang(incoming) or turn.lang
    turn.state = idle(lang)
    turn.state.update(
        mode="form",
        step=FIRST_STEP,
        draft_id=draft_id(turn.ctx, incoming),
        form={"lang": lang},
        done=[LEGACY_STEP],
        media_count=0,
        started_at=turn.ctx.now.isoformat(),
    )
    advance(turn)
