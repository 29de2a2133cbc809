"""Encryption at rest.

Three secrets, three jobs (DESIGN.md, "Keys and what they protect"):

* the identity key pair seals who a reporter is with HPKE (RFC 9180) using the hybrid
  ML-KEM-768 + X25519 KEM, so a recording of today's database stays closed even to a
  future quantum computer; the server holds only the public key;
* the data keys (AES-256-GCM, each with an id so they can rotate) protect case content,
  messages, drafts, attachments and LINE addresses;
* the lookup pepper (HMAC-SHA256) turns tokens and LINE user IDs into lookup keys, so a
  stolen database alone cannot test guesses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt


class CryptoError(Exception):
    """Key material is missing, malformed, or a ciphertext does not open."""


class WrongPassphrase(CryptoError):
    """The custodian's passphrase does not open the identity private key file."""


class MisplacedCiphertext(CryptoError):
    """A ciphertext is not where it was written: copied from another row, or tampered.

    Its message names the place (a case number, a row) and never any content."""


class LegacySealedIdentity(CryptoError):
    """An identity sealed before identities were bound to their case: it proves nothing
    about where it belongs until the custodian re-seals it (`krasip keys rebind`)."""


_SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_SUITE_NAME = "MLKEM768_X25519-HKDF_SHA256-AES_256_GCM"
# Version 1 sealed the whole record with a fixed info: nothing tied it to its case.
_IDENTITY_INFO_V1 = b"krasip identity v1"
# Version 2: a JSON envelope after this prefix; each field is sealed on its own, bound
# (HPKE info) to the case number, or to its draft when sealed as the reporter typed it.
IDENTITY_PREFIX = b"krasip-identity/2\n"
_PART_INFO = "krasip identity v2"
_MLKEM_PUBLIC_LEN = 1184
_X25519_LEN = 32
_MLKEM_SEED_LEN = 64
_PRIVATE_KEY_KIND = "krasip-identity-private-key"
# scrypt at n=2**17 costs ~128 MiB and a fraction of a second: cheap for one custodian
# opening, expensive for anyone guessing passphrases offline.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**17, 8, 1


def bind(purpose: str, *place: object) -> str:
    """Associated data naming where a ciphertext belongs: its purpose and its row.

    A ciphertext copied to another row (or column) then fails to open, so a database
    writer cannot make one case show another's content or identity.
    """
    if not place:
        raise ValueError("a bound ciphertext needs the identity of its row")
    parts = [purpose, *(str(p) for p in place)]
    if any("|" in part or not part for part in parts):
        raise ValueError("purpose and row identity must be non-empty and contain no '|'")
    return "|".join(parts)


def identity_draft_binding(draft_id: str) -> str:
    """What identity parts typed in a draft are bound to; the case records it when filed."""
    return hashlib.sha256(b"krasip identity draft\x00" + draft_id.encode()).hexdigest()[:32]


def _part_info(scope: str, place: str, field: str) -> bytes:
    return bind(_PART_INFO, scope, place, field).encode()


def is_bound_identity(sealed: bytes) -> bool:
    """Whether ``sealed`` has the bound (version 2) form; older rows need `keys rebind`."""
    return sealed.startswith(IDENTITY_PREFIX)


def open_in_place(ring: DataKeyring, blob: bytes, aad: str, where: str) -> bytes:
    """Decrypt a data-key ciphertext bound to its row (``aad`` from :func:`bind`).

    One that does not open there — copied from another row, or changed — raises
    :class:`MisplacedCiphertext` naming only ``where`` (e.g. "case KRS-2026-000003").
    """
    try:
        return ring.decrypt(blob, aad)
    except CryptoError as exc:
        if isinstance(exc.__cause__, InvalidTag):
            raise MisplacedCiphertext(
                f"ciphertext does not belong to {where} (moved from another row or tampered)"
            ) from exc
        raise


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- identity sealing (HPKE) ---------------------------------------------------------


