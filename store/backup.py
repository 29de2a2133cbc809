"""Encrypted, consistent backups of the database, and their restore into an empty one.

A snapshot is taken by SQLite's online backup API (a consistent copy while the bot keeps
writing) or by ``pg_dump`` (one repeatable-read transaction, custom format), and written
encrypted under the backup key: AES-256-GCM in 1 MiB chunks, each bound to the file's
header, its place and whether it is the last, so a chunk cannot be changed, moved,
dropped or the file cut short without the restore refusing it.

The backup key is its own key (``backup_key.txt``), not derived from the data keys:
rotating a data key must not make old backups unreadable. It must be kept apart from the
backups, with the other keys. The vault (store/vault.py) is left out: its keys exist to
be destroyed, and a backup must not keep them. A backup holds only what the database
holds, so restoring one also needs the data keys, lookup pepper and audit keys it was
made under, and the custodian's private key to open identities.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from store.db import make_engine

MAGIC = b"KRASIP-BACKUP/1\n"
CHUNK = 1 << 20
_FRAME = struct.Struct(">I")  # each chunk's ciphertext length
Progress = Callable[[int], None]
# Keys that forgetting destroys; never in a backup, so a restore is like a crash of the
# PostgreSQL server: drafts in progress, undelivered replies and update links are lost.
VAULT_TABLES = ("vault_key", "vault_epoch")


class BackupError(Exception):
    """A backup could not be made or restored; the message says why, never any content."""


@dataclass(frozen=True)
class Header:
    kind: str  # "sqlite" or "postgresql"
    created: str
    nonce_prefix: bytes

    def to_bytes(self) -> bytes:
        doc = {
            "kind": self.kind,
            "created": self.created,
            "nonce": base64.b64encode(self.nonce_prefix).decode(),
            "cipher": "AES-256-GCM",
            "chunk": CHUNK,
        }
        return json.dumps(doc, sort_keys=True).encode() + b"\n"


def new_backup_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def write_key_file(path: Path) -> None:
    """A new backup key, 0600, never over an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(new_backup_key()).decode() + "\n")


