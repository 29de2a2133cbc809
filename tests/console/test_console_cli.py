"""`krasip staff …` and `krasip report monthly`."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
from click.testing import CliRunner
from consolekit import file_case

from bot.cli import main
from store import staff


def _env(bot, keys) -> dict[str, str]:
    material = keys.material
    return {
        "KRASIP_ENV": "production",
        "DATABASE_URL": bot.settings.database_url,
        "SECRET_KEY": "x" * 32,
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "KRASIP_IDENTITY_PUBLIC_KEY": material.identity_public,
        "KRASIP_DATA_KEYS": material.data_keys,
        "KRASIP_LOOKUP_PEPPER": material.pepper,
        "KRASIP_AUDIT_KEY": material.audit_key,
        "KRASIP_AUDIT_SIGNING_KEY": material.audit_signing_key,
    }


def test_staff_add_list_disable(bot, keys, tmp_path) -> None:
    runner = CliRunner()
    env = _env(bot, keys)
    password = tmp_path / "pw"
    password.write_text("a long enough password\n")
    added = runner.invoke(
        main,
        [
            "staff",
            "add",
            "Kanya",
            "--role",
            "custodian",
            "--name",
            "กันยา",
            "--password-file",
            str(password),
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    secret = added.stderr.split("secret: ")[1].split()[0]
    assert "otpauth://totp/" in added.stderr
    with bot.runtime.db.transaction() as session:
        user = staff.find_user(session, "kanya")
        assert user is not None and user.role == "custodian"
        assert staff.check_password(user, "a long enough password")
        assert staff.check_totp(bot.runtime.keys, user, pyotp.TOTP(secret).now(), datetime.now(UTC))
    plain = runner.invoke(
        main,
        [
            "staff",
            "add",
            "somsri",
            "--role",
            "staff",
            "--name",
            "สมศรี",
            "--password-file",
            str(password),
        ],
        env=env,
    )
    # Every role reads report content, so staff get a second factor too.
    assert plain.exit_code == 0 and "secret: " in plain.stderr
    assert runner.invoke(main, ["staff", "reset-totp", "kanya"], env=env).exit_code == 0
    new_password = password.parent / "new_password.txt"
    new_password.write_text("another long enough password\n")
    changed = runner.invoke(
        main, ["staff", "password", "kanya", "--password-file", str(new_password)], env=env
    )
    assert changed.exit_code == 0, changed.output
    with bot.runtime.db.transaction() as session:
        user = staff.find_user(session, "kanya")
        assert user is not None and user.totp_secret_ct is None and not user.totp_confirmed
        assert staff.check_password(user, "another long enough password")
    listing = runner.invoke(main, ["staff", "list"], env=env)
    assert "kanya" in listing.output and "somsri" in listing.output
    assert runner.invoke(main, ["staff", "disable", "somsri"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(main, ["staff", "list"], env=env).output
    taken = runner.invoke(
        main,
        [
            "staff",
            "add",
            "kanya",
            "--role",
            "staff",
            "--name",
            "x",
            "--password-file",
            str(password),
        ],
        env=env,
    )
    assert taken.exit_code != 0 and "taken" in taken.output


def test_report_monthly_counts_the_month(bot, keys) -> None:
    for _ in range(2):
        file_case(
            bot,
            channel="traffy_fondue",
            category="other",
            filed_at=datetime(2023, 2, 10, 3, tzinfo=UTC),
        )
    file_case(bot, channel="executives", filed_at=datetime(2023, 3, 10, 3, tzinfo=UTC))
    result = CliRunner().invoke(
        main, ["report", "monthly", "--year", "2566", "--month", "2", "--csv"], env=_env(bot, keys)
    )
    assert result.exit_code == 0, result.output
    assert "total,,,2" in result.output
    assert "channel_category,traffy_fondue,other,2" in result.output
    assert "executives" not in result.output
