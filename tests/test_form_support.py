"""Helpers shared by the form tests: a reporter who talks to ``handle``, a fake lookup,
and a validator of LINE Messaging API limits. The tests at the bottom check the
validator itself, so that a passing conversation test means something."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers import handle
from handlers.model import (
    CaseStatus,
    Context,
    Effect,
    Incoming,
    Limits,
    LookupOutcome,
    MediaRef,
    Message,
    Result,
    StaffMessage,
    State,
    SubmitReport,
)

NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
SEALED = "test-sealed:"


def fake_seal(draft_id: str, field: str, value: str) -> str:
    """Stands in for the custodian's public key in pure form tests: reversible here, and
    never the answer itself, so a test can see what was sealed and that nothing is clear."""
    return SEALED + base64.b64encode(json.dumps([draft_id, field, value]).encode()).decode()


def unseal(sealed: str) -> tuple[str, str, str]:
    """(draft id, field, value) of something :func:`fake_seal` sealed."""
    assert sealed.startswith(SEALED), "not sealed"
    draft_id, field, value = json.loads(base64.b64decode(sealed.removeprefix(SEALED)))
    return draft_id, field, value


TOKEN = "7KQ2-M9XD-4FRA-8PZT"


def utf16(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def line_errors(replies: list[Message]) -> list[str]:
    """Everything in ``replies`` the Messaging API would refuse (a subset of its rules)."""
    errors: list[str] = []
    if len(replies) > 5:
        errors.append(f"{len(replies)} messages in one reply")
    for i, message in enumerate(replies):
        kind = message.get("type")
        if kind == "text":
            body = message.get("text")
            if not isinstance(body, str) or not body or utf16(body) > 5000:
                errors.append(f"message {i}: text empty or over 5000")
        elif kind == "flex":
            alt = message.get("altText")
            if not isinstance(alt, str) or not alt or utf16(alt) > 1500:
                errors.append(f"message {i}: altText missing or over 1500")
            contents = message.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                errors.append(f"message {i}: flex contents not a bubble")
            else:
                errors.extend(_flex_errors(contents, f"message {i}"))
        else:
            errors.append(f"message {i}: unexpected type {kind}")
        quick = message.get("quickReply")
        if quick is not None:
            items = quick.get("items", [])
            if not 1 <= len(items) <= 13:
                errors.append(f"message {i}: {len(items)} quick reply items")
            for item in items:
                errors.extend(_action_errors(item.get("action", {}), f"message {i} quick"))
    return errors


def _action_errors(action: dict[str, Any], where: str) -> list[str]:
    errors = []
    label = action.get("label", "")
    if action.get("type") != "postback":
        errors.append(f"{where}: action is not a postback")
    if not label or utf16(label) > 20:
        errors.append(f"{where}: label {label!r} empty or over 20")
    data = action.get("data", "")
    if not data or len(data) > 300:
        errors.append(f"{where}: data empty or over 300")
    if utf16(action.get("displayText", "")) > 300:
        errors.append(f"{where}: displayText over 300")
    return errors


def _flex_errors(node: Any, where: str) -> list[str]:
    errors: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "text" and not node.get("text"):
            errors.append(f"{where}: empty flex text")
        if node.get("type") == "button":
            errors.extend(_action_errors(node.get("action", {}), f"{where} button"))
        for value in node.values():
            errors.extend(_flex_errors(value, where))
    elif isinstance(node, list):
        for value in node:
            errors.extend(_flex_errors(value, where))
    return errors


def texts_of(replies: list[Message]) -> str:
    """All words the reporter sees in ``replies`` (texts, alt texts and flex texts)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "altText"):
                if isinstance(node.get(key), str):
                    out.append(node[key])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(replies)
    return "\n".join(out)


def quick_data(replies: list[Message]) -> list[str]:
    """Postback data of the quick replies on the last message."""
    if not replies:
        return []
    items = replies[-1].get("quickReply", {}).get("items", [])
    return [item["action"]["data"] for item in items]


def quick_labels(replies: list[Message]) -> list[str]:
    if not replies:
        return []
    items = replies[-1].get("quickReply", {}).get("items", [])
    return [item["action"]["label"] for item in items]


@dataclass
class FakeLookup:
    """Tokens the centre knows; counts every call so tests can see none was attempted."""

    cases: dict[str, CaseStatus | str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, token: str) -> CaseStatus | str:
        self.calls.append(token)
        return self.cases.get(token, LookupOutcome.NOT_FOUND)


def case_status(**overrides: Any) -> CaseStatus:
    values: dict[str, Any] = {
        "case_id": 42,
        "case_number": "KRS-2026-000123",
        "category": "money",
        "filed_at": datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        "status": "preliminary_review",
        "outcome": None,
        "updated_at": datetime(2026, 3, 10, 7, 30, tzinfo=UTC),
        "public_note": "Documents requested from the district.",
        "anonymous": True,
        "unread_staff_messages": (),
    }
    values.update(overrides)
    return CaseStatus(**values)


