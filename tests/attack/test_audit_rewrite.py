"""Finding 7: the audit chain could be rewritten or cut.

With write access to the database, an attacker turned every `identity.open` into
`case.view` and recomputed the hash chain, or deleted the newest entries, and
`krasip audit verify` still said "audit log intact". Each test below does what he did,
with what he has (the database and the source code, not the key files), and asserts that
verify now fails; the first shows that an untouched log still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, update

from bot.cli import main
from bot.worker import Worker
from emulator.client import Emulator
from store import audit, migrate, repo
from store.db import Database
from store.models import AuditChain, AuditCheckpoint, AuditEntry
from tests.conftest import Bot, Clock, Keys, texts_of
from tests.test_staff_notifications import linked_staff

ACTIONS = ["login", "case.view", "identity.open", "case.view", "status.change"]


def _env(bot: Bot, keys: Keys, tmp_path: Path, **extra: str) -> dict[str, str]:
    material = keys.material
    return {
        "KRASIP_ENV": "production",
        "KRASIP_INSTANCE": str(tmp_path / "cli-instance"),
        "DATABASE_URL": bot.settings.database_url,
        "SECRET_KEY": "x" * 32,
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "KRASIP_IDENTITY_PUBLIC_KEY": material.identity_public,
        "KRASIP_DATA_KEYS": material.data_keys,
        "KRASIP_LOOKUP_PEPPER": material.pepper,
        "KRASIP_AUDIT_KEY": material.audit_key,
        "KRASIP_AUDIT_SIGNING_KEY": material.audit_signing_key,
        "KRASIP_AUDIT_CHECKPOINT_LOG": str(tmp_path / "checkpoints.log"),
        **extra,
    }


def krasip(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def write_log(bot: Bot, rounds: int = 3) -> None:
    """What the console writes as staff work: views, status changes, identity openings."""
    for n in range(rounds):
        with bot.runtime.db.transaction() as session:
            for action in ACTIONS:
                repo.audit(
                    session,
                    actor=f"staff:custodian{n}",
                    action=action,
                    now=bot.runtime.clock(),
                    case_id=n + 1,
                    detail="reason: NACC referral" if action == "identity.open" else "",
                )


def attacker(bot: Bot) -> Database:
    """The attacker's own connection: the database, and no key file."""
    return Database(bot.settings.database_url)


def old_link(prev: str, entry: AuditEntry) -> str:
    """The chain's link as the source before the fix computed it (he has the source)."""
    body = [prev, entry.at.isoformat(), entry.actor, entry.action, entry.case_id, entry.detail]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()


def rewrite(bot: Bot, link: Any) -> int:
    """Turn every identity.open into case.view and recompute every link with ``link``."""
    db = attacker(bot)
    changed = 0
    with db.transaction() as session:
        prev = audit.GENESIS
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            if entry.action == "identity.open":
                entry.action, entry.detail = "case.view", ""
                changed += 1
            entry.prev_hash = prev
            entry.hash = link(prev, entry)
            prev = entry.hash
    db.dispose()
    return changed


