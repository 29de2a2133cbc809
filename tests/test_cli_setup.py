"""Setting up: `krasip init` on a fresh folder, and the rich menu on LINE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from bot.cli import main
from bot.richmenu import install_rich_menu
from store import migrate
from tests.conftest import ACCESS_TOKEN, Bot


def test_init_creates_the_database_and_development_keys_once(tmp_path: Path) -> None:
    env = {"KRASIP_INSTANCE": str(tmp_path / "instance")}
    runner = CliRunner(env=env)
    first = runner.invoke(main, ["init"])
    assert first.exit_code == 0, first.output
    assert "DEVELOPMENT KEYS" in first.output
    keys = tmp_path / "instance" / "keys"
    assert (keys / "identity_private.json").stat().st_mode & 0o077 == 0
    assert migrate.current(f"sqlite:///{tmp_path / 'instance' / 'krasip.sqlite3'}") is not None
    public = (keys / "identity_public.txt").read_text()

    again = runner.invoke(main, ["init"])
    assert again.exit_code == 0 and "DEVELOPMENT KEYS" not in again.output
    assert (keys / "identity_public.txt").read_text() == public, "existing keys are kept"


def test_init_in_production_without_keys_says_what_is_missing(tmp_path: Path) -> None:
    runner = CliRunner(env={"KRASIP_ENV": "production", "KRASIP_INSTANCE": str(tmp_path)})
    result = runner.invoke(main, ["init"])
    assert result.exit_code != 0
    assert "KRASIP_DATA_KEYS" in result.output and "LINE_CHANNEL_SECRET" in result.output
    assert not (tmp_path / "keys").exists()


def test_the_rich_menu_is_installed_as_every_users_default(bot: Bot, line: Any) -> None:
    menu_id = install_rich_menu(bot.settings)
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    default = requests.get(f"{line.url}/v2/bot/user/all/richmenu", headers=headers, timeout=10)
    assert default.json()["richMenuId"] == menu_id
    menu = requests.get(f"{line.url}/v2/bot/richmenu/{menu_id}", headers=headers, timeout=10)
    actions = [area["action"]["data"] for area in menu.json()["areas"]]
    assert actions == ["s=cmd&v=report", "s=cmd&v=status", "s=cmd&v=help"]


def test_a_rich_menu_tap_during_the_form_is_a_command_not_an_answer(chat: Any) -> None:
    from tests.conftest import texts_of

    chat.say("ร้องเรียน")
    asked = texts_of(chat.last)
    again = texts_of(chat._after(chat.user.tap("s=cmd&v=help", "วิธีใช้")))
    assert again.split("\n")[0] == asked.split("\n")[0], "the current question is asked again"


def test_commands_on_a_development_instance_need_no_krasip_env(tmp_path: Path) -> None:
    instance = str(tmp_path / "instance")
    runner = CliRunner(env={"KRASIP_INSTANCE": instance})
    assert runner.invoke(main, ["init"]).exit_code == 0
    listed = runner.invoke(main, ["staff", "list"])
    assert listed.exit_code == 0, listed.output

    elsewhere = CliRunner(env={"KRASIP_INSTANCE": str(tmp_path / "no-keys-here")})
    refused = elsewhere.invoke(main, ["staff", "list"])
    assert refused.exit_code != 0 and "missing configuration for production" in refused.output
