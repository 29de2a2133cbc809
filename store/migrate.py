"""Schema migrations (Alembic), run by `krasip init` and the Procfile's release step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

from store.keys import private_folder

if TYPE_CHECKING:
    from store.crypto import Keyring

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class MigrationNeedsKeys(RuntimeError):
    """A migration must re-encrypt stored rows and was run without the server's keys."""


def upgrade(url: str, revision: str = "head", keyring: Keyring | None = None) -> None:
    """Bring the database at ``url`` up to ``revision`` (creating it when empty).

    Migrations that rewrite ciphertexts read the server's keys from ``keyring``; on a
    database holding such rows they refuse to run without it.
    """
    if url.startswith("sqlite:///"):
        private_folder(Path(url.removeprefix("sqlite:///")).parent)
    config = alembic_config(url)
    config.attributes["keyring"] = keyring
    command.upgrade(config, revision)


def keyring_for(config: Config, what: str) -> Keyring:
    """The keys given to :func:`upgrade`, for a migration that must re-encrypt ``what``."""
    keyring = config.attributes.get("keyring")
    if keyring is None:
        raise MigrationNeedsKeys(
            f"this migration re-encrypts {what}: run it with the server's keys (`krasip init`)"
        )
    return keyring  # type: ignore[no-any-return]


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