def test_an_untouched_log_verifies(bot: Bot, keys: Keys, tmp_path: Path) -> None:
    write_log(bot)
    env = _env(bot, keys, tmp_path)
    checkpoint = krasip(env, "audit", "checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    write_log(bot, rounds=1)  # the log goes on growing after a checkpoint
    verified = krasip(env, "audit", "verify", "--checkpoint", str(tmp_path / "checkpoints.log"))
    assert verified.exit_code == 0, verified.output
    assert "audit log intact: 20 entries" in verified.stdout
    assert "consistent with 1 signed checkpoint" in verified.stdout
    with bot.runtime.db.transaction() as session:
        assert repo.verify_audit(session) == []


def test_rewriting_identity_openings_the_old_way_is_detected_without_a_checkpoint(
    bot: Bot, keys: Keys, tmp_path: Path
) -> None:
    write_log(bot)
    assert rewrite(bot, old_link) == 3
    with bot.runtime.db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "identity.open" not in actions  # the attack itself worked
    result = krasip(_env(bot, keys, tmp_path), "audit", "verify")
    assert result.exit_code == 1, result.output
    assert "AUDIT LOG TAMPERED" in result.stderr and "intact" not in result.stdout
    assert "entry 1: its content was changed" in result.stderr
    # The console's audit page shows the same verdict.
    with bot.runtime.db.transaction() as session:
        assert repo.verify_audit(session)


@pytest.mark.parametrize(
    "guess",
    [b"", b"\x00" * 32, os.urandom(32)],
    ids=["absent key", "zero key", "guessed key"],
)
def test_recomputing_the_chain_under_a_key_of_his_own_is_detected(
    bot: Bot, keys: Keys, tmp_path: Path, guess: bytes
) -> None:
    write_log(bot)

    def keyed_link(prev: str, entry: AuditEntry) -> str:
        # Exactly what the product computes, with the attacker's key in place of the real one.
        fields = audit.EntryFields(entry.at, entry.actor, entry.action, entry.case_id, entry.detail)
        message = b"krasip audit link v2\x00" + audit._canonical(prev, fields)
        return hmac.new(guess, message, hashlib.sha256).hexdigest()

    rewrite(bot, keyed_link)
    result = krasip(_env(bot, keys, tmp_path), "audit", "verify")
    assert result.exit_code == 1, result.output
    assert "its content was changed, or it was not written here" in result.stderr


def test_declaring_the_whole_log_older_than_the_key_is_caught_by_a_checkpoint(
    bot: Bot, keys: Keys, tmp_path: Path
) -> None:
    """He moves the start of the keyed chain past the end, so every entry looks like one
    written before the audit key existed, then recomputes the plain chain."""
    write_log(bot)
    env = _env(bot, keys, tmp_path)
    assert krasip(env, "audit", "checkpoint").exit_code == 0
    rewrite(bot, old_link)
    db = attacker(bot)
    with db.transaction() as session:
        session.execute(update(AuditChain).values(keyed_from=10_000))
        session.execute(delete(AuditCheckpoint))
    db.dispose()
    # The server's checkpoint log is read by default; the file holds the checkpoint too.
    result = krasip(env, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert "the keyed chain started at entry 1, the database now says 10000" in result.stderr
    assert "no longer lead to its head" in result.stderr


def test_deleting_the_newest_entries_is_detected_with_the_last_checkpoint(
    bot: Bot, keys: Keys, tmp_path: Path
) -> None:
    write_log(bot)
    env = _env(bot, keys, tmp_path, KRASIP_AUDIT_CHECKPOINT_LOG=str(tmp_path / "elsewhere.log"))
    issued = krasip(env, "audit", "checkpoint")
    assert issued.exit_code == 0, issued.output
    line = issued.stdout.strip()
    assert line.startswith("krasip-audit/1 n=15 ")
    # He deletes the newest entries, and the database's own copies of the checkpoints.
    db = attacker(bot)
    with db.transaction() as session:
        newest = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(4))
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(list(newest))))
        session.execute(delete(AuditCheckpoint))
    db.dispose()
    (tmp_path / "elsewhere.log").unlink()  # and the server's log: the admins kept a copy

    saved = tmp_path / "line-message.txt"  # the checkpoint as an admin got it on LINE
    saved.write_text(f"จุดตรวจบันทึกการตรวจสอบ: 15 รายการ\n{line}\n", encoding="utf-8")
    for given in (line, str(saved)):
        result = krasip(env, "audit", "verify", "--checkpoint", given)
        assert result.exit_code == 1, result.output
        assert "it counted 15 entries, the log has 11: entries were deleted" in result.stderr

    # Writing new entries to make up the count does not help: the head differs.
    write_log(bot, rounds=1)
    result = krasip(env, "audit", "verify", "--checkpoint", line)
    assert result.exit_code == 1, result.output
    assert "no longer lead to its head" in result.stderr


def test_a_forged_checkpoint_is_refused(bot: Bot, keys: Keys, tmp_path: Path) -> None:
    write_log(bot)
    env = _env(bot, keys, tmp_path)
    line = krasip(env, "audit", "checkpoint").stdout.strip()
    forged = line.replace(" n=15 ", " n=14 ")
    result = krasip(env, "audit", "verify", "--checkpoint", forged)
    assert result.exit_code == 1, result.output
    assert "the signature is not ours" in result.stderr