def staff_message(message_id: int, body: str) -> StaffMessage:
    return StaffMessage(message_id, datetime(2026, 3, 9, 4, 0, tzinfo=UTC), body)


@dataclass
class Reporter:
    """A LINE user in a 1:1 chat with the bot; checks every reply against LINE's limits."""

    lookup: FakeLookup = field(default_factory=FakeLookup)
    limits: Limits = field(default_factory=Limits)
    now: datetime = NOW
    sent_ms: int | None = None  # LINE's timestamp of the next messages (None: none given)
    state: State | None = None
    last: Result | None = None
    effects: list[Effect] = field(default_factory=list)

    def send(self, incoming: Incoming) -> Result:
        ctx = Context(
            now=self.now,
            lookup=self.lookup,
            limits=self.limits,
            seal_identity=fake_seal,
            sent_ms=self.sent_ms,
        )
        result = handle(self.state, incoming, ctx)
        assert line_errors(result.replies) == [], texts_of(result.replies)
        json.dumps(result.state)  # the shell stores it as JSON
        self.state = result.state
        self.last = result
        self.effects.extend(result.effects)
        return result

    def text(self, body: str) -> Result:
        return self.send(Incoming("text", text=body))

    def tap(self, data: str) -> Result:
        return self.send(Incoming("postback", data=data))

    def media(self, message_id: str = "m1", kind: Any = "image", size: int | None = None) -> Result:
        return self.send(Incoming("media", media=MediaRef(message_id, kind, size=size)))

    def later(self, delta: timedelta) -> Reporter:
        self.now = self.now + delta
        return self

    @property
    def replies(self) -> list[Message]:
        """What the bot said last."""
        return self.last.replies if self.last else []

    @property
    def step(self) -> str | None:
        return None if self.state is None else self.state.get("step")

    @property
    def mode(self) -> str:
        return "idle" if self.state is None else str(self.state.get("mode"))

    def submitted(self) -> SubmitReport:
        found = [e for e in self.effects if isinstance(e, SubmitReport)]
        assert len(found) == 1, self.effects
        return found[0]


def start_report(reporter: Reporter, lang: str = "en") -> None:
    reporter.text("report" if lang == "en" else "แจ้งเบาะแส")
    reporter.tap(f"s=language&v={lang}")
    reporter.tap("s=intro&v=ok")


def fill_until_review(
    reporter: Reporter,
    *,
    lang: str = "en",
    anonymous: bool = True,
    media: bool = True,
    witnesses: str | None = "Khun Malee, clerk at counter 2",
) -> None:
    """Answer every question of a plain report, ending on the review."""
    start_report(reporter, lang)
    reporter.tap("s=identity_mode&v=" + ("anonymous" if anonymous else "confidential"))
    reporter.tap("s=category&v=money")
    reporter.tap("s=agency&v=district")
    reporter.text("Bang Rak" if lang == "en" else "เขตบางรัก")
    reporter.text("Somchai")
    reporter.tap("s=official_position&v=skip")
    reporter.text("The clerk asked for 500 baht to register my shop, no receipt given.")
    reporter.tap("s=description&v=done")
    reporter.text("15/03/2569")
    reporter.text("Counter 2, Bang Rak district office")
    if media:
        reporter.media("m1", "image")
    reporter.tap("s=evidence&v=done" if media else "s=evidence&v=none")
    if witnesses:
        reporter.text(witnesses)
    else:
        reporter.tap("s=witnesses&v=skip")
    if not anonymous:
        reporter.text("Somsri Jaidee")
        reporter.text("081-234-5678")
        reporter.tap("s=reporter_relation&v=victim")
    reporter.tap("s=notify&v=yes")


# --- the validator catches what LINE refuses --------------------------------------------


def _text(body: str, **extra: Any) -> Message:
    return {"type": "text", "text": body, **extra}


def _quick(n: int, label: str = "ok", data: str = "s=x") -> dict[str, Any]:
    action = {"type": "postback", "label": label, "data": data, "displayText": label}
    return {"items": [{"type": "action", "action": action} for _ in range(n)]}


def test_validator_accepts_a_plain_reply() -> None:
    assert line_errors([_text("hello", quickReply=_quick(13))]) == []


@pytest.mark.parametrize(
    "replies",
    [
        [_text("x")] * 6,
        [_text("x" * 5001)],
        [_text("")],
        [_text("x", quickReply=_quick(14))],
        [_text("x", quickReply=_quick(1, label="x" * 21))],
        [_text("x", quickReply=_quick(1, data="d" * 301))],
        [{"type": "flex", "contents": {"type": "bubble"}}],
        [
            {
                "type": "flex",
                "altText": "a",
                "contents": {"type": "bubble", "body": {"type": "text"}},
            }
        ],
    ],
    ids=["six", "long", "empty", "14 quick", "label", "data", "no alt", "empty flex text"],
)
def test_validator_rejects_what_line_refuses(replies: list[Message]) -> None:
    assert line_errors(replies) != []
