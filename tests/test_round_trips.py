"""On PostgreSQL a webhook event pays for as few round trips as its work needs (issue 12).

Each round trip costs the web process about 0.06 ms of CPU on the benchmark's machine,
and the server a statement (bench/RESULTS.md, tenth and twelfth rounds). A transaction
begins in one round trip with its wait (``BEGIN; SET LOCAL ...``, store.db); the event's
claim locks the reporter's conversation in the same statement (store.hot
``claim_and_lock``); the step's reply is queued in the statement that keeps its new state
(``add_outbox_saving``); deliveries are marked sent in one statement outside a
transaction (``Database.one_write``). The driver is left in autocommit for this, so these
tests also hold that a transaction is still one, and that its wait stays its own.
"""

from __future__ import annotations

import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from bot.webhook import Webhook
from store import hot, outbox, repo, vault
from store.db import Database
from store.models import Conversation, OutboxMessage, StaffLineLink, VaultKey
from store.staff import create_user
from tests.conftest import Bot, Chat

NOW = datetime(2026, 12, 6, 9, 41, 27, tzinfo=UTC)
USER = "U" + "3" * 32


def _postgres_only(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("round trips to a server are PostgreSQL's (SQLite runs in the process)")


def _sent(trace: str) -> list[str]:
    """What the client sent that the server answers with ReadyForQuery: each a round trip
    (a simple Query, or the Sync that ends an extended query)."""
    lines = [line.split("\t") for line in trace.splitlines()]
    return [
        "\t".join(fields[3:]).strip()
        for fields in lines
        if len(fields) > 3 and fields[1] == "F" and fields[3].strip() in ("Query", "Sync")
    ]


@contextmanager
def _traced(engine: Any, code: Any) -> Iterator[Callable[[], str]]:
    """libpq's trace of the connections taken from ``engine`` by ``code`` (a function's
    code object, found on the stack at checkout)."""
    file = tempfile.TemporaryFile()

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        stack = traceback.extract_stack()
        if any(f.filename == code.co_filename and f.name == code.co_name for f in stack):
            dbapi_connection.pgconn.trace(file.fileno())

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.pgconn.untrace()

    def read() -> str:
        file.seek(0)
        return file.read().decode("utf-8", "replace")

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield read
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        file.close()


@pytest.fixture
def webhook_trace(bot: Bot) -> Iterator[Callable[[], str]]:
    """The trace of the connections the webhook itself takes (not the sender's)."""
    with _traced(bot.runtime.db.engine, Webhook._handle.__code__) as read:
        yield read


def test_a_step_of_the_form_takes_four_round_trips(
    database_url: str, chat: Chat, new_chat: Any, webhook_trace: Callable[[], str]
) -> None:
    _postgres_only(database_url)
    new_chat().say("สวัสดี")  # today's day key is made, then kept in memory
    chat.say("ร้องเรียน")
    before = len(webhook_trace())
    assert chat.choose("ไปต่อ")  # past the opening words: the first question
    sent = _sent(webhook_trace()[before:])
    # BEGIN with the wait; the claim with the lock; the reply with the state; COMMIT.
    # (psycopg's own BEGIN, a set_config for the wait, a lock of its own and the state on
    # its own made 7.)
    assert len(sent) == 4, sent
    assert sent[0].startswith('Query\t "BEGIN; SET LOCAL lock_timeout = ')
    assert sent[-1] == 'Query\t "COMMIT"'
    assert chat.choose(chat.quick_replies()[0]["label"])  # the step was kept


def test_deliveries_are_marked_sent_in_one_round_trip(
    database_url: str, bot: Bot, keys: Any
) -> None:
    """One statement on PostgreSQL, so no transaction around it (``Database.one_write``);
    the rows are done and their keys destroyed as before."""
    database = bot.runtime.db
    keyring = keys.material.keyring()
    with database.transaction() as session:
        rows = [
            outbox.enqueue(session, keyring, kind="push", to=[USER], messages=[], now=NOW)
            for _ in range(3)
        ]
        key_ids = session.scalars(
            select(OutboxMessage.key_id).where(OutboxMessage.id.in_([r.id for r in rows]))
        ).all()
    sender = bot.runtime.sender
    if database_url.startswith("postgresql"):
        with _traced(database.engine, type(sender).mark_sent.__code__) as read:
            sender.mark_sent([rows[0].id, rows[1].id])
            sent = _sent(read())
        # (BEGIN, the statement and COMMIT made 3.)
        assert len(sent) == 1 and sent[0] == "Sync", sent
    else:
        sender.mark_sent([rows[0].id, rows[1].id])  # a transaction as any other
    with database.transaction() as session:
        states = dict(session.execute(select(OutboxMessage.id, OutboxMessage.state)).all())
        assert [states[r.id] for r in rows] == ["sent", "sent", "pending"]
        kept = session.scalars(select(VaultKey.id).where(VaultKey.id.in_(key_ids))).all()
        assert kept == [key_ids[2]]


def test_a_transactions_wait_is_its_own(database_url: str) -> None:
    _postgres_only(database_url)
    database = Database(database_url, pool_size=1, max_overflow=0)  # one connection for all
    try:
        with database.transaction(wait=0.25) as session:
            assert session.scalar(text("SHOW lock_timeout")) == "250ms"
            assert session.scalar(text("SHOW statement_timeout")) == "250ms"
        with database.transaction() as session:
            assert session.scalar(text("SHOW lock_timeout")) == "0"
            assert session.scalar(text("SHOW statement_timeout")) == "0"
        with database.glance() as other:
            # Outside any transaction (a glance is one statement), with no wait left over.
            assert other.scalar(text("SHOW lock_timeout")) == "0"
            assert other.scalar(text("SELECT now() = statement_timestamp()")) is True
        level = {"isolation_level": "REPEATABLE READ"}
        with database.engine.connect().execution_options(**level) as connection:
            with connection.begin():
                isolation = connection.scalar(text("SHOW transaction_isolation"))
                assert isolation == "repeatable read"
        with database.transaction() as session:
            # Back in the pool, the connection begins as it did before.
            assert session.scalar(text("SHOW transaction_isolation")) == "read committed"
            assert session.scalar(text("SELECT now() = statement_timestamp()")) is False
    finally:
        database.dispose()


def test_a_transaction_is_still_one(database: Database, keys: Any) -> None:
    """The driver is in autocommit on PostgreSQL: what a transaction writes is seen by no
    one before its commit, and a failure takes all of it back."""
    keyring = keys.material.keyring()
    outside = Database(database.url)
    try:
        with pytest.raises(IntegrityError), database.transaction() as session:
            key_id = vault.new_key(session, keyring)[0]
            with outside.reading() as other:
                assert other.get(VaultKey, key_id) is None
            add = hot.statements(session).add_vault_key
            hot.execute(session, add, {"id": key_id, "wrapped": b""})  # the same id again
        with outside.reading() as other:
            assert other.get(VaultKey, key_id) is None
    finally:
        outside.dispose()


def _staff(database: Database, keys: Any, line_user_id: str) -> int:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        user = create_user(
            session,
            username="somchai",
            display_name="Somchai",
            role="staff",
            password="a long enough password 1",
            now=NOW,
        )
        session.add(
            StaffLineLink(
                staff_id=user.id,
                line_user_ct=b"\x00",
                line_key=repo.staff_line_key(keyring, line_user_id),
                linked_at=NOW,
            )
        )
        return user.id


def _conversations(database: Database) -> int:
    with database.transaction() as session:
        return len(session.scalars(select(Conversation.reporter_key)).all())


def test_the_claim_locks_the_conversation_as_lock_conversation_does(
    database: Database, keys: Any
) -> None:
    keyring = keys.material.keyring()
    fused = database.engine.dialect.name == "postgresql"
    with database.transaction() as session:
        claim = repo.claim_event(session, keyring, "event-1", NOW, USER, lock=True)
        assert claim is not None and claim.staff_id is None
        # A first event: a new row, no state (SQLite locks it apart, as before).
        held = claim.held if fused else repo.lock_conversation(session, keyring, USER, NOW)
        assert held is not None and held.state is None and held.key_id is None
        repo.save_conversation(session, keyring, held, {"step": 1}, NOW + timedelta(hours=1))
    with database.transaction() as session:
        claim = repo.claim_event(session, keyring, "event-2", NOW, USER, lock=True)
        assert claim is not None
        if fused:
            assert claim.held is not None and claim.held.state == {"step": 1}
            assert claim.held == repo.lock_conversation(session, keyring, USER, NOW)
        else:
            assert claim.held is None
    # A redelivery: nothing claimed, nothing locked.
    with database.transaction() as session:
        assert repo.claim_event(session, keyring, "event-2", NOW, USER, lock=True) is None


def one_waits_for_the_other(
    database: Database,
    first: Callable[[], None],
    second: Callable[[], None],
    holding: threading.Event,
    release: threading.Event,
) -> None:
    """Run ``first`` until it holds a lock (it sets ``holding``, then waits for
    ``release``), then ``second`` until it waits for that lock; then let both end.
    SQLite's second writer waits for its turn before its transaction begins, so there a
    moment stands for the wait."""
    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    try:
        assert holding.wait(10), "the first never took the lock"
        two.start()
        if database.engine.dialect.name == "postgresql":
            _until_waiting_for_a_lock(database)
        else:
            time.sleep(0.3)
    finally:
        release.set()
        one.join(10)
        if two.ident is not None:
            two.join(10)


def _until_waiting_for_a_lock(database: Database) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with database.engine.connect() as connection:
            if connection.execute(waiting).scalar():
                return
        time.sleep(0.01)
    raise AssertionError("the second never waited for the lock")


@pytest.mark.parametrize("with_claim", [False, True], ids=["lock_conversation", "claim_and_lock"])
def test_a_step_that_waited_for_the_reporters_lock_opens_the_state_the_step_before_kept(
    database: Database, keys: Any, with_claim: bool
) -> None:
    # Two events of one reporter at once (a photo album, a double tap): the second waits
    # for the first's lock, then must open the state the first kept, under the key the
    # first made after the second's statement began. Reading that key with the locked
    # row, in the same statement, found nothing: the draft was taken for unreadable and
    # the form started afresh.
    keyring = keys.material.keyring()
    later = NOW + timedelta(hours=1)
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, USER, NOW)
        repo.save_conversation(session, keyring, held, {"step": 1}, later)
    holding, release = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def first() -> None:
        with database.transaction() as session:
            held = repo.lock_conversation(session, keyring, USER, NOW)
            repo.save_conversation(session, keyring, held, {"step": 2}, later)
            holding.set()
            release.wait(10)

    def second() -> None:
        with database.transaction() as session:
            claim = repo.claim_event(session, keyring, "event-2", NOW, USER, lock=with_claim)
            assert claim is not None
            held = claim.held or repo.lock_conversation(session, keyring, USER, NOW)
            seen["state"] = held.state

    one_waits_for_the_other(database, first, second, holding, release)
    assert seen["state"] == {"step": 2}


