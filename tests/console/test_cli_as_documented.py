"""The commands a newcomer copies from the README work as written, and fail loudly
(issue 14, item 16)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from store import staff
from tests.conftest import ACCESS_TOKEN


def _env(bot: Any, keys: Any, **extra: str) -> dict[str, str]:
    material = keys.material
    return {
        "KRASIP_ENV": "production",
        "DATABASE_URL": bot.settings.database_url,
        "SECRET_KEY": "x" * 32,
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "KRASIP_IDENTITY_PUBLIC_KEY": material.identity_public,
        "KRASIP_DATA_KEYS": material.data_keys,
        "KRASIP_LOOKUP_PEPPER": material.pepper,
        # The audit keys, where this tree's key material has them (issue 13).
        **{
            name: str(getattr(material, attr))
            for name, attr in (
                ("KRASIP_AUDIT_KEY", "audit_key"),
                ("KRASIP_AUDIT_SIGNING_KEY", "audit_signing_key"),
            )
            if getattr(material, attr, None)
        },
        **extra,
    }


def _password_file(tmp_path: Path, password: str) -> str:
    path = tmp_path / "password"
    path.write_text(password + "\n")
    return str(path)


def test_staff_add_without_a_name_uses_the_username(bot: Any, keys: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["staff", "add", "somsri", "--role", "staff", "--password-file"]
        + [_password_file(tmp_path, "twelve chars ok")],
        env=_env(bot, keys),
    )
    assert result.exit_code == 0, result.output
    with bot.runtime.db.transaction() as session:
        user = staff.find_user(session, "somsri")
        assert user is not None and user.display_name == "somsri"


def test_staff_add_refuses_a_password_under_twelve_characters(
    bot: Any, keys: Any, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main,
        ["staff", "add", "somchai", "--role", "admin", "--name", "สมชาย", "--password-file"]
        + [_password_file(tmp_path, "elevenchars")],
        env=_env(bot, keys),
    )
    assert result.exit_code != 0
    assert "12 characters" in result.output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_richmenu_with_nothing_listening_says_it_could_not_reach_line(bot: Any, keys: Any) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(
        main,
        ["richmenu"],
        env=_env(bot, keys, LINE_API_BASE_URL=url, LINE_DATA_API_BASE_URL=url),
    )
    assert result.exit_code != 0
    assert "could not reach LINE" in result.output and url in result.output
    assert "refused" not in result.output


def test_richmenu_says_line_refused_and_fails_when_line_says_no(
    bot: Any, keys: Any, line: Any
) -> None:
    line.faults("/v2/bot/richmenu", status=400, body={"message": "Invalid rich menu"})
    result = CliRunner().invoke(
        main,
        ["richmenu"],
        env=_env(bot, keys, LINE_API_BASE_URL=line.url, LINE_DATA_API_BASE_URL=line.url),
    )
    assert result.exit_code != 0
    assert "LINE refused the rich menu: HTTP 400" in result.output


def test_richmenu_installs_through_the_emulator(bot: Any, keys: Any, line: Any) -> None:
    result = CliRunner().invoke(
        main,
        ["richmenu"],
        env=_env(bot, keys, LINE_API_BASE_URL=line.url, LINE_DATA_API_BASE_URL=line.url),
    )
    assert result.exit_code == 0, result.output
    assert "is now the default" in result.output


def test_serve_documents_its_ports() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--emulator-port" in result.output
