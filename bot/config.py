"""Settings: read from the environment once, validated, frozen. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from store.crypto import CryptoError
from store.keys import (
    AUDIT_KEY,
    AUDIT_SIGNING_KEY,
    IDENTITY_PUBLIC,
    KeyMaterial,
    dev_secret_key,
    ensure_audit_keys,
    read_folder,
)

# Placeholders for the local emulator only: outside development these must be configured.
DEV_CHANNEL_SECRET = "krasip-dev-channel-secret"  # noqa: S105
DEV_ACCESS_TOKEN = "krasip-dev-access-token"  # noqa: S105
DEV_EMULATOR_URL = "http://127.0.0.1:8090"


# Processed event ids are kept under today's and yesterday's day keys: at least 24 hours.
MAX_EVENT_AGE_LIMIT = timedelta(hours=24)


class ConfigError(Exception):
    """The configuration is incomplete or wrong; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    instance_path: Path = Path("instance")
    database_url: str = ""
    secret_key: str = ""
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base_url: str = "https://api.line.me"
    line_data_api_base_url: str = "https://api-data.line.me"
    keys: KeyMaterial | None = field(default=None, repr=False)
    max_body_bytes: int = 1024 * 1024
    draft_ttl: timedelta = timedelta(hours=24)
    reply_ttl: timedelta = timedelta(seconds=50)
    outbox_max_attempts: int = 12
    send_after_commit: bool = True
    sender_threads: int = 4
    media_max_bytes: int = 25 * 1024 * 1024
    media_max_items: int = 10
    lookup_global_ceiling: int = 300  # wrong tokens from everyone in the window
    # Per case, over its whole life (with the report and after every lookup): files sent,
    # bytes stored, and reporter messages a day (issue 13, finding 8).
    case_max_files: int = 30
    case_max_bytes: int = 200 * 1024 * 1024
    case_max_messages_per_day: int = 20
    # Staff hear of one case's new messages and files at most once per this, with counts.
    staff_notice_interval: timedelta = timedelta(minutes=10)
    # Older webhook events are dropped. At most MAX_EVENT_AGE_LIMIT: an event id is
    # remembered (against redelivery and replay) for at least that long.
    webhook_max_event_age: timedelta = timedelta(hours=12)
    worker_poll_seconds: float = 1.0
    # Seconds a webhook event may wait for a database lock before the webhook answers 503
    # (LINE waits 2 s, then redelivers what was not answered 200).
    # Seconds a webhook event waits for a database lock; 0: 1 s on SQLite (its writer lock
    # is queued behind every event), 0.5 s on PostgreSQL (row locks are rarely waited on).
    webhook_db_wait: float = 0.0
    # Events one web process handles at once; 0: two on SQLite (one writer at a time
    # anyway), four on PostgreSQL. The rest queue in memory, in order, within the 2 s.
    webhook_concurrency: int = 0
    deadline_check_every: timedelta = timedelta(minutes=15)
    line_timeout_seconds: float = 10.0
    public_url: str = "http://127.0.0.1:5000"
    # Printed on the intake slip so a paper reporter can find the bot (issue 14, item 14).
    line_id: str = ""  # the bot's LINE ID, e.g. "@krasip"
    contact_website: str = ""  # the BMA's complaints website, for people without LINE

    @property
    def add_friend_url(self) -> str:
        """LINE's add-friend link for the bot's ID ("" when no ID is configured)."""
        return f"https://line.me/R/ti/p/{quote(self.line_id, safe='@')}" if self.line_id else ""

    # Signed audit checkpoints: appended to this file (default: in the instance folder)
    # and pushed to the admins on LINE, once per interval.
    audit_checkpoint_log: Path | None = None
    audit_checkpoint_every: timedelta = timedelta(hours=24)
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* are believed
    # Retention (store/retention.py): after a case closes, its sealed identity is destroyed
    # after these days and its content purged after these years (README, "Retention").
    identity_retention_days: int = 90
    content_retention_years: int = 10

    @property
    def development(self) -> bool:
        return self.env == "development"

    def __repr__(self) -> str:  # never print secrets
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name in _PUBLIC_FIELDS}
        return f"Settings({shown})"