def test_a_staff_members_claim_leaves_no_conversation(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    staff_id = _staff(database, keys, USER)
    with database.transaction() as session:
        claim = repo.claim_event(session, keyring, "event-1", NOW, USER, lock=True)
        assert claim == repo.Claim(staff_id)  # nothing held: staff get no form
    assert _conversations(database) == 0


def test_a_reply_keeps_its_steps_state_in_the_same_statement(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    later = NOW + timedelta(hours=1)
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, USER, NOW)
        repo.save_conversation(session, keyring, held, {"step": 1}, later)
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, USER, NOW)
        old_key = held.key_id
        state = repo.save_conversation(session, keyring, held, {"step": 2}, later, with_reply=True)
        # PostgreSQL leaves it to the reply; SQLite has written it already.
        assert (state is not None) == (database.engine.dialect.name == "postgresql")
        text_2 = [{"type": "text", "text": "2"}]
        reply = outbox.enqueue(
            session, keyring, kind="push", to=[USER], messages=text_2, now=NOW, state=state
        )
    with database.transaction() as session:
        held = repo.lock_conversation(session, keyring, USER, NOW)
        assert held.state == {"step": 2} and held.key_id not in (None, old_key)
        assert session.get(VaultKey, old_key) is None
        assert session.get(OutboxMessage, reply.id) is not None
