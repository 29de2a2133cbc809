"""Custodian key rotation: `krasip keys reseal` moves every sealed identity to a new key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from store import repo
from store.crypto import CryptoError, IdentityPrivateKey
from store.models import AuditEntry, Case
from store.reseal import reseal_all
from tests.conftest import Bot, Chat, Keys
from tests.test_report_end_to_end import ENGLISH, file_confidential_english_report


def cli_env(bot: Bot, keys: Keys, tmp_path: Path) -> dict[str, str]:
    """A production command line on the bot's database and the test key files."""
    folder = keys.private_key_file.parent
    return {
        "KRASIP_ENV": "production",
        "KRASIP_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": bot.settings.database_url,
        "SECRET_KEY": "s" * 40,
        "LINE_CHANNEL_SECRET": "c" * 32,
        "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40,
        "KRASIP_IDENTITY_PUBLIC_KEY_FILE": str(folder / "identity_public.txt"),
        "KRASIP_DATA_KEYS_FILE": str(folder / "data_keys.txt"),
        "KRASIP_LOOKUP_PEPPER_FILE": str(folder / "lookup_pepper.txt"),
        "KRASIP_AUDIT_KEY_FILE": str(folder / "audit_key.txt"),
        "KRASIP_AUDIT_SIGNING_KEY_FILE": str(folder / "audit_signing_key.txt"),
    }


def custodian(keys: Keys) -> IdentityPrivateKey:
    return IdentityPrivateKey.from_encrypted_file(
        keys.private_key_file.read_bytes(), keys.passphrase
    )


def file_direct(bot: Bot, n: int) -> str:
    with bot.runtime.db.transaction() as session:
        return repo.create_case(
            session,
            bot.runtime.keys,
            now=datetime.now(UTC),
            token=f"AAAA-BBBB-CCCC-{n:04d}",
            channel="phone",
            lang="th",
            category="money",
            district_code="1004",
            anonymous=False,
            meets_anonymous_bar=True,
            content={"description": "x"},
            identity={"name": f"Reporter {n}", "contact": f"08100000{n:02d}"},
            notify_user_id=None,
        ).number


def opened(bot: Bot, key: IdentityPrivateKey, number: str) -> dict[str, str]:
    with bot.runtime.db.reading() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        held = repo.sealed_identity(bot.runtime.keys, case)
        assert held is not None
        return key.open(held.sealed, held.case_number, draft=held.draft)


class Interrupted(Exception):
    pass


def test_identities_are_resealed_to_a_new_key_resumably(
    bot: Bot, chat: Chat, keys: Keys, tmp_path: Path
) -> None:
    old = custodian(keys)
    in_chat = file_confidential_english_report(chat).case_number  # fields sealed as typed
    numbers = [in_chat] + [file_direct(bot, n) for n in range(4)]
    new = IdentityPrivateKey.generate()
    new_public = tmp_path / "new_identity_public.txt"
    new_public.write_text(new.public_key().to_text() + "\n")

    # Stopped in its second batch: the first batch stays done, the second is rolled back.
    seen = 0

    def stop_in_second_batch(step: int) -> None:
        nonlocal seen
        seen += step
        if seen == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        reseal_all(
            bot.runtime.db,
            bot.runtime.keys,
            old,
            new.public_key(),
            actor="custodian-1",
            clock=lambda: datetime.now(UTC),
            batch_size=2,
            progress=stop_in_second_batch,
        )
    with bot.runtime.db.reading() as session:
        moved = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.identity_key_fingerprint == new.public_key().fingerprint())
        )
    assert moved == 2

    runner = CliRunner(env=cli_env(bot, keys, tmp_path))
    args = ["keys", "reseal", "--private-key", str(keys.private_key_file)]
    wrong = runner.invoke(main, [*args, "--new-public", str(new_public)], input="nope nope\n")
    assert wrong.exit_code != 0 and "passphrase" in wrong.output
    resumed = runner.invoke(
        main,
        [*args, "--new-public", str(new_public), "--actor", "custodian-1"],
        input=keys.passphrase + "\n",
    )
    assert resumed.exit_code == 0, resumed.output
    assert "3 re-sealed" in resumed.output and "2 were already under it" in resumed.output
    assert "KRASIP_IDENTITY_PUBLIC_KEY_FILE" in resumed.output, "says to switch the server"
    assert ENGLISH["name"] not in resumed.output

    assert opened(bot, new, in_chat)["name"] == ENGLISH["name"]
    assert opened(bot, new, numbers[2]) == {"name": "Reporter 1", "contact": "0810000001"}
    for number in numbers:
        with pytest.raises(CryptoError):
            opened(bot, old, number)

    with bot.runtime.db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions.count("identity.reseal") == 5
        assert actions.count("identity.reseal_start") == 2
        assert actions.count("identity.reseal_done") == 1  # the stopped run never finished
        assert repo.verify_audit(session) == []
    again = runner.invoke(
        main, [*args, "--new-public", new.public_key().to_text()], input=keys.passphrase + "\n"
    )
    assert again.exit_code == 0 and "0 re-sealed" in again.output
