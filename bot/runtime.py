"""The long-lived parts a process needs: database, keys, LINE gateway, outbox sender."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import ConfigError, Settings
from bot.line import LineGateway
from bot.outbox import Dispatcher, Sender
from handlers.model import Limits
from store.crypto import CryptoError, Keyring
from store.db import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: Keyring
    gateway: LineGateway
    clock: Callable[[], datetime] = utc_now
    sender: Sender = field(init=False)
    dispatcher: Dispatcher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.sender = Sender(self.db, self.keys, self.gateway, self.settings, self.clock)

    @property
    def limits(self) -> Limits:
        return Limits(
            draft_ttl=self.settings.draft_ttl,
            max_media_items=self.settings.media_max_items,
            max_file_bytes=self.settings.media_max_bytes,
        )

    def start_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self.sender, self.settings.sender_threads)
        return self.dispatcher

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
        self.db.dispose()


def build_runtime(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Runtime:
    if settings.keys is None:
        raise ConfigError(
            "no keys found: run `krasip init` for development keys, or configure "
            "KRASIP_IDENTITY_PUBLIC_KEY, KRASIP_DATA_KEYS and KRASIP_LOOKUP_PEPPER"
        )
    try:
        keys = settings.keys.keyring()
    except CryptoError as exc:
        raise ConfigError(f"the configured keys are not usable: {exc}") from exc
    return Runtime(settings, Database(settings.database_url), keys, LineGateway(settings), clock)
