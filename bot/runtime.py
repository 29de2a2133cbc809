"""The long-lived parts a process needs: database, keys, LINE gateway, outbox sender."""

from __future__ import annotations

import atexit
import gc
import weakref
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
        _LIVE[id(self)] = self

    @property
    def limits(self) -> Limits:
        return Limits(
            draft_ttl=self.settings.draft_ttl,
            max_media_items=self.settings.media_max_items,
            max_file_bytes=self.settings.media_max_bytes,
            case_max_files=self.settings.case_max_files,
            case_max_bytes=self.settings.case_max_bytes,
            case_max_messages_per_day=self.settings.case_max_messages_per_day,
        )

    def start_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self.sender, self.settings.sender_threads)
        return self.dispatcher

    def close(self) -> None:
        """Send and record what is in hand, retire the sender, close the database. Run at
        the process's exit too: a gunicorn worker stopped by SIGTERM (a deploy, a scale
        down) records what LINE accepted instead of leaving it to be sent again."""
        _LIVE.pop(id(self), None)
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
        self.sender.close()
        self.db.dispose()


_LIVE: weakref.WeakValueDictionary[int, Runtime] = weakref.WeakValueDictionary()


@atexit.register
def _close_at_exit() -> None:
    # After threading's own exit step has let the send threads finish their requests.
    for runtime in list(_LIVE.values()):
        runtime.close()


def build_runtime(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Runtime:
    if settings.keys is None:
        raise ConfigError(
            "no keys found: run `krasip init` for development keys, or configure "
            "KRASIP_IDENTITY_PUBLIC_KEY, KRASIP_DATA_KEYS and KRASIP_LOOKUP_PEPPER"
        )
    try:
        keys = settings.keys.keyring()
        audit = settings.keys.audit_keys()
    except CryptoError as exc:
        raise ConfigError(f"the configured keys are not usable: {exc}") from exc
    database = Database(settings.database_url, audit=audit)
    return Runtime(settings, database, keys, LineGateway(settings), clock)


def keep_start_up_out_of_collections() -> None:
    """In a web worker once the app is loaded (gunicorn.conf.py): what start-up made
    (modules, SQLAlchemy's tables, the SDK) lives as long as the process, so a full
    collection need not walk it again each time. One walked it for 91–167 ms
    (temporary timing, bench/RESULTS.md, fifth round)."""
    gc.collect()
    gc.freeze()
