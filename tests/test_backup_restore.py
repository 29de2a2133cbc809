"""The restore drill: file cases, back up, wipe the instance, restore into a fresh one;
the tokens still answer, an identity opens with the custodian key, the audit log holds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from bot import create_app
from bot.cli import main
from emulator.client import Emulator, LineUser
from emulator.server import EmulatorServer
from store import repo
from store.backup import write_key_file
from store.models import VaultKey
from tests.conftest import Bot, Chat, Clock, Keys, texts_of
from tests.test_report_end_to_end import (
    ENGLISH,
    file_anonymous_thai_report_with_photo,
    file_confidential_english_report,
)
from tests.test_reseal import cli_env


def wipe(url: str) -> None:
    """The lost disk: nothing of the database is left."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for each in path.parent.glob(path.name + "*"):
            each.unlink()
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def start_bot(bot: Bot, line: Emulator, clock: Clock) -> Bot:
    app = create_app(bot.settings, clock=clock)
    server = EmulatorServer(app).start()
    line.app.config["EMULATOR_WEBHOOK_URL"] = server.url + "/callback"  # type: ignore[attr-defined]
    return Bot(app, server, bot.settings)


def test_restore_drill(
    bot: Bot,
    chat: Chat,
    new_chat: Callable[[], Chat],
    line: Emulator,
    clock: Clock,
    keys: Keys,
    tmp_path: Path,
) -> None:
    confidential = file_confidential_english_report(chat)
    anonymous = file_anonymous_thai_report_with_photo(new_chat())
    with bot.runtime.db.transaction() as session:
        repo.audit(session, actor="admin", action="case.view", now=datetime.now(UTC), case_id=1)

    with bot.runtime.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(VaultKey)), "keys in the vault"

    env = cli_env(bot, keys, tmp_path)
    runner = CliRunner(env=env)
    backups = tmp_path / "backups"  # where the backups go; the key is kept elsewhere
    backups.mkdir()
    key_file = tmp_path / "keys-apart" / "backup_key.txt"
    key_file.parent.mkdir(mode=0o700)
    out = backups / "krasip-1.backup"
    made = runner.invoke(main, ["backup", "--out", str(out), "--key-file", str(key_file)])
    assert made.exit_code == 0, made.output
    assert "backup written" in made.output and "keep it apart" in made.output
    assert key_file.stat().st_mode & 0o077 == 0 and out.stat().st_mode & 0o077 == 0
    stored = out.read_bytes()
    assert confidential.case_number.encode() not in stored, "the snapshot is encrypted"
    assert b"CREATE TABLE" not in stored and b"alembic_version" not in stored

    # Restoring over the live database is refused, and changes nothing.
    restore = ["restore", str(out), "--key-file", str(key_file)]
    refused = runner.invoke(main, restore)
    assert refused.exit_code != 0 and "not empty" in refused.output

    bot.server.stop()
    bot.runtime.db.dispose()
    wipe(bot.settings.database_url)

    # A wrong key, or a changed byte, restores nothing.
    tampered = tmp_path / "tampered.backup"
    flipped = bytearray(stored)
    flipped[-40] ^= 1
    tampered.write_bytes(bytes(flipped))
    changed = runner.invoke(main, ["restore", str(tampered), "--key-file", str(key_file)])
    assert changed.exit_code != 0 and "does not open" in changed.output
    other_key = tmp_path / "other_key.txt"
    write_key_file(other_key)
    wrong = runner.invoke(main, ["restore", str(out), "--key-file", str(other_key)])
    assert wrong.exit_code != 0 and "wrong backup key" in wrong.output

    restored = runner.invoke(main, restore)
    assert restored.exit_code == 0, restored.output

    fresh = start_bot(bot, line, clock)
    with fresh.runtime.db.reading() as session:
        # The vault's keys exist to be destroyed: a backup never keeps them.
        assert session.scalar(select(func.count()).select_from(VaultKey)) == 0
    try:
        for filed in (confidential, anonymous):
            asker = Chat(LineUser(line.url, "U" + uuid.uuid4().hex), fresh)
            card = texts_of(asker.say(filed.token))
            assert filed.case_number in card, "the token still answers after the restore"

        opening = runner.invoke(
            main,
            [
                "keys",
                "open",
                confidential.case_number,
                "--private-key",
                str(keys.private_key_file),
                "--actor",
                "custodian-1",
                "--reason",
                "restore drill: identity must open",
            ],
            input=keys.passphrase + "\n",
        )
        assert opening.exit_code == 0, opening.output
        assert ENGLISH["name"] in opening.output

        verified = runner.invoke(main, ["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        assert "intact" in verified.output
    finally:
        fresh.server.stop()
        fresh.runtime.close()