def read_key_file(path: Path) -> bytes:
    try:
        key = base64.urlsafe_b64decode(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the backup key {path}") from exc
    if len(key) != 32:
        raise BackupError(f"{path} is not a backup key (32 bytes, base64)")
    return key


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">Q?", index, last)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _write_encrypted(
    out: Path, key: bytes, kind: str, chunks: Iterator[bytes], progress: Progress | None
) -> None:
    header = Header(kind, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), os.urandom(8))
    head = header.to_bytes()
    aead = AESGCM(key)
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + head)
            index, pending = 0, next(chunks, b"")
            while True:
                following = next(chunks, None)
                last = following is None
                box = aead.encrypt(
                    _nonce(header.nonce_prefix, index), pending, _aad(head, index, last)
                )
                handle.write(_FRAME.pack(len(box)) + box)
                if progress:
                    progress(len(pending))
                if following is None:
                    break
                index, pending = index + 1, following
            handle.flush()
            os.fsync(handle.fileno())
        # Only a whole backup takes the name: a run that stops leaves a .partial file.
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_encrypted(path: Path, key: bytes) -> tuple[str, Iterator[bytes]]:
    """The backup's kind and its decrypted chunks; BackupError on any change."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}") from exc
    if handle.read(len(MAGIC)) != MAGIC:
        handle.close()
        raise BackupError(f"{path} is not a Krasip backup")
    head = handle.readline()
    try:
        doc = json.loads(head)
        kind = str(doc["kind"])
        prefix = base64.b64decode(doc["nonce"])
    except (ValueError, KeyError, TypeError) as exc:
        handle.close()
        raise BackupError(f"{path}: the backup header is damaged") from exc

    def chunks() -> Iterator[bytes]:
        aead, index = AESGCM(key), 0
        with handle:
            while True:
                frame = handle.read(_FRAME.size)
                if len(frame) != _FRAME.size:
                    raise BackupError("the backup is cut short (no final chunk)")
                box = handle.read(_FRAME.unpack(frame)[0])
                nonce = _nonce(prefix, index)
                for last in (False, True):
                    try:
                        plain = aead.decrypt(nonce, box, _aad(head, index, last))
                        break
                    except InvalidTag:
                        continue
                else:
                    raise BackupError(
                        "the backup does not open: wrong backup key, or the file was changed"
                    )
                yield plain
                if last:
                    if handle.read(1):
                        raise BackupError("the backup has data after its final chunk")
                    return
                index += 1

    return kind, chunks()


# --- taking a snapshot -------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("only a SQLite database in a file can be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment holding it
    (a password in the arguments would show in the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def backup(url: str, out: Path, key: bytes, progress: Progress | None = None) -> str:
    """Write an encrypted snapshot of the database at ``url`` to ``out``; its kind."""
    if url.startswith("sqlite"):
        source_path = _sqlite_path(url)
        if not source_path.is_file():
            raise BackupError(f"no database at {source_path}")
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(":memory:")
        try:
            # The online backup API, in one step: one consistent read (WAL lets the bot
            # keep writing); copied in steps, other writers would restart it.
            source.backup(copy)
            # The vault's keys stay out (as pg_dump leaves out unlogged tables): a backup
            # must not keep what forgetting destroys (store/vault.py).
            for table in VAULT_TABLES:
                copy.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            copy.commit()
            copy.execute("VACUUM")
            data = copy.serialize()
        finally:
            source.close()
            copy.close()
        _write_encrypted(out, key, "sqlite", _slices(data), progress)
        return "sqlite"
    conninfo, env = _libpq(url)
    command = [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--no-unlogged-table-data",  # the vault's keys (store/vault.py)
        "--dbname",
        conninfo,
    ]
    try:
        dump = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    except FileNotFoundError as exc:
        raise BackupError(
            "pg_dump is not installed (Debian: apt install postgresql-client)"
        ) from exc
    assert dump.stdout is not None and dump.stderr is not None
    try:
        _write_encrypted(out, key, "postgresql", _reads(dump.stdout), progress)
    finally:
        dump.stdout.close()
        errors = dump.stderr.read().decode(errors="replace")
        code = dump.wait()
    if code != 0:
        out.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed ({code}): {errors.strip()[:500]}")
    return "postgresql"


def _slices(data: bytes) -> Iterator[bytes]:
    for start in range(0, max(len(data), 1), CHUNK):
        yield data[start : start + CHUNK]


def _reads(stream: IO[bytes]) -> Iterator[bytes]:
    while block := stream.read(CHUNK):
        yield block


# --- restoring ---------------------------------------------------------------------------


def is_empty(url: str) -> bool:
    """Whether the database at ``url`` holds no tables (a fresh instance)."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return True
    engine = make_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def restore(url: str, source: Path, key: bytes, progress: Progress | None = None) -> str:
    """Bring the backup ``source`` into the empty database at ``url``; its kind."""
    kind, chunks = read_encrypted(source, key)
    target_kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    if kind != target_kind:
        raise BackupError(
            f"this is a backup of a {kind} database: restore it into a {kind} instance "
            f"(DATABASE_URL now names a {target_kind} one)"
        )
    if not is_empty(url):
        raise BackupError(
            "the database is not empty: restore only into a fresh instance (create a new "
            "database, or move the old one aside, and point DATABASE_URL at it)"
        )
    if kind == "sqlite":
        data = bytearray()
        for chunk in chunks:
            data += chunk
            if progress:
                progress(len(chunk))
        _restore_sqlite(url, bytes(data))
        return kind
    conninfo, env = _libpq(url)
    command = [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        conninfo,
    ]
    try:
        load = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    except FileNotFoundError as exc:
        raise BackupError("pg_restore is not installed (apt install postgresql-client)") from exc
    assert load.stdin is not None and load.stderr is not None
    try:
        for chunk in chunks:
            load.stdin.write(chunk)
            if progress:
                progress(len(chunk))
    except BrokenPipeError:
        pass  # pg_restore stopped: its own error is reported below
    except BaseException:
        load.kill()
        raise
    finally:
        try:
            load.stdin.close()
        except BrokenPipeError:
            pass
    errors = load.stderr.read().decode(errors="replace")
    if load.wait() != 0:
        raise BackupError(f"pg_restore failed: {errors.strip()[:500]}")
    return kind


def _restore_sqlite(url: str, data: bytes) -> None:
    if data[18:20] == b"\x02\x02":
        # A WAL database's header: in memory it would not open; the engine sets WAL again.
        data = data[:18] + b"\x01\x01" + data[20:]
    image = sqlite3.connect(":memory:")
    try:
        image.deserialize(data)
        if image.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise BackupError("the SQLite image in the backup fails its integrity check")
        make_engine(url).dispose()  # creates the file 0600 in a 0700 folder
        target = sqlite3.connect(_sqlite_path(url))
        try:
            image.backup(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the SQLite image in the backup is damaged: {exc}") from exc
    finally:
        image.close()
