"""Issue 11, items 2 and 4: rotating the data key under load, and the lookup pepper.

The rotation runs as the real `krasip keys rotate` subprocess, killed with SIGKILL half
way and started again, while reporters file reports and look up their cases through the
emulator against the bot restarted with the new key. At the end no row is under the old
key, and everything reads with the new key alone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bench.load import ANONYMOUS_THAI
from bot import create_app
from bot.cli import demo_vocabulary, main
from bot.config import load_settings
from bot.runtime import utc_now
from emulator.client import Emulator, LineUser
from emulator.server import EmulatorServer
from store import media, repo, retention, rotation, staff
from store.crypto import DataKeyring, Keyring, Pepper, bind, new_pepper
from store.db import Database
from store.demo import seed_cases
from store.keys import KeyMaterial
from store.models import (
    Attachment,
    AuditEntry,
    Base,
    Case,
    CaseMessage,
    CaseNote,
    RetentionHold,
)
from tests.conftest import Bot, Keys, texts_of
from tests.test_concurrency import krasip_command

TOKEN_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
NUMBER_RE = re.compile(r"KRS-\d{4}-\d{6}")
SEEDED = 240  # cases filed before the rotation (the demo seeder: fast)


# --- talking to the bot from threads -------------------------------------------------------


def _wait_text(user: LineUser, since: int, pattern: re.Pattern[str], timeout: float = 20) -> str:
    """Wait until the messages after the ``since``-th match ``pattern``; their text."""
    deadline = time.monotonic() + timeout
    while True:
        got = user.messages()[since:]
        text = texts_of([m["message"] for m in got])
        if pattern.search(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no reply matching {pattern.pattern}")
        time.sleep(0.05)


def file_report(line_url: str, stop: threading.Event | None = None) -> tuple[str, str] | None:
    """One reporter files the benchmark's anonymous Thai report; (number, token), or
    None when ``stop`` is set half way (the draft is left unfinished)."""
    user = LineUser(line_url, "U" + uuid.uuid4().hex)
    for kind, value in ANONYMOUS_THAI:
        if stop is not None and stop.is_set():
            return None
        seen = len(user.messages())
        status = user.tap(value) if kind == "postback" else user.say(value)
        assert status == 200
        user.wait_for_messages(1, timeout=20)
        if (kind, value) != ANONYMOUS_THAI[-1]:
            time.sleep(0.05)
    receipt = _wait_text(user, seen, TOKEN_RE)
    token, number = TOKEN_RE.search(receipt), NUMBER_RE.search(receipt)
    assert token and number
    return number.group(0), token.group(0)


def look_up(line_url: str, number: str, token: str) -> None:
    """A reporter sends their token and is shown their own case."""
    user = LineUser(line_url, "U" + uuid.uuid4().hex)
    assert user.say(token) == 200
    _wait_text(user, 0, re.compile(re.escape(number)))


class Load:
    """Reporters filing and looking up, in threads, until stopped."""

    def __init__(self, line_url: str, known: list[tuple[str, str]]) -> None:
        self.line_url = line_url
        self.known = list(known)
        self.filed: list[tuple[str, str]] = []
        self.lookups = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(self._filer,)),
            threading.Thread(target=self._run, args=(self._looker,)),
        ]

    def _run(self, step: Any) -> None:
        try:
            while not self._stop.is_set():
                step()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.errors.append(exc)

    def _filer(self) -> None:
        filed = file_report(self.line_url, self._stop)
        if filed is not None:
            self.filed.append(filed)

    def _looker(self) -> None:
        pool = self.known + self.filed
        number, token = pool[self.lookups % len(pool)]
        look_up(self.line_url, number, token)
        self.lookups += 1

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not self.errors, f"a reporter was not served: {self.errors[0]!r}"


# --- helpers ---------------------------------------------------------------------------


def _counts(database: Database) -> Counter[str]:
    with database.transaction() as session:
        return rotation.totals(rotation.status(session))


def _restart(bot: Bot, line: Emulator, material: KeyMaterial, clock: Any) -> Bot:
    """The bot started again with other keys, on the same database; LINE now calls it."""
    settings = replace(bot.settings, keys=material)
    app = create_app(settings, clock=clock)
    server = EmulatorServer(app).start()
    line.app.config["EMULATOR_WEBHOOK_URL"] = server.url + "/callback"  # type: ignore[attr-defined]
    return Bot(app, server, settings)


def _stop(bot: Bot) -> None:
    bot.server.stop()
    bot.runtime.close()


def _env(bot: Bot, keys: Keys, data_keys_file: Path) -> dict[str, str]:
    material = keys.material
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KRASIP_", "LINE_"))},
        "KRASIP_ENV": "development",
        "KRASIP_INSTANCE": str(bot.settings.instance_path),
        "DATABASE_URL": bot.settings.database_url,
        "KRASIP_IDENTITY_PUBLIC_KEY": material.identity_public,
        "KRASIP_DATA_KEYS_FILE": str(data_keys_file),
        "KRASIP_LOOKUP_PEPPER": material.pepper,
        "KRASIP_AUDIT_KEY": material.audit_key,
        "KRASIP_AUDIT_SIGNING_KEY": material.audit_signing_key,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }


# --- the test the issue asks for -----------------------------------------------------------


def test_data_key_rotates_under_load_killed_half_way_and_resumed(
    bot: Bot, line: Emulator, keys: Keys, clock: Any, tmp_path: Path
) -> None:
    old_ring = keys.material.keyring()
    old_id = old_ring.data.current_id
    database = bot.runtime.db

    # Before: seeded cases, two filed through LINE, a staff note, a message, a TOTP secret.
    seeded = seed_cases(
        database, old_ring, demo_vocabulary(), count=SEEDED, now=utc_now(), seed=11, keep_tokens=6
    )
    filed = [_filed(line.url) for _ in range(2)]
    with database.transaction() as session:
        case_ids = session.scalars(select(Case.id).order_by(Case.id)).all()
        staff.add_note(session, old_ring, case_ids[0], "staff1", "internal note", utc_now())
        repo.add_message(session, old_ring, case_ids[1], "staff", "please send more", utc_now())
        user = staff.create_user(
            session,
            username="rotator",
            display_name="R",
            role="staff",
            password="a long password 123",
            now=utc_now(),
        )
        staff.start_totp_enrolment(old_ring, user)
        # Evidence (its name, and the file as stored) and a custodian's hold reason.
        attachment_id = media.add_pending(
            session,
            old_ring,
            line_message_id="4711",
            kind="file",
            now=utc_now(),
            case_id=case_ids[2],
            file_name="receipt.pdf",
        )
        stored = session.get(Attachment, attachment_id)
        assert stored is not None
        stored.blob_ct = old_ring.data.encrypt(b"%PDF-1.4", bind(media.ATTACHMENT_BLOB, stored.id))
        number_2 = session.get_one(Case, case_ids[2]).number
        reason = old_ring.data.encrypt_text("court order", bind(retention.HOLD_REASON, number_2))
        session.add(RetentionHold(case_id=case_ids[2], reason_ct=reason, actor="c", at=utc_now()))
    tokens = {
        case.number: token
        for token in seeded.sample_tokens
        for case in [_find(database, old_ring, token)]
    }
    known = [*tokens.items(), *filed]
    before = _counts(database)
    assert before[old_id] > SEEDED and set(before) == {old_id}

    # The custodian adds a new key to the data keys file; the bot restarts with it.
    data_keys_file = tmp_path / "data_keys.txt"
    data_keys_file.write_text(keys.material.data_keys + "\n")
    env = _env(bot, keys, data_keys_file)
    added = CliRunner().invoke(main, ["keys", "rotate", "--new-key"], env=env)
    assert added.exit_code == 0, added.output
    assert "copy this file to the server" in added.output
    new_keys = data_keys_file.read_text().strip()
    new_data = DataKeyring(DataKeyring.parse(new_keys))
    new_id = new_data.current_id
    assert new_id != old_id and new_data.key_ids == (new_id, old_id)
    assert set(_counts(database)) == {old_id}, "adding a key rewrites no row"
    restarted = _restart(bot, line, replace(keys.material, data_keys=new_keys), clock)

    load = Load(line.url, known)
    load.start()
    try:
        # `keys rotate` waits for proof that the bot writes under the new key.
        deadline = time.monotonic() + 20
        while not _counts(database)[new_id]:
            assert time.monotonic() < deadline, "the restarted bot wrote nothing"
            time.sleep(0.05)
        # The first run is killed half way through.
        command = [*krasip_command(), "keys", "rotate", "--batch-size", "10", "--pause", "0.05"]
        first = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 40
        while True:
            with database.transaction() as session:
                counts = rotation.status(session)["case.content_ct"]
            if counts[new_id] > 60 and counts[old_id] > 60:  # half way through the cases
                break
            assert first.poll() is None, "the rotation finished before it could be killed"
            assert time.monotonic() < deadline, f"the rotation made no progress: {counts}"
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert first.stdout is not None
        progress = first.stdout.read().decode()
        first.stdout.close()
        assert first.returncode == -signal.SIGKILL
        assert "case.content_ct: " in progress, progress
        half = _counts(database)
        assert half[old_id] > 0 and half[new_id] > 0

        # Started again, it skips what is done and finishes.
        resume = [*command[:-4], "--batch-size", "50"]
        second = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "0 still under older keys" in second.stdout
        time.sleep(0.5)  # the reporters go on for a moment with the new key alone in use
    finally:
        load.stop()
    assert load.filed and load.lookups >= 2, (len(load.filed), load.lookups)

    after = _counts(database)
    assert after[old_id] == 0, after
    assert after[new_id] >= before[old_id]

    status = CliRunner().invoke(main, ["keys", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"Key {old_id} protects no rows: it can be removed" in status.output

    # Everything opens with the new key alone: the old one can go.
    only_new = Keyring(
        identity=old_ring.identity,
        data=DataKeyring(DataKeyring.parse(_only(new_keys, new_id))),
        pepper=old_ring.pepper,
    )
    with database.transaction() as session:
        cases = session.scalars(select(Case)).all()
        assert len(cases) == SEEDED + len(filed) + len(load.filed)
        for case in cases:
            assert repo.case_content(session, only_new, case.id)
            repo.public_note(only_new, case)
            for message in session.scalars(
                select(CaseMessage).where(CaseMessage.case_id == case.id)
            ):
                repo.message_text(only_new, case, message)
        assert [n.text for n in staff.notes(session, only_new, case_ids[0])] == ["internal note"]
        user = staff.find_user(session, "rotator")
        assert user is not None and staff.totp_secret(only_new, user)
        assert session.scalars(select(CaseNote)).first() is not None
        evidence = session.get_one(Attachment, attachment_id)
        assert media.read_content(only_new, evidence) == b"%PDF-1.4"
        assert media.file_name(only_new, evidence) == "receipt.pdf"
        held = session.get_one(Case, case_ids[2])
        assert retention.hold_reason(session, only_new, held) == "court order"
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "keys.rotate" in actions
    _stop(restarted)
    final = _restart(bot, line, replace(keys.material, data_keys=_only(new_keys, new_id)), clock)
    try:
        for number, token in [*known[:2], *load.filed[:2]]:
            look_up(line.url, number, token)
    finally:
        _stop(final)


def _filed(line_url: str) -> tuple[str, str]:
    filed = file_report(line_url)
    assert filed is not None
    return filed


def _find(database: Database, keys: Keyring, token: str) -> Case:
    with database.transaction() as session:
        case = repo.find_case_by_token(session, keys, token)
        assert case is not None
        session.expunge(case)
        return case


def _only(data_keys: str, key_id: str) -> str:
    ring = [k for k in DataKeyring.parse(data_keys) if k.key_id == key_id]
    return DataKeyring.format(ring)


# --- what the rotation covers -------------------------------------------------------------


def test_every_ciphertext_column_is_rotated_or_under_a_vault_key() -> None:
    """A new ``_ct`` column must be added to the rotation (or said to be a vault one)."""
    columns = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_ct") or column.name == "wrapped"
    }
    rotated = {spec.name for spec in rotation.PROTECTED}
    assert columns - rotated - rotation.NOT_DATA_KEY == set()
    assert rotated - columns == set() and rotation.NOT_DATA_KEY - columns == set()


def test_status_says_an_old_key_in_use_must_stay(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    from store import migrate

    migrate.upgrade(database_url)
    database = Database(database_url)
    try:
        ring = keys.material.keyring()
        seed_cases(database, ring, demo_vocabulary(), count=5, now=utc_now(), seed=2)
        data_keys_file = tmp_path / "data_keys.txt"
        data_keys_file.write_text(keys.material.data_keys + "\n")
        old_id = ring.data.current_id
        new_id = rotation.add_data_key(data_keys_file)
        assert oct(data_keys_file.stat().st_mode & 0o777) == "0o600"
        env = {
            "KRASIP_ENV": "development",
            "KRASIP_INSTANCE": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "KRASIP_IDENTITY_PUBLIC_KEY": keys.material.identity_public,
            "KRASIP_DATA_KEYS_FILE": str(data_keys_file),
            "KRASIP_LOOKUP_PEPPER": keys.material.pepper,
            "KRASIP_AUDIT_KEY": keys.material.audit_key,
            "KRASIP_AUDIT_SIGNING_KEY": keys.material.audit_signing_key,
        }
        result = CliRunner().invoke(main, ["keys", "status"], env=env)
        assert result.exit_code == 0, result.output
        assert f"Data keys: {new_id}, {old_id}" in result.output
        assert f"Key {old_id} still protects" in result.output
        assert "can be removed" not in result.output
        assert re.search(r"case\.content_ct\s+0\s+5\b", result.output), result.output

        # Nothing is under the new key yet: perhaps the bot still runs with the old keys
        # alone, and could not read what would be rewritten. The rotation refuses.
        refused = CliRunner().invoke(main, ["keys", "rotate"], env=env)
        assert refused.exit_code != 0 and "restart the web" in refused.output
        with database.transaction() as session:
            assert rotation.totals(rotation.status(session))[new_id] == 0
        forced = CliRunner().invoke(main, ["keys", "rotate", "--force"], env=env)
        assert forced.exit_code == 0, forced.output
        with database.transaction() as session:
            assert set(rotation.totals(rotation.status(session))) == {new_id}
    finally:
        database.dispose()


# --- the lookup pepper (item 4) -------------------------------------------------------------


def test_a_token_filed_under_an_old_pepper_is_found_and_moved_to_the_new_one(
    database_url: str, keys: Keys
) -> None:
    from store import migrate

    migrate.upgrade(database_url)
    database = Database(database_url)
    try:
        old = keys.material.keyring()
        seeded = seed_cases(
            database, old, demo_vocabulary(), count=4, now=utc_now(), seed=5, keep_tokens=4
        )
        token = seeded.sample_tokens[0]
        fresh = Pepper.format(new_pepper())
        rotated = replace(keys.material, pepper=fresh, old_peppers=keys.material.pepper)
        ring = rotated.keyring()
        without_old = replace(keys.material, pepper=fresh).keyring()
        with database.transaction() as session:
            assert repo.find_case_by_token(session, without_old, token) is None
        with database.transaction() as session:
            case = repo.find_case_by_token(session, ring, token)
            assert case is not None
            number = case.number
        # Moved at that lookup: the new pepper alone finds it now, the old one no more.
        with database.transaction() as session:
            found = repo.find_case_by_token(session, without_old, token)
            assert found is not None and found.number == number
            assert repo.find_case_by_token(session, old, token) is None
            assert repo.find_case_by_token(session, ring, "7KQ2-M9XD-4FRA-8PZT") is None
        # The others are still under the old pepper until their own lookup.
        with database.transaction() as session:
            assert repo.find_case_by_token(session, old, seeded.sample_tokens[1]) is not None
    finally:
        database.dispose()


def test_old_peppers_are_read_from_the_configuration(keys: Keys, tmp_path: Path) -> None:
    older = Pepper.format(new_pepper())
    (tmp_path / "old.txt").write_text(f"{keys.material.pepper},{older}\n")
    settings = load_settings(
        {
            "KRASIP_ENV": "development",
            "KRASIP_INSTANCE": str(tmp_path),
            "KRASIP_IDENTITY_PUBLIC_KEY": keys.material.identity_public,
            "KRASIP_DATA_KEYS": keys.material.data_keys,
            "KRASIP_LOOKUP_PEPPER": Pepper.format(new_pepper()),
            "KRASIP_OLD_LOOKUP_PEPPERS_FILE": str(tmp_path / "old.txt"),
        }
    )
    assert settings.keys is not None
    ring = settings.keys.keyring()
    assert len(ring.old_peppers) == 2
    assert ring.old_token_hashes("T")[0] == keys.material.keyring().token_hash("T")


@pytest.mark.parametrize("bad", ["not base64 !!", "c2hvcnQ"])
def test_a_malformed_old_pepper_is_refused(keys: Keys, bad: str) -> None:
    from store.crypto import CryptoError

    with pytest.raises(CryptoError):
        replace(keys.material, old_peppers=bad).keyring()


def test_pepper_rotation_end_to_end_old_tokens_answer_and_staff_links_move(
    bot: Bot, line: Emulator, keys: Keys, clock: Any, tmp_path: Path
) -> None:
    """`keys new-pepper`, restart, `keys rotate`: old tokens still answer through LINE and
    move to the new pepper; staff LINE links and groups are found under the new pepper."""
    from store import notices

    old = keys.material.keyring()
    database = bot.runtime.db
    seeded = seed_cases(
        database, old, demo_vocabulary(), count=3, now=utc_now(), seed=7, keep_tokens=3
    )
    token = seeded.sample_tokens[0]
    number = _find(database, old, token).number
    with database.transaction() as session:
        user = staff.create_user(
            session,
            username="linked",
            display_name="L",
            role="admin",
            password="a long password 123",
            now=utc_now(),
        )
        notices.link_staff_line(session, old, user.id, "Ustaffline", utc_now())
        notices.register_group(session, old, "Cgroup1", user.id, utc_now())

    pepper_file, old_file = tmp_path / "pepper.txt", tmp_path / "old_peppers.txt"
    pepper_file.write_text(keys.material.pepper + "\n")
    runner = CliRunner()
    made = runner.invoke(
        main,
        [
            "keys",
            "new-pepper",
            "--pepper-file",
            str(pepper_file),
            "--old-peppers-file",
            str(old_file),
        ],
    )
    assert made.exit_code == 0, made.output
    assert old_file.read_text().strip() == keys.material.pepper
    assert pepper_file.read_text().strip() != keys.material.pepper
    assert oct(old_file.stat().st_mode & 0o777) == "0o600"

    env = {
        **_env(bot, keys, tmp_path / "data_keys.txt"),
        "KRASIP_LOOKUP_PEPPER": "",
        "KRASIP_LOOKUP_PEPPER_FILE": str(pepper_file),
        "KRASIP_OLD_LOOKUP_PEPPERS_FILE": str(old_file),
    }
    (tmp_path / "data_keys.txt").write_text(keys.material.data_keys + "\n")
    rotated = runner.invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "2 staff LINE links and groups moved" in rotated.output

    material = replace(
        keys.material,
        pepper=pepper_file.read_text().strip(),
        old_peppers=old_file.read_text().strip(),
    )
    new = material.keyring()
    with database.transaction() as session:
        found = notices.staff_for_line(session, new, "Ustaffline")
        assert found is not None and found[0].username == "linked"
        assert "Cgroup1" in [r.to for r in notices.recipients(session, new)]
        assert repo.find_case_by_token(session, old, token) is not None  # not yet moved

    restarted = _restart(bot, line, material, clock)
    try:
        look_up(line.url, number, token)
    finally:
        _stop(restarted)
    with database.transaction() as session:
        assert repo.find_case_by_token(session, old, token) is None
        moved = repo.find_case_by_token(session, replace(new, old_peppers=()), token)
        assert moved is not None and moved.number == number
