"""Data-key rotation: re-encrypt every data-key ciphertext under the current data key.

Every data-key ciphertext starts with the id of the key that wrote it (see
:class:`store.crypto.DataKeyring`), so the rows still under an older key are found by
their first bytes, without opening anything. Rows sealed in the vault are under their
own row key, which is wrapped under the data key: rewrapping ``vault_key`` (and the day
keys of ``vault_epoch``) is enough for them.

The rewrite runs in small batches, each its own short transaction, so the bot keeps
serving; a row is only replaced if it still holds the ciphertext that was read
(compare-and-set), so a concurrent edit is never overwritten by its older version.
Stopping at any moment loses nothing: a row is either under its old key or its new one,
and the next run skips those already under the current key.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from store import media, notices, repo, retention, staff, vault
from store.crypto import CryptoError, DataKeyring, Keyring, Pepper, bind, new_data_key, new_pepper
from store.db import Database
from store.models import (
    Attachment,
    Case,
    CaseMessage,
    CaseNote,
    NotificationGroup,
    RetentionHold,
    StaffLineLink,
    StaffUser,
    VaultEpoch,
    VaultKey,
)

# Longest key-id prefix: format byte, length byte, and an id of under 64 characters.
_PREFIX_LEN = 66


@dataclass(frozen=True)
class Protected:
    """One column holding data-key ciphertexts, and how to find where each belongs."""

    name: str  # "table.column", as `keys status` shows it
    key: InstrumentedAttribute[Any]  # the row's single-column primary key
    column: InstrumentedAttribute[Any]
    aad: Callable[[Any], str]  # the row (key, column, *extra) -> associated data
    extra: tuple[Any, ...] = ()
    join: tuple[Any, Any] | None = None  # (entity, on clause) when the place needs another row
    only: ColumnElement[bool] | None = None  # rows of this column under the data key at all
    batch_share: int = 1  # divide the batch size: files are big

    def rows(self) -> Select[Any]:
        stmt = select(self.key, self.column, *self.extra).select_from(self.key.class_)
        if self.join is not None:
            stmt = stmt.join(*self.join)
        # Empty: a purged case's content (store/retention.py), nothing to protect.
        stmt = stmt.where(self.column.is_not(None), func.length(self.column) > 0)
        return stmt.where(self.only) if self.only is not None else stmt


PROTECTED: tuple[Protected, ...] = (
    Protected(
        "vault_key.wrapped", VaultKey.id, VaultKey.wrapped, lambda r: bind(vault.ROW_KEY, r[0])
    ),
    Protected(
        "vault_epoch.wrapped",
        VaultEpoch.day,
        VaultEpoch.wrapped,
        lambda r: bind(vault.DAY_KEY, r[0]),
    ),
    Protected(
        "case.content_ct",
        Case.id,
        Case.content_ct,
        lambda r: bind(repo.CASE_CONTENT, r[2]),
        extra=(Case.number,),
    ),
    Protected(
        "case.public_note_ct",
        Case.id,
        Case.public_note_ct,
        lambda r: bind(repo.CASE_NOTE, r[2]),
        extra=(Case.number,),
    ),
    Protected(
        "case_message.body_ct",
        CaseMessage.id,
        CaseMessage.body_ct,
        lambda r: bind(repo.MESSAGE_BODY, r[2], r[0], r[3]),
        extra=(Case.number, CaseMessage.direction),
        join=(Case, Case.id == CaseMessage.case_id),
    ),
    Protected(
        "case_note.body_ct",
        CaseNote.id,
        CaseNote.body_ct,
        lambda r: bind(staff.NOTE_BODY, r[0], r[2]),
        extra=(CaseNote.case_id,),
    ),
    Protected(
        "attachment.file_name_ct",
        Attachment.id,
        Attachment.file_name_ct,
        lambda r: bind(media.ATTACHMENT_NAME, r[0]),
    ),
    Protected(
        "attachment.blob_ct",
        Attachment.id,
        Attachment.blob_ct,
        lambda r: bind(media.ATTACHMENT_BLOB, r[0]),
        batch_share=25,
    ),
    Protected(
        # Only message ids sealed by migration 0004 are under the data key; the others
        # are under a vault row key.
        "attachment.line_message_ct",
        Attachment.id,
        Attachment.line_message_ct,
        lambda r: bind(media.ATTACHMENT_MESSAGE, r[0]),
        only=Attachment.line_message_key.is_(None),
    ),
    Protected(
        "retention_hold.reason_ct",
        RetentionHold.case_id,
        RetentionHold.reason_ct,
        lambda r: bind(retention.HOLD_REASON, r[2]),
        extra=(Case.number,),
        join=(Case, Case.id == RetentionHold.case_id),
    ),
    Protected(
        "staff_user.totp_secret_ct",
        StaffUser.id,
        StaffUser.totp_secret_ct,
        lambda r: bind(staff.TOTP_SECRET, r[0]),
    ),
    Protected(
        "staff_line_link.line_user_ct",
        StaffLineLink.staff_id,
        StaffLineLink.line_user_ct,
        lambda r: bind(notices.STAFF_LINE, r[0]),
    ),
    Protected(
        "notification_group.group_id_ct",
        NotificationGroup.id,
        NotificationGroup.group_id_ct,
        lambda r: bind(notices.GROUP_ID, r[2]),
        extra=(NotificationGroup.group_key,),
    ),
)

# Columns of ciphertext that are NOT under the data key (a test checks every ``_ct`` and
# ``wrapped`` column of the models is in one list or the other).
NOT_DATA_KEY = frozenset(
    {
        "conversation.state_ct",  # vault row key
        "update_link.address_ct",  # vault row key
        "outbox_message.to_ct",  # vault row key
        "outbox_message.payload_ct",  # vault row key
    }
)


def key_prefix(key_id: str) -> bytes:
    """The first bytes of every ciphertext written by data key ``key_id``."""
    kid = key_id.encode("ascii")
    return bytes([1, len(kid)]) + kid


def key_id_of(blob: bytes) -> str:
    """The id of the data key that wrote ``blob`` ("?" when it is not a data-key ciphertext)."""
    if len(blob) < 2 or blob[0] != 1:
        return "?"
    return blob[2 : 2 + blob[1]].decode("ascii", "replace")


def _not_under(spec: Protected, key_id: str) -> ColumnElement[bool]:
    prefix = key_prefix(key_id)
    return func.substr(spec.column, 1, len(prefix)) != prefix


def status(session: Session) -> dict[str, Counter[str]]:
    """How many rows each data key protects, per column (columns with no rows included)."""
    counts: dict[str, Counter[str]] = {}
    for spec in PROTECTED:
        prefix = func.substr(spec.column, 1, _PREFIX_LEN).label("prefix")
        stmt = spec.rows().with_only_columns(prefix, func.count()).group_by(prefix)
        found: Counter[str] = Counter()
        for head, n in session.execute(stmt):
            found[key_id_of(bytes(head))] += n
        counts[spec.name] = found
    return counts


def totals(counts: dict[str, Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for found in counts.values():
        total.update(found)
    return total


@dataclass
class Progress:
    column: str
    rewritten: int = 0  # now under the current key
    changed: int = 0  # changed meanwhile by the bot (written again under the current key)
    failed: int = 0  # does not open where it is: left as it is, and reported


def _batch(
    session: Session, keys: Keyring, spec: Protected, after: Any, size: int
) -> tuple[Any, Progress]:
    current = keys.data.current_id
    stmt = spec.rows().where(_not_under(spec, current)).order_by(spec.key).limit(size)
    if after is not None:
        stmt = stmt.where(spec.key > after)
    done = Progress(spec.name)
    last = None
    for row in session.execute(stmt).all():
        last, blob = row[0], bytes(row[1])
        aad = spec.aad(row)
        try:
            fresh = keys.data.encrypt(keys.data.decrypt(blob, aad), aad)
        except CryptoError:
            done.failed += 1  # e.g. moved from another row: it stays unreadable as it was
            continue
        table = spec.key.class_
        result = session.execute(
            update(table)
            .where(spec.key == row[0], spec.column == blob)
            .values({spec.column.key: fresh})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            done.rewritten += 1
        else:
            done.changed += 1
    return last, done


def rotate(
    db: Database,
    keys: Keyring,
    *,
    batch_size: int = 100,
    pause: float = 0.0,
    report: Callable[[Progress], None] | None = None,
) -> Iterator[Progress]:
    """Re-encrypt every data-key ciphertext not under ``keys``' current key.

    Yields one :class:`Progress` per column when it is done. Each batch commits on its
    own; ``pause`` seconds between batches leave the database to the bot.
    """
    for spec in PROTECTED:
        total = Progress(spec.name)
        after: Any = None
        while True:
            size = max(1, batch_size // spec.batch_share)
            with db.transaction() as session:
                after, done = _batch(session, keys, spec, after, size)
            total.rewritten += done.rewritten
            total.changed += done.changed
            total.failed += done.failed
            if report is not None and (done.rewritten or done.changed or done.failed):
                report(total)
            if after is None:
                break
            if pause:
                time.sleep(pause)
        yield total


def add_data_key(path: Path) -> str:
    """Put a new data key first in the data keys file ``path``; returns its id.

    The file is replaced whole (written aside, then renamed), readable by its owner only;
    the older keys stay after it so everything they wrote still opens.
    """
    existing = DataKeyring.parse(path.read_text().strip())
    taken = {key.key_id for key in existing}
    key_id = f"k{secrets.token_hex(3)}"
    while key_id in taken:
        key_id = f"k{secrets.token_hex(3)}"
    text = DataKeyring.format([new_data_key(key_id), *existing]) + "\n"
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(aside, path)
    return key_id


# --- the lookup pepper -------------------------------------------------------------------


def _write_aside(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(aside, path)


def add_pepper(pepper_file: Path, old_peppers_file: Path) -> None:
    """Make a new lookup pepper: the current one goes first in ``old_peppers_file``.

    The old peppers are written before the new one, so a stop in between loses nothing.
    """
    current = pepper_file.read_text().strip()
    Pepper(Pepper.parse(current))  # refuse to move something that is not a pepper
    older = old_peppers_file.read_text().strip() if old_peppers_file.exists() else ""
    _write_aside(old_peppers_file, ",".join(p for p in (current, older) if p) + "\n")
    _write_aside(pepper_file, Pepper.format(new_pepper()) + "\n")


def reindex(session: Session, keys: Keyring) -> int:
    """Move staff LINE links and notification groups to the current pepper.

    Unlike tokens, the server holds what these hashes are of (sealed under the data key),
    so they move at once instead of at their next use. Returns how many moved.
    """
    moved = 0
    for link in session.scalars(select(StaffLineLink)).all():
        line_user = keys.data.decrypt(link.line_user_ct, bind(notices.STAFF_LINE, link.staff_id))
        line_key = repo.staff_line_key(keys, line_user.decode())
        if link.line_key != line_key:
            link.line_key, moved = line_key, moved + 1
    for group in session.scalars(select(NotificationGroup)).all():
        group_id = keys.data.decrypt(group.group_id_ct, bind(notices.GROUP_ID, group.group_key))
        group_key = keys.pepper.digest("group", group_id.decode())
        if group.group_key != group_key:
            # The ciphertext is bound to the hash, so it is sealed again with the new one.
            group.group_key = group_key
            group.group_id_ct = keys.data.encrypt(group_id, bind(notices.GROUP_ID, group_key))
            moved += 1
    return moved