@dataclass(frozen=True)
class IdentityPublicKey:
    """The public half of the identity key pair: it can seal, never open."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != _MLKEM_PUBLIC_LEN + _X25519_LEN:
            raise CryptoError("identity public key has the wrong length")

    @classmethod
    def from_text(cls, text: str) -> IdentityPublicKey:
        """Read the ``krasip-idpk:`` text form written by :meth:`to_text`."""
        prefix, _, body = text.strip().partition(":")
        if prefix != "krasip-idpk" or not body:
            raise CryptoError("not a Krasip identity public key")
        try:
            return cls(_unb64(body))
        except (ValueError, TypeError) as exc:
            raise CryptoError("identity public key is not valid base64") from exc

    def to_text(self) -> str:
        return "krasip-idpk:" + _b64(self.raw)

    def _hpke_key(self) -> MLKEM768X25519PublicKey:
        return MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:_MLKEM_PUBLIC_LEN]),
            x25519.X25519PublicKey.from_public_bytes(self.raw[_MLKEM_PUBLIC_LEN:]),
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def seal_part(self, field: str, value: str, *, draft: str) -> bytes:
        """Seal one identity field the moment it is typed, bound to its draft
        (:func:`identity_draft_binding`); :meth:`seal` later puts it in the case's record."""
        return _SUITE.encrypt(
            value.encode(), self._hpke_key(), info=_part_info("draft", draft, field)
        )

    def seal(
        self,
        identity: Mapping[str, str],
        case_number: str,
        *,
        typed: Mapping[str, bytes] | None = None,
    ) -> bytes:
        """Seal a case's identity record; only the private key can open the result.

        Each field of ``identity`` is bound to ``case_number``; ``typed`` holds fields
        sealed earlier by :meth:`seal_part`, bound to their draft (the case records which).
        At least one field must be bound to the case, so the record as a whole is.
        """
        if not identity:
            raise CryptoError("a sealed identity needs at least one field bound to its case")
        parts: dict[str, dict[str, str]] = {}
        for field, value in identity.items():
            ct = _SUITE.encrypt(
                value.encode(), self._hpke_key(), info=_part_info("case", case_number, field)
            )
            parts[field] = {"to": "case", "ct": _b64(ct)}
        for field, ct in (typed or {}).items():
            if field in parts:
                raise CryptoError(f"identity field {field!r} given twice")
            parts[field] = {"to": "draft", "ct": _b64(ct)}
        envelope = {"key": self.fingerprint(), "parts": parts}
        return IDENTITY_PREFIX + json.dumps(envelope, sort_keys=True).encode()

    def seal_legacy(self, identity: dict[str, str]) -> bytes:
        """The version 1 form, unbound: only for tests of `keys rebind` and migrations."""
        plaintext = json.dumps(identity, ensure_ascii=False, sort_keys=True).encode()
        return _SUITE.encrypt(plaintext, self._hpke_key(), info=_IDENTITY_INFO_V1)


