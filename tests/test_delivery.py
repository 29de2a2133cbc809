"""Replies survive LINE's failures: retries, push fallback, Retry-After, dead letters."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from handlers.messages import text, wire_json
from store import outbox
from store.models import OutboxMessage
from tests.conftest import Bot, Chat, Clock, texts_of
from tests.test_report_end_to_end import TOKEN_RE, file_anonymous_thai_report_with_photo

INVALID_REPLY_TOKEN = {"message": "Invalid reply token"}


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    # One thread for what needs the database: the first calls to LINE need none.
    return {"line_timeout_seconds": 1.0, "outbox_max_attempts": 3, "sender_threads": 1}


def _rows(bot: Bot) -> list[OutboxMessage]:
    with bot.runtime.db.transaction() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        for row in rows:
            session.expunge(row)
        return rows


def test_a_reply_that_fails_with_500_is_pushed_at_once_and_arrives_once(
    bot: Bot, chat: Chat, line: Any
) -> None:
    # Not retried as a reply until its token expires (~60 s late): pushed at once.
    line.faults("/v2/bot/message/reply", status=500, times=1)
    messages = chat.say("report")
    assert len(messages) == 1
    assert [r["status"] for r in line.requests("/v2/bot/message/reply")] == [500]
    assert [r["status"] for r in line.requests("/v2/bot/message/push")] == [200]
    [row] = _rows(bot)
    assert row.state == "sent" and row.attempts == 1
    assert row.payload_ct is None and row.to_ct is None, "delivered rows keep no content"


def test_a_spent_reply_token_falls_back_to_a_push_with_a_retry_key(
    bot: Bot, chat: Chat, line: Any
) -> None:
    line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
    messages = chat.say("report")
    assert len(messages) == 1
    delivered = [m for m in chat.user.messages()]
    assert [m["via"] for m in delivered] == ["push"]
    pushes = line.requests("/v2/bot/message/push")
    assert len(pushes) == 1 and pushes[0]["retry_key"]


def test_the_receipt_reaches_the_reporter_even_when_the_reply_fails(
    bot: Bot, chat: Chat, line: Any
) -> None:
    original_choose = chat.choose

    def choose_with_failing_reply(*needles: str) -> list[dict[str, Any]]:
        if "v=confirm" in needles:
            line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
        return original_choose(*needles)

    chat.choose = choose_with_failing_reply  # type: ignore[method-assign]
    filed = file_anonymous_thai_report_with_photo(chat)
    assert TOKEN_RE.fullmatch(filed.token)
    assert chat.user.messages()[-1]["via"] == "push"


def test_429_is_answered_by_waiting_as_long_as_line_asks(
    bot: Bot, chat: Chat, line: Any, clock: Clock
) -> None:
    line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
    line.faults("/v2/bot/message/push", status=429, retry_after=120, times=1)
    assert chat.user.say("report") == 200
    for _ in range(100):
        rows = _rows(bot)
        if rows and rows[0].state == "pending" and rows[0].attempts == 1:
            break
        time.sleep(0.02)
    [row] = _rows(bot)
    assert row.state == "pending"
    assert (row.next_attempt_at - clock()).total_seconds() > 110
    assert bot.runtime.sender.deliver() == 0, "not before Retry-After has passed"
    clock.advance(seconds=121)
    assert bot.runtime.sender.deliver() == 1
    assert len(chat.new_messages()) == 1
    assert [r["status"] for r in line.requests("/v2/bot/message/push")] == [429, 200]


def test_a_push_whose_answer_was_lost_is_not_delivered_twice(
    bot: Bot, chat: Chat, line: Any, clock: Clock
) -> None:
    line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
    # LINE accepts the push but answers after our timeout: we must try again, and the
    # retry key makes LINE refuse the second copy (409), which counts as delivered.
    line.faults("/v2/bot/message/push", status=None, latency_ms=2500, times=1)
    assert chat.user.say("report") == 200
    clock.advance(seconds=30)
    bot.settle(timeout=20)
    for _ in range(200):  # the first, slow request is still being answered
        statuses = sorted(r["status"] for r in line.requests("/v2/bot/message/push"))
        if len(statuses) == 2:
            break
        time.sleep(0.05)
    assert statuses == [200, 409]
    assert len(chat.new_messages()) == 1
    [row] = _rows(bot)
    assert row.state == "sent"


def test_a_message_line_keeps_refusing_becomes_a_dead_letter_and_can_be_retried(
    bot: Bot, chat: Chat, line: Any, clock: Clock
) -> None:
    line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
    line.faults("/v2/bot/message/push", status=500, times=3)
    assert chat.user.say("report") == 200
    for _ in range(5):
        clock.advance(seconds=700)
        bot.runtime.sender.deliver()
    [row] = _rows(bot)
    assert row.state == "dead" and row.attempts == 3
    assert chat.new_messages() == []
    with bot.runtime.db.transaction() as session:
        assert outbox.retry_dead(session, clock()) == 1
    bot.settle()
    assert len(chat.new_messages()) == 1


def test_a_message_is_serialised_once_when_queued_and_sent_as_sealed(
    bot: Bot, chat: Chat, line: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reply and its push fallback send the bytes sealed in the outbox row: a send
    # serialises its address only, and what LINE gets is still the compact UTF-8 JSON
    # whose size the message checks measured.
    import bot.line as gateway

    serialised: list[Any] = []
    real = gateway.wire_json

    def counting(payload: Any) -> bytes:
        serialised.append(payload)
        return real(payload)

    monkeypatch.setattr(gateway, "wire_json", counting)
    line.faults("/v2/bot/message/reply", status=500, times=1)
    assert chat.say("แจ้งเรื่อง 🙏")
    sends = line.requests("/v2/bot/message/reply") + line.requests("/v2/bot/message/push")
    assert [r["status"] for r in sends] == [500, 200]
    assert serialised and all("messages" not in payload for payload in serialised)
    for sent in sends:
        assert sent["size"] == len(wire_json(sent["body"])), "compact UTF-8, Thai unescaped"
        assert set(sent["body"]) in ({"replyToken", "messages"}, {"to", "messages"})
    assert sends[0]["body"]["messages"] == sends[1]["body"]["messages"]

    with bot.runtime.db.transaction() as session:
        messages = [text('สวัสดี 🙏 "quoted"')]
        queued = outbox.enqueue(
            session, bot.runtime.keys, kind="push", to=[chat.user_id], messages=messages,
            now=bot.runtime.clock(),
        )  # fmt: skip
    assert queued.messages == wire_json(messages)
    with bot.runtime.db.transaction() as session:
        [claimed] = outbox.claim(session, bot.runtime.keys, bot.runtime.clock(), ids=[queued.id])
    assert claimed.messages == queued.messages, "sent as sealed, not decoded and re-encoded"


def test_a_token_shown_in_a_receipt_is_never_kept_in_the_outbox(bot: Bot, chat: Chat) -> None:
    filed = file_anonymous_thai_report_with_photo(chat)
    assert filed.token in texts_of(filed.receipt)
    assert all(row.payload_ct is None for row in _rows(bot))


def test_replies_sent_after_commit_are_recorded_even_when_recording_first_fails(
    bot: Bot, chat: Chat, line: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.outbox import Dispatcher

    refused: list[list[int]] = []
    record = bot.runtime.sender.mark_sent

    def database_busy_once(ids: list[int]) -> None:
        if ids and not refused:
            refused.append(list(ids))
            raise OperationalError("UPDATE outbox", {}, Exception("database is locked"))
        record(ids)

    monkeypatch.setattr(bot.runtime.sender, "mark_sent", database_busy_once)
    monkeypatch.setattr(Dispatcher, "FLUSH_RETRY", 0.05)
    messages = chat.say("report")
    assert len(messages) == 1
    [row] = _rows(bot)
    assert refused == [[row.id]], "the first recording was refused"
    assert row.state == "sent" and row.attempts == 1 and row.payload_ct is None
    assert len(line.requests("/v2/bot/message/reply")) == 1, "recorded, not sent again"


def test_a_burst_of_replies_is_recorded_in_few_transactions(
    bot: Bot, new_chat: Any, line: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [new_chat().user for _ in range(20)]
    batches: list[int] = []
    record = bot.runtime.sender.mark_sent

    def counted(ids: list[int]) -> None:
        if ids and not batches:
            # Hold the first recording until every reply has reached LINE: whatever was
            # delivered meanwhile must then be recorded together, not one by one.
            deadline = time.monotonic() + 10
            while len(line.requests("/v2/bot/message/reply")) < len(users):
                assert time.monotonic() < deadline, "the replies did not arrive"
                time.sleep(0.01)
        if ids:
            batches.append(len(ids))
        record(ids)

    monkeypatch.setattr(bot.runtime.sender, "mark_sent", counted)
    for user in users:
        assert user.say("report") == 200
    bot.settle()
    assert sum(batches) == 20
    assert len(batches) <= 2, f"one transaction per reply: {batches}"
    assert all(len(user.messages()) == 1 for user in users)


class _Delivered:
    """A Sender whose every send succeeds: only the recording is watched (no LINE, no
    database)."""

    class gateway:  # noqa: N801 - stands where the Sender's gateway stands
        @staticmethod
        async def aclose() -> None:
            return None

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def first_attempt(self, delivery: outbox.Delivery) -> Any:
        from bot.line import SendOutcome

        return SendOutcome(ok=True)

    def mark_sent(self, ids: list[int]) -> None:
        if ids:  # shutdown's last flush may find none
            self.batches.append(list(ids))

    def recorded(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while sum(map(len, self.batches)) < count:
            assert time.monotonic() < deadline, f"not recorded: {self.batches}"
            time.sleep(0.01)


def _delivery(number: int) -> outbox.Delivery:
    return outbox.Delivery(number, "reply", "", None, None, [], b"[]", "", 0)


def test_replies_delivered_one_after_another_share_one_record() -> None:
    # At a steady 75 replies a second per process, one record per 20 ms was a transaction
    # for every one or two replies; what LINE takes within FLUSH_DELAY is recorded at once.
    from bot.outbox import Dispatcher

    sender = _Delivered()
    dispatcher = Dispatcher(sender, threads=1)  # type: ignore[arg-type]
    try:
        for number in range(3):  # 13 ms apart, as at 75 replies a second
            dispatcher.submit_claimed([_delivery(number)])
            time.sleep(0.013)
        sender.recorded(3)
    finally:
        dispatcher.shutdown()
    assert sender.batches == [[0, 1, 2]], f"one record per {sender.batches}"


def test_a_stopping_process_records_its_deliveries_without_waiting_out_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.outbox import Dispatcher

    monkeypatch.setattr(Dispatcher, "FLUSH_DELAY", 5.0)
    sender = _Delivered()
    dispatcher = Dispatcher(sender, threads=1)  # type: ignore[arg-type]
    dispatcher.submit_claimed([_delivery(7)])
    time.sleep(0.2)  # delivered: now waiting for the batch to fill
    assert sender.batches == []
    started = time.monotonic()
    dispatcher.shutdown()
    assert sender.batches == [[7]]
    assert time.monotonic() - started < 2.5, "shutdown waited out the batch delay"


def _sending_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("krasip-send")]


def test_replies_waiting_for_a_slow_line_hold_no_thread(bot: Bot, new_chat: Any, line: Any) -> None:
    # Twelve replies LINE takes 0.6 s to answer would take 7 s one after another on the
    # one sending thread; waiting together they take one wait.
    users = [new_chat().user for _ in range(12)]
    line.config(latency_ms=600)
    started = time.monotonic()
    for user in users:
        assert user.say("report") == 200
    deadline = started + 3.0
    while not all(user.messages() for user in users):
        assert time.monotonic() < deadline, "the replies waited for each other"
        time.sleep(0.02)
    assert len(_sending_threads()) <= 2, _sending_threads()  # the loop, one pool thread
    line.config(latency_ms=0)
    bot.settle()
    assert {row.state for row in _rows(bot)} == {"sent"}
    assert len(line.requests("/v2/bot/message/reply")) == len(users)


def test_closing_the_web_process_waits_for_replies_line_has_not_answered(
    bot: Bot, chat: Chat, line: Any
) -> None:
    line.config(latency_ms=500)
    assert chat.user.say("report") == 200
    bot.runtime.close()  # as a gunicorn worker does on SIGTERM
    [row] = _rows(bot)
    assert row.state == "sent", "the reply LINE took was recorded before the process ended"
    assert len(line.requests("/v2/bot/message/reply")) == 1
    assert not _sending_threads()


def test_a_push_line_refuses_on_the_first_call_is_recorded_not_sent_twice(
    bot: Bot, chat: Chat, line: Any, clock: Clock
) -> None:
    line.faults("/v2/bot/message/reply", status=400, body=INVALID_REPLY_TOKEN, times=1)
    line.faults("/v2/bot/message/push", status=500, times=1)
    assert chat.user.say("report") == 200
    deadline = time.monotonic() + 5
    while not line.requests("/v2/bot/message/push"):
        assert time.monotonic() < deadline, "the push never went out"
        time.sleep(0.02)
    time.sleep(0.3)
    assert [r["status"] for r in line.requests("/v2/bot/message/push")] == [500]
    [row] = _rows(bot)
    assert row.state == "pending" and row.attempts == 1 and row.kind == "push"
    clock.advance(seconds=30)
    bot.settle()
    assert [r["status"] for r in line.requests("/v2/bot/message/push")] == [500, 200]
    assert len(chat.new_messages()) == 1


def test_the_send_loop_stays_out_of_a_short_write_turn_for_a_bounded_time(
    bot: Bot, tmp_path: Any
) -> None:
    """While a thread of the web process holds a short write turn (the webhook's), the send
    loop does not take the interpreter each time the holder lets go of it for SQLite, which
    lengthened the turn every writer waits for; it waits at most QUIET.LONGEST a time, so
    no send is held up by a long turn."""
    import asyncio

    from store.writers import QUIET, WriterTurns

    loop = bot.runtime.start_dispatcher()._loop
    turns = WriterTurns(str(tmp_path / "turns"))

    async def ran_at() -> float:
        return time.monotonic()

    with turns.turn(1.0, hold_collections=True):
        asked = time.monotonic()
        future = asyncio.run_coroutine_threadsafe(ran_at(), loop)
        time.sleep(0.2)  # the turn's holder keeps it
    waited = future.result(5) - asked
    assert QUIET.LONGEST * 0.8 <= waited < 0.1, waited