_PUBLIC_FIELDS = {
    "env",
    "instance_path",
    "line_api_base_url",
    "line_data_api_base_url",
    "max_body_bytes",
    "draft_ttl",
    "outbox_max_attempts",
    "public_url",
    "line_id",
}


def _read_secret(environ: Mapping[str, str], name: str) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (mounted secrets)."""
    value = environ.get(name)
    if value:
        return value.strip()
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    return None


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def _file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    audit_optional: bool = False,
) -> Settings:
    """Build the settings from the environment (``.env`` is read by the CLI before this)."""
    env_vars = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    env = overrides.pop("env", None) or env_vars.get("KRASIP_ENV", "production")
    if env not in ("development", "production"):
        raise ConfigError("KRASIP_ENV must be 'development' or 'production'")
    dev = env == "development"
    instance = Path(
        overrides.pop("instance_path", None) or env_vars.get("KRASIP_INSTANCE") or "instance"
    ).resolve()

    missing = []

    def secret(name: str, dev_default: str) -> str:
        value = _read_secret(env_vars, name)
        if value:
            return value
        if dev:
            return dev_default
        missing.append(name)
        return ""

    secret_key = overrides.get("secret_key") or _read_secret(env_vars, "SECRET_KEY")
    if not secret_key and dev:
        # Random per instance folder, never a constant: anyone can read the source.
        try:
            secret_key = dev_secret_key(instance)
        except OSError as exc:
            raise ConfigError(f"cannot keep a secret key in {instance}: {exc.strerror}") from exc
    elif not secret_key:
        missing.append("SECRET_KEY")

    settings = Settings(
        env=env,
        instance_path=instance,
        database_url=env_vars.get("DATABASE_URL") or f"sqlite:///{instance / 'krasip.sqlite3'}",
        secret_key=secret_key or "",
        line_channel_secret=secret("LINE_CHANNEL_SECRET", DEV_CHANNEL_SECRET),
        line_channel_access_token=secret("LINE_CHANNEL_ACCESS_TOKEN", DEV_ACCESS_TOKEN),
        line_api_base_url=env_vars.get("LINE_API_BASE_URL")
        or (DEV_EMULATOR_URL if dev else "https://api.line.me"),
        line_data_api_base_url=env_vars.get("LINE_DATA_API_BASE_URL")
        or env_vars.get("LINE_API_BASE_URL")
        or (DEV_EMULATOR_URL if dev else "https://api-data.line.me"),
        max_body_bytes=_int(env_vars, "KRASIP_MAX_BODY_BYTES", 1024 * 1024),
        draft_ttl=timedelta(hours=_int(env_vars, "KRASIP_DRAFT_TTL_HOURS", 24)),
        outbox_max_attempts=_int(env_vars, "KRASIP_OUTBOX_MAX_ATTEMPTS", 12),
        sender_threads=_int(env_vars, "KRASIP_SENDER_THREADS", 4),
        webhook_db_wait=_int(env_vars, "KRASIP_WEBHOOK_DB_WAIT_MS", 0) / 1000,
        webhook_concurrency=_int(env_vars, "KRASIP_WEBHOOK_CONCURRENCY", 0),
        media_max_bytes=_int(env_vars, "KRASIP_MEDIA_MAX_BYTES", 25 * 1024 * 1024),
        media_max_items=_int(env_vars, "KRASIP_MEDIA_MAX_ITEMS", 10),
        lookup_global_ceiling=_int(env_vars, "KRASIP_LOOKUP_GLOBAL_CEILING", 300),
        case_max_files=_int(env_vars, "KRASIP_CASE_MAX_FILES", 30),
        case_max_bytes=_int(env_vars, "KRASIP_CASE_MAX_MB", 200) * 1024 * 1024,
        case_max_messages_per_day=_int(env_vars, "KRASIP_CASE_MAX_MESSAGES_PER_DAY", 20),
        staff_notice_interval=timedelta(minutes=_int(env_vars, "KRASIP_STAFF_NOTICE_MINUTES", 10)),
        webhook_max_event_age=timedelta(
            minutes=_int(env_vars, "KRASIP_WEBHOOK_MAX_EVENT_AGE_MINUTES", 12 * 60)
        ),
        public_url=env_vars.get("KRASIP_PUBLIC_URL", "http://127.0.0.1:5000"),
        line_id=env_vars.get("KRASIP_LINE_ID", "@krasip" if dev else "").strip(),
        contact_website=env_vars.get("KRASIP_CONTACT_WEBSITE", "").strip(),
        trusted_proxies=_int(env_vars, "KRASIP_TRUSTED_PROXIES", 0),
        deadline_check_every=timedelta(minutes=_int(env_vars, "KRASIP_DEADLINE_CHECK_MINUTES", 15)),
        audit_checkpoint_log=Path(
            env_vars.get("KRASIP_AUDIT_CHECKPOINT_LOG") or instance / "audit-checkpoints.log"
        ),
        audit_checkpoint_every=timedelta(hours=_int(env_vars, "KRASIP_AUDIT_CHECKPOINT_HOURS", 24)),
        identity_retention_days=_int(env_vars, "KRASIP_IDENTITY_RETENTION_DAYS", 90),
        content_retention_years=_int(env_vars, "KRASIP_CONTENT_RETENTION_YEARS", 10),
    )
    if overrides:
        settings = replace(settings, **overrides)
    if not timedelta(0) < settings.webhook_max_event_age <= MAX_EVENT_AGE_LIMIT:
        raise ConfigError(
            "KRASIP_WEBHOOK_MAX_EVENT_AGE_MINUTES must be between 1 and 1440: older events "
            "would no longer be recognised as already handled, so a replayed one would act"
        )
    if settings.identity_retention_days < 1 or settings.content_retention_years < 1:
        raise ConfigError(
            "KRASIP_IDENTITY_RETENTION_DAYS and KRASIP_CONTENT_RETENTION_YEARS must be at least 1"
        )
    if settings.keys is None:
        settings = replace(settings, keys=_key_material(env_vars, settings, missing))
    if audit_optional:  # `audit verify` says itself what it cannot check without them
        missing = [name for name in missing if not name.startswith("KRASIP_AUDIT_")]
    if missing:
        raise ConfigError(
            "missing configuration for production: "
            + ", ".join(sorted(set(missing)))
            + " (set them in the environment or as NAME_FILE pointing to a mounted file; "
            "see README, 'Configuration')"
        )
    return settings


def _key_material(
    environ: Mapping[str, str], settings: Settings, missing: list[str]
) -> KeyMaterial | None:
    names = ("KRASIP_IDENTITY_PUBLIC_KEY", "KRASIP_DATA_KEYS", "KRASIP_LOOKUP_PEPPER")
    values = [_read_secret(environ, name) for name in names]
    audit_names = ("KRASIP_AUDIT_KEY", "KRASIP_AUDIT_SIGNING_KEY")
    audit = [_read_secret(environ, name) for name in audit_names]
    folder = settings.instance_path / "keys"
    if all(values):
        if settings.development and not all(audit):
            # Like the development SECRET_KEY: made once in the instance folder.
            ensure_audit_keys(folder)
            audit = [
                audit[0] or _file(folder / AUDIT_KEY),
                audit[1] or _file(folder / AUDIT_SIGNING_KEY),
            ]
        missing.extend(n for n, v in zip(audit_names, audit, strict=True) if not v)
        return KeyMaterial(
            *values,  # type: ignore[arg-type]
            *(v or "" for v in audit),
            old_peppers=_read_secret(environ, "KRASIP_OLD_LOOKUP_PEPPERS") or "",
        )
    if settings.development:
        try:
            if (folder / IDENTITY_PUBLIC).exists():
                ensure_audit_keys(folder)  # a folder made before the audit keys existed
            return read_folder(folder)
        except CryptoError:
            return None  # `krasip init` creates them; create_app says so clearly
    missing.extend(name for name, value in zip(names, values, strict=True) if not value)
    missing.extend(name for name, value in zip(audit_names, audit, strict=True) if not value)
    return None