@dataclass(frozen=True)
class IdentityPrivateKey:
    """The custodian's key: 64-byte ML-KEM seed followed by the X25519 private key."""

    raw: bytes

    @classmethod
    def generate(cls) -> IdentityPrivateKey:
        mlkem_seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
        x_raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
        return cls(mlkem_seed + x_raw)

    def _hpke_key(self) -> MLKEM768X25519PrivateKey:
        return MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:_MLKEM_SEED_LEN]),
            x25519.X25519PrivateKey.from_private_bytes(self.raw[_MLKEM_SEED_LEN:]),
        )

    def public_key(self) -> IdentityPublicKey:
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:_MLKEM_SEED_LEN])
        x_key = x25519.X25519PrivateKey.from_private_bytes(self.raw[_MLKEM_SEED_LEN:])
        return IdentityPublicKey(
            mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
        )

    def open(self, sealed: bytes, case_number: str, *, draft: str | None = None) -> dict[str, str]:
        """Open the sealed identity of case ``case_number``.

        ``draft`` is the binding the case recorded for fields typed in its draft. A record,
        or any field of one, sealed for another case fails with
        :class:`MisplacedCiphertext`; a version 1 record with :class:`LegacySealedIdentity`.
        """
        if not is_bound_identity(sealed):
            raise LegacySealedIdentity(
                f"the identity of {case_number} was sealed before identities were bound to "
                "their case: the custodian re-seals it with `krasip keys rebind`"
            )
        misplaced = MisplacedCiphertext(f"the sealed identity does not belong to {case_number}")
        try:
            envelope = json.loads(sealed[len(IDENTITY_PREFIX) :])
            fingerprint = envelope["key"]
            parts = {
                str(field): (str(part["to"]), _unb64(str(part["ct"])))
                for field, part in envelope["parts"].items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise misplaced from exc
        if fingerprint != self.public_key().fingerprint():
            raise CryptoError("the sealed identity was sealed to another identity key")
        record: dict[str, str] = {}
        for field, (scope, ct) in parts.items():
            place = case_number if scope == "case" else draft if scope == "draft" else None
            if place is None:
                raise misplaced
            try:
                value = _SUITE.decrypt(ct, self._hpke_key(), info=_part_info(scope, place, field))
            except (InvalidTag, ValueError) as exc:
                raise misplaced from exc
            record[field] = value.decode()
        if not any(scope == "case" for scope, _ in parts.values()):
            raise misplaced
        return record

    def reseal(
        self,
        sealed: bytes,
        case_number: str,
        new: IdentityPublicKey,
        *,
        draft: str | None = None,
    ) -> bytes | None:
        """The bound identity of ``case_number`` sealed again to ``new``, each field to the
        same place (case or draft) it was bound to; None when nothing in it is under this
        key any more (already moved). Nothing opened leaves this function.

        A record already labelled with ``new`` is still tried field by field: a draft
        begun before the server switched keys can hold fields sealed to this one.
        """
        if not is_bound_identity(sealed):
            raise LegacySealedIdentity(f"the identity of {case_number} is not bound yet")
        misplaced = MisplacedCiphertext(f"the sealed identity does not belong to {case_number}")
        try:
            envelope = json.loads(sealed[len(IDENTITY_PREFIX) :])
            fingerprint = str(envelope["key"])
            parts = {
                str(field): (str(part["to"]), _unb64(str(part["ct"])))
                for field, part in envelope["parts"].items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise misplaced from exc
        mine = fingerprint == self.public_key().fingerprint()
        if not mine and fingerprint != new.fingerprint():
            raise CryptoError(f"the identity of {case_number} was sealed to another key")
        moved = False
        out: dict[str, dict[str, str]] = {}
        for field, (scope, ct) in parts.items():
            place = case_number if scope == "case" else draft if scope == "draft" else None
            if place is None:
                raise misplaced
            info = _part_info(scope, place, field)
            try:
                value = _SUITE.decrypt(ct, self._hpke_key(), info=info)
            except (InvalidTag, ValueError) as exc:
                if mine:
                    raise misplaced from exc
                out[field] = {"to": scope, "ct": _b64(ct)}  # already under the new key
                continue
            out[field] = {"to": scope, "ct": _b64(_SUITE.encrypt(value, new._hpke_key(), info))}
            moved = True
        if not moved and not mine:
            return None
        envelope = {"key": new.fingerprint(), "parts": out}
        return IDENTITY_PREFIX + json.dumps(envelope, sort_keys=True).encode()

    def open_legacy(self, sealed: bytes) -> dict[str, str]:
        """Open a version 1 (unbound) record: only `krasip keys rebind` does this."""
        try:
            plaintext = _SUITE.decrypt(sealed, self._hpke_key(), info=_IDENTITY_INFO_V1)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("the sealed identity does not open with this key") from exc
        record: dict[str, str] = json.loads(plaintext)
        return record

    def to_encrypted_file(self, passphrase: str) -> bytes:
        """The private key encrypted under a passphrase (scrypt + AES-256-GCM), as JSON."""
        if len(passphrase) < 12:
            raise CryptoError("the passphrase must have at least 12 characters")
        salt, nonce = os.urandom(16), os.urandom(12)
        kek = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(
            passphrase.encode()
        )
        public = self.public_key()
        document = {
            "kind": _PRIVATE_KEY_KIND,
            "suite": _SUITE_NAME,
            "kdf": {"name": "scrypt", "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P},
            "salt": _b64(salt),
            "nonce": _b64(nonce),
            "public_key": public.to_text(),
            "ciphertext": _b64(AESGCM(kek).encrypt(nonce, self.raw, _PRIVATE_KEY_KIND.encode())),
        }
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def from_encrypted_file(cls, data: bytes, passphrase: str) -> IdentityPrivateKey:
        try:
            document = json.loads(data)
            if document.get("kind") != _PRIVATE_KEY_KIND:
                raise CryptoError("not a Krasip identity private key file")
            kdf = document["kdf"]
            kek = Scrypt(
                salt=_unb64(document["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
            ).derive(passphrase.encode())
            raw = AESGCM(kek).decrypt(
                _unb64(document["nonce"]),
                _unb64(document["ciphertext"]),
                _PRIVATE_KEY_KIND.encode(),
            )
        except InvalidTag as exc:
            raise WrongPassphrase("the passphrase does not open this key file") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise CryptoError("the identity private key file is malformed") from exc
        return cls(raw)


# --- data keys (AES-256-GCM) ---------------------------------------------------------

_DATA_FORMAT = 1


@dataclass(frozen=True)
class DataKey:
    key_id: str
    key: bytes


class DataKeyring:
    """AES-256-GCM with rotating keys: the first key encrypts, every key can decrypt.

    Ciphertext layout: version byte, key-id length byte, key id, 12-byte nonce, sealed box.
    The ``purpose`` is bound as associated data so a ciphertext cannot be moved from one
    column to another.
    """

    def __init__(self, keys: list[DataKey]) -> None:
        if not keys:
            raise CryptoError("at least one data key is required")
        for key in keys:
            if len(key.key) != 32:
                raise CryptoError(f"data key {key.key_id!r} must be 32 bytes")
            if not key.key_id.isascii() or not 0 < len(key.key_id) < 64:
                raise CryptoError("data key ids must be short ASCII names")
        self._current = keys[0]
        self._by_id = {key.key_id: AESGCM(key.key) for key in keys}
        self._current_aead = self._by_id[keys[0].key_id]

    @property
    def current_id(self) -> str:
        return self._current.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every configured key id, the encrypting one first."""
        return tuple(self._by_id)

    def encrypt(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = os.urandom(12)
        kid = self._current.key_id.encode()
        box = self._current_aead.encrypt(nonce, plaintext, purpose.encode())
        return bytes([_DATA_FORMAT, len(kid)]) + kid + nonce + box

    def decrypt(self, blob: bytes, purpose: str) -> bytes:
        if len(blob) < 2 or blob[0] != _DATA_FORMAT:
            raise CryptoError("unknown ciphertext format")
        kid_end = 2 + blob[1]
        key_id = blob[2:kid_end].decode("ascii", "replace")
        aead = self._by_id.get(key_id)
        if aead is None:
            raise CryptoError(f"data key {key_id!r} is not configured")
        try:
            return aead.decrypt(
                blob[kid_end : kid_end + 12], blob[kid_end + 12 :], purpose.encode()
            )
        except InvalidTag as exc:
            raise CryptoError("ciphertext does not open (wrong key or tampered)") from exc

    def encrypt_json(self, value: object, purpose: str) -> bytes:
        return self.encrypt(json.dumps(value, ensure_ascii=False).encode(), purpose)

    def decrypt_json(self, blob: bytes, purpose: str) -> object:
        return json.loads(self.decrypt(blob, purpose))

    def encrypt_text(self, text: str, purpose: str) -> bytes:
        return self.encrypt(text.encode(), purpose)

    def decrypt_text(self, blob: bytes, purpose: str) -> str:
        return self.decrypt(blob, purpose).decode()

    @staticmethod
    def parse(text: str) -> list[DataKey]:
        """Parse ``id:base64key[,id:base64key…]``; the first is the current key."""
        keys = []
        for part in text.split(","):
            key_id, sep, body = part.strip().partition(":")
            if not sep:
                raise CryptoError("data keys are written as id:base64key, comma-separated")
            try:
                keys.append(DataKey(key_id, _unb64(body)))
            except (ValueError, TypeError) as exc:
                raise CryptoError(f"data key {key_id!r} is not valid base64") from exc
        return keys

    @staticmethod
    def format(keys: list[DataKey]) -> str:
        return ",".join(f"{key.key_id}:{_b64(key.key)}" for key in keys)


# --- per-row keys (the vault's) ----------------------------------------------------


def new_secret() -> bytes:
    """A fresh 256-bit key for one row or one day (see store/vault.py)."""
    return AESGCM.generate_key(bit_length=256)


def row_encrypt(secret: bytes, plaintext: bytes, aad: str) -> bytes:
    """AES-256-GCM under a vault key: 12-byte nonce, then the sealed box."""
    nonce = os.urandom(12)
    return nonce + AESGCM(secret).encrypt(nonce, plaintext, aad.encode())


def row_decrypt(secret: bytes, blob: bytes, aad: str) -> bytes:
    try:
        return AESGCM(secret).decrypt(blob[:12], blob[12:], aad.encode())
    except (InvalidTag, ValueError) as exc:
        raise CryptoError("ciphertext does not open here (moved or tampered)") from exc


# --- lookup pepper (HMAC) ------------------------------------------------------------


class Pepper:
    """HMAC-SHA256 under the server's lookup pepper, domain-separated by purpose."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise CryptoError("the lookup pepper must be at least 32 bytes")
        self._key = key

    def digest(self, purpose: str, value: str) -> str:
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def parse(text: str) -> bytes:
        try:
            return _unb64(text)
        except (ValueError, TypeError) as exc:
            raise CryptoError("the lookup pepper is not valid base64") from exc

    @staticmethod
    def format(key: bytes) -> str:
        return _b64(key)


@dataclass(frozen=True)
class Keyring:
    """Everything the server holds: never the identity private key."""

    identity: IdentityPublicKey
    data: DataKeyring
    pepper: Pepper
    # Peppers before the last rotation: a token is only known to its reporter, so a case
    # filed under one moves to ``pepper`` at its next lookup (README "Rotating keys").
    old_peppers: tuple[Pepper, ...] = ()

    def token_hash(self, token: str) -> str:
        return self.pepper.digest("token", token)

    def old_token_hashes(self, token: str) -> list[str]:
        return [old.digest("token", token) for old in self.old_peppers]


def new_data_key(key_id: str) -> DataKey:
    return DataKey(key_id, AESGCM.generate_key(bit_length=256))


def new_pepper() -> bytes:
    return os.urandom(32)
