"""Settings: read from the environment once, validated, frozen. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from store.crypto import CryptoError
from store.keys import KeyMaterial, dev_secret_key, read_folder

# Placeholders for the local emulator only: outside development these must be configured.
DEV_CHANNEL_SECRET = "krasip-dev-channel-secret"  # noqa: S105
DEV_ACCESS_TOKEN = "krasip-dev-access-token"  # noqa: S105
DEV_EMULATOR_URL = "http://127.0.0.1:8090"


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
    worker_poll_seconds: float = 1.0
    deadline_check_every: timedelta = timedelta(minutes=15)
    line_timeout_seconds: float = 10.0
    public_url: str = "http://127.0.0.1:5000"

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


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
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
        media_max_bytes=_int(env_vars, "KRASIP_MEDIA_MAX_BYTES", 25 * 1024 * 1024),
        media_max_items=_int(env_vars, "KRASIP_MEDIA_MAX_ITEMS", 10),
        lookup_global_ceiling=_int(env_vars, "KRASIP_LOOKUP_GLOBAL_CEILING", 300),
        public_url=env_vars.get("KRASIP_PUBLIC_URL", "http://127.0.0.1:5000"),
        deadline_check_every=timedelta(minutes=_int(env_vars, "KRASIP_DEADLINE_CHECK_MINUTES", 15)),
    )
    if overrides:
        settings = replace(settings, **overrides)
    if settings.keys is None:
        settings = replace(settings, keys=_key_material(env_vars, settings, missing))
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
    if all(values):
        return KeyMaterial(*values)  # type: ignore[arg-type]
    if settings.development:
        folder = settings.instance_path / "keys"
        try:
            return read_folder(folder)
        except CryptoError:
            return None  # `krasip init` creates them; create_app says so clearly
    missing.extend(name for name, value in zip(names, values, strict=True) if not value)
    return None
