"""Key files: development keys in the instance folder, production keys from the settings."""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from store.audit import AuditKeys, new_mac_key, new_signing_key, public_key_text
from store.crypto import (
    CryptoError,
    DataKeyring,
    IdentityPrivateKey,
    IdentityPublicKey,
    Keyring,
    Pepper,
    new_data_key,
    new_pepper,
)

IDENTITY_PUBLIC = "identity_public.txt"
IDENTITY_PRIVATE = "identity_private.json"
DATA_KEYS = "data_keys.txt"
PEPPER = "lookup_pepper.txt"
OLD_PEPPERS = "old_lookup_peppers.txt"  # only after a pepper rotation
# The audit keys are kept here with the others, never in the database or its backups.
AUDIT_KEY = "audit_key.txt"
AUDIT_SIGNING_KEY = "audit_signing_key.txt"
AUDIT_SIGNING_PUBLIC = "audit_signing_public.txt"


@dataclass(frozen=True)
class KeyMaterial:
    """The server-side secrets in their text forms (never the private key)."""

    identity_public: str
    data_keys: str = field(repr=False)
    pepper: str = field(repr=False)
    audit_key: str = field(default="", repr=False)
    audit_signing_key: str = field(default="", repr=False)
    old_peppers: str = field(default="", repr=False)  # comma-separated, newest first

    def keyring(self) -> Keyring:
        return Keyring(
            identity=IdentityPublicKey.from_text(self.identity_public),
            data=DataKeyring(DataKeyring.parse(self.data_keys)),
            pepper=Pepper(Pepper.parse(self.pepper)),
            old_peppers=tuple(
                Pepper(Pepper.parse(part)) for part in self.old_peppers.split(",") if part.strip()
            ),
        )

    def audit_keys(self) -> AuditKeys:
        """The audit key and checkpoint signing key (either may be absent)."""
        return AuditKeys.from_text(self.audit_key, self.audit_signing_key)


def new_passphrase() -> str:
    """Six groups of five characters: about 150 bits, easy to read aloud and type."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(6))


SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) readable by this user alone (0700)."""
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made meanwhile by another process
        os.chmod(folder, 0o700)  # mkdir's mode is narrowed by the umask, never widened
    return folder


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def dev_secret_key(instance: Path) -> str:
    """Development's console signing key: random, made once per instance folder, kept in
    ``secret_key`` (0600) so sessions survive restarts. A key in the source would let
    anyone forge a session cookie for any local console."""
    path = private_folder(instance) / SECRET_KEY_FILE
    if path.exists():
        existing = path.read_text().strip()
        if existing:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return existing
    # Written aside then linked into place: a concurrent start sees the whole key or none.
    aside = instance / f".{SECRET_KEY_FILE}.{secrets.token_hex(8)}"
    _write_private(aside, (secrets.token_urlsafe(48) + "\n").encode())
    try:
        os.link(aside, path)
    except FileExistsError:
        if not path.read_text().strip():  # an empty leftover: replace it
            os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)
    return path.read_text().strip()


def generate_keys(folder: Path, passphrase: str) -> KeyMaterial:
    """Write a complete new key set into ``folder`` (which must not hold one already)."""
    private_folder(folder)
    for name in (IDENTITY_PUBLIC, IDENTITY_PRIVATE, DATA_KEYS, PEPPER, AUDIT_KEY):
        if (folder / name).exists():
            raise CryptoError(f"{folder / name} exists already; refusing to overwrite keys")
    private = IdentityPrivateKey.generate()
    material = KeyMaterial(
        identity_public=private.public_key().to_text(),
        data_keys=DataKeyring.format([new_data_key(f"k{secrets.token_hex(3)}")]),
        pepper=Pepper.format(new_pepper()),
        audit_key=new_mac_key(),
        audit_signing_key=new_signing_key(),
    )
    _write_private(folder / IDENTITY_PRIVATE, private.to_encrypted_file(passphrase))
    _write_private(folder / DATA_KEYS, (material.data_keys + "\n").encode())
    _write_private(folder / PEPPER, (material.pepper + "\n").encode())
    # The public key is no secret, but the folder's files are this user's alone.
    _write_private(folder / IDENTITY_PUBLIC, (material.identity_public + "\n").encode())
    _write_audit_keys(folder, material.audit_key, material.audit_signing_key)
    return material


def _write_audit_keys(folder: Path, mac_key: str, signing_key: str) -> None:
    _write_private(folder / AUDIT_KEY, (mac_key + "\n").encode())
    _write_private(folder / AUDIT_SIGNING_KEY, (signing_key + "\n").encode())
    public = AuditKeys.from_text("", signing_key).public_key
    assert public is not None
    _write_private(folder / AUDIT_SIGNING_PUBLIC, (public_key_text(public) + "\n").encode())


@contextmanager
def _one_at_a_time(folder: Path) -> Iterator[None]:
    """The folder itself locked (no lock file among the keys); released when it closes,
    or when the process dies."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def ensure_audit_keys(folder: Path) -> bool:
    """Add the audit keys to a key folder made before they existed; True if it did.

    Processes starting together (gunicorn's workers and `krasip worker` in development)
    take turns: one writes the keys, the others read them only once they are whole."""
    private_folder(folder)
    with _one_at_a_time(folder):
        if (folder / AUDIT_KEY).exists() or (folder / AUDIT_SIGNING_KEY).exists():
            return False
        _write_audit_keys(folder, new_mac_key(), new_signing_key())
    return True


def ensure_dev_keys(folder: Path) -> str | None:
    """Create development keys when absent; returns the new passphrase, or None if present."""
    if (folder / IDENTITY_PUBLIC).exists():
        ensure_audit_keys(folder)
        return None
    passphrase = new_passphrase()
    generate_keys(folder, passphrase)
    return passphrase


def read_folder(folder: Path) -> KeyMaterial:
    try:
        return KeyMaterial(
            identity_public=(folder / IDENTITY_PUBLIC).read_text().strip(),
            data_keys=(folder / DATA_KEYS).read_text().strip(),
            pepper=(folder / PEPPER).read_text().strip(),
            audit_key=_optional(folder / AUDIT_KEY),
            audit_signing_key=_optional(folder / AUDIT_SIGNING_KEY),
            old_peppers=_optional(folder / OLD_PEPPERS),
        )
    except FileNotFoundError as exc:
        raise CryptoError(f"key file missing: {exc.filename}") from exc


def _optional(path: Path) -> str:
    """A key file that older folders lack: empty when absent (what needs it says so)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def load_private_key(path: Path, passphrase: str) -> IdentityPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CryptoError(f"cannot read the private key file {path}") from exc
    return IdentityPrivateKey.from_encrypted_file(data, passphrase)