def test_without_the_audit_key_verify_says_it_cannot_check(
    bot: Bot, keys: Keys, tmp_path: Path
) -> None:
    write_log(bot)
    env = _env(bot, keys, tmp_path)
    del env["KRASIP_AUDIT_KEY"], env["KRASIP_AUDIT_SIGNING_KEY"]
    result = krasip(env, "audit", "verify")
    assert result.exit_code == 2, result.output
    assert "could NOT be fully checked" in result.stderr
    assert "the audit key is not configured: 15 keyed entries cannot be checked" in result.stderr
    assert "intact" not in result.stdout
    # And nothing is written without it: an unkeyed entry would hide among keyed ones.
    db = attacker(bot)
    with pytest.raises(audit.AuditKeyMissing), db.transaction() as session:
        repo.audit(session, actor="x", action="case.view", now=bot.runtime.clock())
    db.dispose()


def test_the_worker_writes_a_daily_checkpoint_and_pushes_it_to_admins_only(
    bot: Bot, keys: Keys, tmp_path: Path, clock: Clock, new_chat: Any, line: Emulator
) -> None:
    admin = linked_staff(bot, new_chat, "boss", role="admin")
    officer = linked_staff(bot, new_chat, "officer", role="staff")
    write_log(bot)
    worker = Worker(bot.runtime)
    worker.run_once()
    log = bot.settings.audit_checkpoint_log
    assert log is not None and not log.exists(), "not before a day has passed"

    clock.advance(hours=25)
    worker = Worker(bot.runtime)
    worker.run_once()
    bot.settle()
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("krasip-audit/1 n=")
    assert log.stat().st_mode & 0o077 == 0
    pushed = texts_of(admin.new_messages())
    assert pushed.startswith("จุดตรวจบันทึกการตรวจสอบ") and lines[0] in pushed
    assert officer.new_messages() == []

    Worker(bot.runtime).run_once()  # a second worker the same day: nothing more
    assert len(log.read_text().splitlines()) == 1
    result = krasip(_env(bot, keys, tmp_path), "audit", "verify", "--checkpoint", str(log))
    assert result.exit_code == 0, result.output


def test_entries_from_before_the_audit_key_still_verify_and_are_fixed_by_the_keyed_ones(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    """An instance upgraded from revision 0008: its plain-linked entries verify as they
    are, and once a keyed entry follows them, rewriting them the old way is detected."""
    migrate.upgrade(database_url, "0008")
    db = Database(database_url)  # no key: as the code before 0009 wrote
    with db.transaction() as session:
        prev = audit.GENESIS
        for n, action in enumerate(ACTIONS):
            entry = AuditEntry(
                at=datetime(2026, 1, 1, 9, n, tzinfo=UTC),
                actor="custodian-1",
                action=action,
                case_id=1,
                detail="cli; reason: court order" if action == "identity.open" else "",
                prev_hash=prev,
                hash="",
            )
            entry.hash = old_link(prev, entry)
            prev = entry.hash
            session.add(entry)
    db.dispose()
    migrate.upgrade(database_url)

    db = Database(database_url, audit=keys.material.audit_keys())
    with db.transaction() as session:
        assert audit.keyed_from(session) == len(ACTIONS) + 1
        verdict = audit.verify(session, db.audit)
        assert verdict.intact and verdict.plain == len(ACTIONS)
        repo.audit(session, actor="admin", action="case.view", now=datetime.now(UTC))
    with db.transaction() as session:
        verdict = audit.verify(session, db.audit)
        assert verdict.intact and verdict.count == len(ACTIONS) + 1, verdict.problems

    # The attacker rewrites the old identity opening and recomputes the old links.
    with db.transaction() as session:
        prev = audit.GENESIS
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            if entry.id > len(ACTIONS):
                break
            if entry.action == "identity.open":
                entry.action, entry.detail = "case.view", ""
            entry.prev_hash, entry.hash = prev, old_link(prev, entry)
            prev = entry.hash
    with db.transaction() as session:
        problems = audit.verify(session, db.audit).problems
    db.dispose()
    assert problems == [f"entry {len(ACTIONS) + 1}: does not follow the entry before it"]
