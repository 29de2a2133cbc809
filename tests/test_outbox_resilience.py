"""Staff notifications survive LINE's bad days: each delivered exactly once, with two workers."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.notifications import Notifier
from bot.runtime import Runtime
from bot.worker import Worker
from emulator.client import LineUser
from store import notices, outbox, repo
from store.models import Case, OutboxMessage
from store.staff import create_user
from tests.conftest import Bot, Clock, texts_of

STAFF = 12
CASES = 25


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    # Patient enough for an outage of many minutes; quick to time out a hung request.
    return {"outbox_max_attempts": 40, "line_timeout_seconds": 1.0, "send_after_commit": False}


def _link_staff(bot: Bot, line: Any) -> list[LineUser]:
    phones = []
    now = bot.runtime.clock()
    with bot.runtime.db.transaction() as session:
        for n in range(STAFF):
            user = create_user(
                session,
                username=f"officer{n}",
                display_name=f"Officer {n}",
                role="staff",
                password="correct horse battery staple",
                now=now,
                lang="th" if n % 2 else "en",
            )
            phone = LineUser(line.url, "U" + uuid.uuid4().hex)
            notices.link_staff_line(session, bot.runtime.keys, user.id, phone.user_id, now)
            phones.append(phone)
        admin = create_user(
            session,
            username="admin",
            display_name="Admin",
            role="admin",
            password="correct horse battery staple",
            now=now,
        )
        notices.register_group(session, bot.runtime.keys, "C" + "0" * 32, admin.id, now)
    return phones


def _new_cases(bot: Bot) -> list[str]:
    notifier = Notifier(bot.runtime)
    numbers = []
    for n in range(CASES):
        with bot.runtime.db.transaction() as session:
            now = bot.runtime.clock()
            created = repo.create_case(
                session,
                bot.runtime.keys,
                now=now,
                token=f"BBBB-BBBB-BBBB-{n:04d}",
                channel="line",
                lang="th",
                category="money",
                district_code="1004",
                anonymous=True,
                meets_anonymous_bar=False,
                content={"description": "x"},
                identity=None,
                notify_user_id=None,
            )
            case = session.get(Case, created.case_id)
            assert case is not None
            notifier.new_case(session, case, now)
            numbers.append(created.number)
    return numbers


def test_every_staff_notification_arrives_exactly_once_after_an_outage(
    bot: Bot, line: Any, clock: Clock, other_runtime: Callable[[], Runtime]
) -> None:
    phones = _link_staff(bot, line)
    # LINE is down for a long while: every push and multicast fails.
    line.faults("/v2/bot/message/multicast", status=500, times=10**6)
    line.faults("/v2/bot/message/push", status=500, times=10**6)
    numbers = _new_cases(bot)

    workers = [Worker(bot.runtime), Worker(other_runtime())]
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(worker: Worker) -> None:
        try:
            while not stop.is_set():
                worker.run_once()
                time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        # Forty simulated minutes of outage.
        for _ in range(240):
            clock.advance(seconds=10)
            time.sleep(0.01)
        assert sum(len(p.messages()) for p in phones) == 0
        # LINE comes back, but flaky: 500s, 429 with Retry-After, and answers too slow.
        line.clear_faults()
        line.faults("/v2/bot/message/multicast", status=500, times=3)
        line.faults("/v2/bot/message/multicast", status=429, retry_after=30, times=2)
        line.faults("/v2/bot/message/multicast", status=None, latency_ms=1500, times=2)
        line.faults("/v2/bot/message/push", status=429, retry_after=30, times=2)
        line.faults("/v2/bot/message/push", status=None, latency_ms=1500, times=2)
        for _ in range(600):
            clock.advance(seconds=5)
            time.sleep(0.01)
            with bot.runtime.db.transaction() as session:
                left = outbox.counts(session)
            if not left.get("pending") and not left.get("sending"):
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors

    time.sleep(2)  # let slow requests the emulator still holds finish and be counted
    with bot.runtime.db.transaction() as session:
        states = dict(
            session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )
    assert states == {"sent": states.get("sent", 0)} and states["sent"] > 0, states

    for phone in phones:
        got = Counter(n for m in phone.messages() for n in numbers if n in texts_of([m]))
        assert got == Counter(numbers), f"{phone.user_id}: {got}"
    group = (
        phones[0]
        .http.get(f"{line.url}/_emulator/users/C{'0' * 32}/messages", timeout=10)
        .json()["messages"]
    )
    got = Counter(n for m in group for n in numbers if n in texts_of([m["message"]]))
    assert got == Counter(numbers)
    statuses = Counter(r["status"] for r in line.requests("/v2/bot/message/"))
    assert statuses[500] > 0 and statuses[429] > 0 and statuses[409] > 0, statuses
