"""Keys: sealing, rotation, start-up refusal without secrets, custodian opening with audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot import create_app
from bot.cli import main
from bot.config import ConfigError, load_settings
from store import migrate, repo
from store.crypto import (
    CryptoError,
    DataKeyring,
    IdentityPrivateKey,
    WrongPassphrase,
    new_data_key,
)
from store.db import Database
from store.keys import generate_keys
from store.models import AuditEntry
from tests.conftest import Keys


def test_sealed_identity_opens_only_with_the_private_key() -> None:
    custodian = IdentityPrivateKey.generate()
    stranger = IdentityPrivateKey.generate()
    identity = {"name": "สมหญิง ใจกล้า", "contact": "0812345678"}
    sealed = custodian.public_key().seal(identity, "KRS-2026-000001")
    assert "สมหญิง".encode() not in sealed
    assert custodian.open(sealed, "KRS-2026-000001")["name"] == "สมหญิง ใจกล้า"
    with pytest.raises(CryptoError):
        stranger.open(sealed, "KRS-2026-000001")


def test_private_key_file_needs_the_passphrase(keys: Keys) -> None:
    data = keys.private_key_file.read_bytes()
    with pytest.raises(WrongPassphrase):
        IdentityPrivateKey.from_encrypted_file(data, "not the passphrase at all")
    opened = IdentityPrivateKey.from_encrypted_file(data, keys.passphrase)
    assert opened.public_key().to_text() == keys.material.identity_public


def test_rotated_data_keys_still_open_old_ciphertext() -> None:
    old, new = new_data_key("k1"), new_data_key("k2")
    before = DataKeyring([old]).encrypt_text("หลักฐาน", "case.content")
    rotated = DataKeyring([new, old])
    assert rotated.decrypt_text(before, "case.content") == "หลักฐาน"
    after = rotated.encrypt_text("หลักฐาน", "case.content")
    assert rotated.current_id == "k2"
    with pytest.raises(CryptoError):
        DataKeyring([old]).decrypt_text(after, "case.content")


def test_ciphertext_cannot_be_moved_to_another_column() -> None:
    ring = DataKeyring([new_data_key("k1")])
    blob = ring.encrypt_text("x", "case.content")
    with pytest.raises(CryptoError):
        ring.decrypt_text(blob, "case.public_note")


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"KRASIP_ENV": "production", "KRASIP_INSTANCE": str(tmp_path)})
    message = str(info.value)
    for name in (
        "LINE_CHANNEL_SECRET",
        "LINE_CHANNEL_ACCESS_TOKEN",
        "SECRET_KEY",
        "KRASIP_DATA_KEYS",
        "KRASIP_LOOKUP_PEPPER",
        "KRASIP_IDENTITY_PUBLIC_KEY",
        "KRASIP_AUDIT_KEY",
        "KRASIP_AUDIT_SIGNING_KEY",
    ):
        assert name in message
    with pytest.raises(ConfigError):
        create_app({"env": "production", "instance_path": tmp_path})


def _production_env(tmp_path: Path, keys_folder: Path) -> dict[str, str]:
    return {
        "KRASIP_ENV": "production",
        "KRASIP_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "SECRET_KEY": "s" * 40,
        "LINE_CHANNEL_SECRET": "c" * 32,
        "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40,
        "KRASIP_IDENTITY_PUBLIC_KEY_FILE": str(keys_folder / "identity_public.txt"),
        "KRASIP_DATA_KEYS_FILE": str(keys_folder / "data_keys.txt"),
        "KRASIP_LOOKUP_PEPPER_FILE": str(keys_folder / "lookup_pepper.txt"),
        "KRASIP_AUDIT_KEY_FILE": str(keys_folder / "audit_key.txt"),
        "KRASIP_AUDIT_SIGNING_KEY_FILE": str(keys_folder / "audit_signing_key.txt"),
    }


def test_production_reads_keys_from_mounted_files(tmp_path: Path) -> None:
    generate_keys(tmp_path / "keys", "a long custodian passphrase")
    settings = load_settings(_production_env(tmp_path, tmp_path / "keys"))
    assert settings.keys is not None
    assert settings.keys.keyring().identity.raw
    shown = repr(settings)
    assert settings.keys.pepper not in shown and settings.keys.data_keys not in shown
    assert "c" * 32 not in shown and "t" * 40 not in shown


def test_keys_generate_prints_the_passphrase_once_and_never_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["keys", "generate", "--out", str(tmp_path / "k")])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "k" / "identity_private.json").stat().st_mode & 0o077 == 0
    again = runner.invoke(main, ["keys", "generate", "--out", str(tmp_path / "k")])
    assert again.exit_code != 0
    assert "refusing to overwrite" in again.output


def _file_confidential_case(tmp_path: Path, keys_folder: Path) -> str:
    env = _production_env(tmp_path, keys_folder)
    migrate.upgrade(env["DATABASE_URL"])
    keyring = load_settings(env).keys.keyring()  # type: ignore[union-attr]
    db = Database(env["DATABASE_URL"])
    with db.transaction() as session:
        created = repo.create_case(
            session,
            keyring,
            now=datetime.now(UTC),
            token="AAAA-BBBB-CCCC-DDDD",
            channel="line",
            lang="th",
            category="money",
            district_code="1004",
            anonymous=False,
            meets_anonymous_bar=True,
            content={"description": "x"},
            identity={"name": "Somchai Jaidee", "contact": "0812345678"},
            notify_user_id=None,
        )
    db.dispose()
    return created.number


def test_custodian_opens_an_identity_and_the_opening_is_audited(tmp_path: Path) -> None:
    passphrase = "custodian passphrase 42"
    generate_keys(tmp_path / "keys", passphrase)
    number = _file_confidential_case(tmp_path, tmp_path / "keys")
    env = _production_env(tmp_path, tmp_path / "keys")
    runner = CliRunner(env=env)
    args = [
        "keys",
        "open",
        number,
        "--private-key",
        str(tmp_path / "keys/identity_private.json"),
        "--actor",
        "custodian-1",
        "--reason",
        "NACC referral requires the complainant",
    ]

    refused = runner.invoke(main, args, input="wrong passphrase\n")
    assert refused.exit_code != 0
    assert "Somchai" not in refused.output

    opened = runner.invoke(main, args, input=passphrase + "\n")
    assert opened.exit_code == 0, opened.output
    assert "Somchai Jaidee" in opened.output

    audit_keys = load_settings(env).keys.audit_keys()  # type: ignore[union-attr]
    db = Database(env["DATABASE_URL"], audit=audit_keys)
    with db.transaction() as session:
        entries = session.scalars(select(AuditEntry)).all()
        assert [(e.actor, e.action) for e in entries] == [("custodian-1", "identity.open")]
        assert "NACC referral" in entries[0].detail
        assert repo.verify_audit(session) == []
    db.dispose()
    verified = runner.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_a_changed_audit_entry_is_detected(tmp_path: Path, keys: Keys) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    migrate.upgrade(url)
    db = Database(url, audit=keys.material.audit_keys())
    now = datetime.now(UTC)
    with db.transaction() as session:
        for n in range(3):
            repo.audit(session, actor="admin", action="case.view", now=now, case_id=n)
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="someone"))
    with db.transaction() as session:
        problems = repo.verify_audit(session)
    assert problems == ["entry 2: its content was changed, or it was not written here"]
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="admin"))
        session.delete(session.get(AuditEntry, 2))
    with db.transaction() as session:
        assert repo.verify_audit(session) == ["entry 3: does not follow the entry before it"]
    db.dispose()
