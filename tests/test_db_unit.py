"""A write transaction is the driver connection's own, which SQLAlchemy's connection and
the ORM join only when they are used.

``Database.transaction`` begins and ends the transaction on the driver's connection; when
the ORM is used, SQLAlchemy's connection is made around the same driver connection and the
session joins its transaction. The webhook's steps mostly run ``store.hot``'s statements
only, and then neither is ever set going (issue 12). Whatever mixes the two still commits
together or not at all.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, ResourceClosedError

from bot.webhook import Webhook
from store import vault
from store.db import Database
from store.models import VaultKey
from tests.conftest import Bot, Chat


def _stored(database: Database, *ids: int) -> set[int]:
    with database.transaction() as session:
        return set(session.scalars(select(VaultKey.id).where(VaultKey.id.in_(ids))))


def from_webhook(stack: traceback.StackSummary) -> bool:
    """Whether ``stack`` is the webhook's handling of an event (not the test's own sender
    delivering a reply, on another stack)."""
    webhook = Webhook._handle.__code__
    return any(f.filename == webhook.co_filename and f.name == webhook.co_name for f in stack)


def _during_a_step(
    chat: Chat, new_chat: Any, target: Any, name: str, counted: Callable[..., bool]
) -> list[str]:
    """Where the ``name`` events on ``target`` that ``counted`` keeps came from, among the
    webhook's own (not the test's sender delivering the reply), in one step of the form."""
    # Today's key for the hashes of LINE ids is made by the first event, and read and
    # kept in memory by the next.
    new_chat().say("สวัสดี")
    chat.say("ร้องเรียน")
    found: list[str] = []

    def listener(*args: Any) -> None:
        stack = traceback.extract_stack()
        if counted(*args) and from_webhook(stack):
            found.append(" <- ".join(f"{f.name}:{f.lineno}" for f in reversed(stack[-8:])))

    event.listen(target, name, listener)
    try:
        answered = chat.choose("ไปต่อ")  # past the opening words: the first question
    finally:
        event.remove(target, name, listener)
    assert answered, "the step got no answer"
    # What the step saved is there: the form goes on from it.
    first = chat.quick_replies()[0]["label"]
    assert chat.choose(first)
    return found


def test_a_step_of_the_form_sets_no_orm_transaction_going(
    chat: Chat, new_chat: Any, bot: Bot
) -> None:
    sessions = bot.runtime.db.sessions
    begun = _during_a_step(
        chat, new_chat, sessions, "after_transaction_create", lambda _s, t: t.parent is None
    )
    assert begun == []


def test_a_step_of_the_form_makes_no_sqlalchemy_connection(
    chat: Chat, new_chat: Any, bot: Bot
) -> None:
    engine = bot.runtime.db.engine
    made = _during_a_step(chat, new_chat, engine, "engine_connect", lambda _connection: True)
    assert made == []  # the code before made one for the event's transaction


def test_a_chats_first_event_makes_no_sqlalchemy_connection(
    chat: Chat, new_chat: Any, bot: Bot
) -> None:
    """A chat's first event also looks for its conversation under yesterday's key (and
    the pepper's, from before day keys): that read runs on the driver too."""
    # Today's key for the hashes of LINE ids is made by another chat's first event, and
    # read and kept in memory by its next.
    other = new_chat()
    other.say("สวัสดี")
    other.say("สวัสดี")
    made: list[str] = []

    def connected(_connection: Any) -> None:
        stack = traceback.extract_stack()
        if from_webhook(stack):
            made.append(" <- ".join(f"{f.name}:{f.lineno}" for f in reversed(stack[-8:])))

    engine = bot.runtime.db.engine
    event.listen(engine, "engine_connect", connected)
    try:
        answered = chat.say("ร้องเรียน")
    finally:
        event.remove(engine, "engine_connect", connected)
    assert answered, "the first event got no answer"
    assert made == []  # the code before made one for the earlier keys' read


def test_a_session_used_after_its_transaction_fails(database: Database) -> None:
    with database.transaction() as session:
        pass
    # Not quietly on a connection of its own, outside any transaction of the caller's.
    with pytest.raises(ResourceClosedError):
        session.execute(select(VaultKey.id))


def test_the_orms_rows_and_hot_statements_commit_together(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        hot_id = vault.new_key(session, keyring)[0]
        orm_key = vault.unstored_key(keyring)
        session.add(VaultKey(id=orm_key.id, wrapped=orm_key.wrapped))
    assert _stored(database, hot_id, orm_key.id) == {hot_id, orm_key.id}


def test_a_failure_takes_back_both(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    orm_key = vault.unstored_key(keyring)
    hot_id = 0
    with pytest.raises(RuntimeError), database.transaction() as session:
        session.add(VaultKey(id=orm_key.id, wrapped=orm_key.wrapped))
        session.flush()
        hot_id = vault.new_key(session, keyring)[0]
        raise RuntimeError("a bug half-way")
    assert hot_id
    assert _stored(database, hot_id, orm_key.id) == set()


def test_a_savepoint_that_fails_keeps_what_came_before_it(database: Database, keys: Any) -> None:
    keyring = keys.material.keyring()
    with database.transaction() as session:
        hot_id = vault.new_key(session, keyring)[0]
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(VaultKey(id=hot_id, wrapped=b"the same id twice"))
        after_id = vault.new_key(session, keyring)[0]
    assert _stored(database, hot_id, after_id) == {hot_id, after_id}
