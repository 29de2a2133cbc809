"""Krasip's own replies to the load generator's conversations, recorded for the replay floor.

``record`` runs each script of ``bench.load`` once through Krasip's real webhook in this
process (SQLite, the benchmark's LINE platform in its own process), then sends the
receipt's tracking token back, and keeps every reply Krasip sent. ``bench.floor_bot``
with FLOOR_REPLIES answers the same events with these messages, so the platform and the
simulated reporters get from it what they get from Krasip: the same sizes, the same
buttons, a receipt with a token and a status card.

``python -m bench.replies OUT`` writes them to OUT as JSON and prints what the replies of
each conversation weigh. They hold no real reporter's words: only the scripts' made-up
answers and a benchmark case's token.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import LOOKUP, SCRIPTS, TOKEN_RE
from bench.webhook_cost import Platform, Stepper, krasip_app
from handlers.messages import wire_json
from store.keys import generate_keys

Replies = dict[str, dict[str, list[dict[str, Any]]]]


def record() -> Replies:
    """Krasip's replies, by a conversation's first words, then by what the event said (a
    message's text or a postback's data); the lookup's under the receipt's token."""
    with tempfile.TemporaryDirectory(prefix="krasip-replies-") as name:
        folder = Path(name)
        material = generate_keys(folder / "keys", "benchmark passphrase only")
        platform = Platform()
        app = None
        try:
            app = krasip_app(folder, f"sqlite:///{folder / 'krasip.sqlite3'}", material, platform)
            return converse(Stepper(app, platform), platform)
        finally:
            if app is not None:
                # Its send threads would otherwise live on in the load generator's process,
                # whose CPU the benchmark counts; and its database is in this folder.
                app.extensions["krasip"].close()
            platform.stop()


def converse(step: Callable[[str, str, str, str], Any], platform: Platform) -> Replies:
    """Each script once through ``step`` (a :class:`Stepper`), then its lookup."""
    recorded: Replies = {}
    for script in SCRIPTS:
        user_id = "U" + secrets.token_hex(16)
        tokens = platform.reply_tokens(user_id, len(script) + 1)
        said = recorded.setdefault(script[0][1], {})
        messages: list[dict[str, Any]] = []
        for index, (kind, value) in enumerate([*script, (LOOKUP, "")]):
            if kind == LOOKUP:
                found = (TOKEN_RE.fullmatch(m.get("text", "")) for m in messages)
                kind, value = "text", next(m.group(0) for m in found if m)
            if value in said:
                raise ValueError(f"a script says {value!r} twice: its replies would mix")
            _, messages = step(user_id, kind, value, tokens[index])
            said[value] = messages
    return recorded


def sizes(recorded: Replies) -> list[str]:
    """What the replies of each conversation weigh: the messages as LINE gets them."""
    lines = []
    for first, said in recorded.items():
        weights = [len(wire_json(m)) for m in said.values()]
        lines.append(
            f"{first}: {len(weights)} replies, {min(weights):,}–{max(weights):,} bytes of "
            f"messages, {sum(weights) / len(weights):,.0f} on average"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__)
    parser.add_argument("out", type=Path, help="the JSON file to write")
    args = parser.parse_args(argv)
    recorded = record()
    args.out.write_text(json.dumps(recorded, ensure_ascii=False, indent=1))
    print("\n".join(sizes(recorded)))


if __name__ == "__main__":
    main()
