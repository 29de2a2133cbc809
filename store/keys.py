"""Key files: development keys in the instance folder, production keys from the settings."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class KeyMaterial:
    """The three server-side secrets in their text forms (never the private key)."""

    identity_public: str
    data_keys: str = field(repr=False)
    pepper: str = field(repr=False)

    def keyring(self) -> Keyring:
        return Keyring(
            identity=IdentityPublicKey.from_text(self.identity_public),
            data=DataKeyring(DataKeyring.parse(self.data_keys)),
            pepper=Pepper(Pepper.parse(self.pepper)),
        )


def new_passphrase() -> str:
    """Six groups of five characters: about 150 bits, easy to read aloud and type."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(6))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def generate_keys(folder: Path, passphrase: str) -> KeyMaterial:
    """Write a complete new key set into ``folder`` (which must not hold one already)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (IDENTITY_PUBLIC, IDENTITY_PRIVATE, DATA_KEYS, PEPPER):
        if (folder / name).exists():
            raise CryptoError(f"{folder / name} exists already; refusing to overwrite keys")
    private = IdentityPrivateKey.generate()
    material = KeyMaterial(
        identity_public=private.public_key().to_text(),
        data_keys=DataKeyring.format([new_data_key(f"k{secrets.token_hex(3)}")]),
        pepper=Pepper.format(new_pepper()),
    )
    _write_private(folder / IDENTITY_PRIVATE, private.to_encrypted_file(passphrase))
    _write_private(folder / DATA_KEYS, (material.data_keys + "\n").encode())
    _write_private(folder / PEPPER, (material.pepper + "\n").encode())
    (folder / IDENTITY_PUBLIC).write_text(material.identity_public + "\n")
    return material


def ensure_dev_keys(folder: Path) -> str | None:
    """Create development keys when absent; returns the new passphrase, or None if present."""
    if (folder / IDENTITY_PUBLIC).exists():
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
        )
    except FileNotFoundError as exc:
        raise CryptoError(f"key file missing: {exc.filename}") from exc


def load_private_key(path: Path, passphrase: str) -> IdentityPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CryptoError(f"cannot read the private key file {path}") from exc
    return IdentityPrivateKey.from_encrypted_file(data, passphrase)
