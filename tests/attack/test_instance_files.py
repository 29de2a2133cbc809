"""Finding 9 (parts): another account on the host could read the instance folder (the
SQLite files were 0644), and development signed console sessions with a constant from the
source. The attacker read the files as another user and forged a cookie with the constant
(the cookie half is in test_console_cookies.py); both now fail."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot import create_app
from bot.cli import main
from bot.config import ConfigError, load_settings
from store.keys import SECRET_KEY_FILE, dev_secret_key


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default umask (022), under which SQLite makes its files world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_development_instance_gets_its_own_random_secret_key(tmp_path: Path) -> None:
    first = load_settings({"KRASIP_ENV": "development", "KRASIP_INSTANCE": str(tmp_path / "a")})
    second = load_settings({"KRASIP_ENV": "development", "KRASIP_INSTANCE": str(tmp_path / "b")})
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 43  # at least 256 bits, URL-safe base64
    assert "krasip" not in first.secret_key
    kept = tmp_path / "a" / SECRET_KEY_FILE
    assert kept.read_text().strip() == first.secret_key
    assert mode(kept) == 0o600 and mode(tmp_path / "a") == 0o700
    # A restart reads the same key back, so staff stay logged in.
    again = load_settings({"KRASIP_ENV": "development", "KRASIP_INSTANCE": str(tmp_path / "a")})
    assert again.secret_key == first.secret_key
    assert not [p for p in (tmp_path / "a").iterdir() if p.name != SECRET_KEY_FILE]


def test_a_key_file_left_readable_is_narrowed_and_an_empty_one_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / SECRET_KEY_FILE).write_text("")
    made = dev_secret_key(folder)
    assert made and (folder / SECRET_KEY_FILE).read_text().strip() == made
    os.chmod(folder / SECRET_KEY_FILE, 0o644)
    assert dev_secret_key(folder) == made
    assert mode(folder / SECRET_KEY_FILE) == 0o600


def test_production_still_requires_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"KRASIP_ENV": "production", "KRASIP_INSTANCE": str(tmp_path / "p")})
    assert not (tmp_path / "p" / SECRET_KEY_FILE).exists()


def test_init_and_start_leave_nothing_readable_by_other_accounts(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    result = CliRunner(env={"KRASIP_INSTANCE": str(instance)}).invoke(main, ["init"])
    assert result.exit_code == 0, result.output

    settings = load_settings({"KRASIP_ENV": "development", "KRASIP_INSTANCE": str(instance)})
    app = create_app(settings)
    runtime = app.extensions["krasip"]
    try:
        with runtime.db.transaction() as session:  # a write, so SQLite opens its log files
            session.execute(text("CREATE TABLE IF NOT EXISTS mode_probe (x INTEGER)"))
            session.execute(text("INSERT INTO mode_probe VALUES (1)"))
        database = instance / "krasip.sqlite3"
        logs = [Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(p.exists() for p in logs), "WAL mode keeps a log and shared memory file"
        assert mode(instance) == 0o700
        assert mode(instance / "keys") == 0o700
        files = [p for p in instance.rglob("*") if p.is_file()]
        turns = Path(f"{database}-writers")  # the writers' turn lock (store/writers.py)
        assert {database, *logs, turns, instance / SECRET_KEY_FILE} <= set(files)
        # identity pair, data keys, pepper; audit key, signing key and its public half
        assert len([p for p in files if p.parent.name == "keys"]) == 7
        readable = {str(p.relative_to(instance)): oct(mode(p)) for p in files if mode(p) != 0o600}
        assert readable == {}
    finally:
        runtime.close()


def test_an_existing_world_readable_database_is_narrowed_on_start(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    assert CliRunner(env={"KRASIP_INSTANCE": str(instance)}).invoke(main, ["init"]).exit_code == 0
    database = instance / "krasip.sqlite3"
    os.chmod(database, 0o644)  # as an instance made before this rule has it
    settings = load_settings({"KRASIP_ENV": "development", "KRASIP_INSTANCE": str(instance)})
    app = create_app(settings)
    try:
        assert mode(database) == 0o600
    finally:
        app.extensions["krasip"].close()
