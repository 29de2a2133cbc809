"""The audit log: an append-only chain of sensitive acts that a database writer cannot
rewrite quietly.

Every entry holds the hash of the entry before it. Entries written before revision 0009
are linked by plain SHA-256, which anyone can recompute; from ``AuditChain.keyed_from`` on,
each link is an HMAC under the audit key, which is kept with the other keys and never in
the database. Someone who can write to the database but lacks the key can therefore
neither change nor insert an entry without breaking the chain (the first keyed entry
also fixes every older one, through its link to them).

What such a writer can still do is cut entries off the end, or the whole keyed part.
Checkpoints catch that: the head hash, the count and the start of the keyed chain,
signed with the audit signing key (Ed25519), written by the worker to a log file and
pushed to the admins on LINE, out of that writer's reach. ``verify`` with a checkpoint
fails when the log is shorter than the checkpoint's count, or when its first ``count``
entries no longer lead to the checkpoint's head.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.crypto import CryptoError
from store.models import AuditChain, AuditCheckpoint, AuditEntry

GENESIS = "0" * 64
SESSION_INFO = "krasip.audit_keys"  # where a Database puts the keys for its sessions
CHECKPOINT_MARK = "krasip-audit/1"
MAX_ENTRY_PROBLEMS = 50
_LINK_PREFIX = b"krasip audit link v2\x00"
_CHECKPOINT = re.compile(
    re.escape(CHECKPOINT_MARK)
    + r" n=(?P<count>\d+) head=(?P<head>[0-9a-f]{64}) from=(?P<keyed_from>\d+)"
    r" at=(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) sig=(?P<sig>[A-Za-z0-9_-]{86})"
)


class AuditKeyMissing(Exception):
    """The audit key is not configured, so no entry can be written (or checked)."""


class AuditBroken(Exception):
    """The chain does not verify; a checkpoint would vouch for a tampered log."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class AuditKeys:
    """The audit key (HMAC-SHA256) and the checkpoint signing key (Ed25519); either may
    be absent, and then what needs it says so."""

    mac_key: bytes | None = field(default=None, repr=False)
    signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)

    @classmethod
    def from_text(cls, mac_key: str, signing_key: str) -> AuditKeys:
        """Parse the text forms kept in the key files (either may be empty)."""
        try:
            mac = _unb64(mac_key.strip()) if mac_key.strip() else None
            seed = _unb64(signing_key.strip()) if signing_key.strip() else None
        except (ValueError, TypeError) as exc:
            raise CryptoError("an audit key is not valid base64") from exc
        if mac is not None and len(mac) < 32:
            raise CryptoError("the audit key must be at least 32 bytes")
        if seed is not None and len(seed) != 32:
            raise CryptoError("the audit signing key must be 32 bytes (an Ed25519 seed)")
        signing = Ed25519PrivateKey.from_private_bytes(seed) if seed is not None else None
        return cls(mac, signing)

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        return self.signing_key.public_key() if self.signing_key else None

    def link(self, prev_hash: str, entry: EntryFields) -> str:
        """The keyed link of an entry: HMAC over the previous link and the entry."""
        if self.mac_key is None:
            raise AuditKeyMissing(
                "the audit key is not configured (KRASIP_AUDIT_KEY; in development run "
                "`krasip init`): audit entries can be neither written nor checked"
            )
        message = _LINK_PREFIX + _canonical(prev_hash, entry)
        return hmac.new(self.mac_key, message, hashlib.sha256).hexdigest()


def new_mac_key() -> str:
    """A new audit key in its text form (base64, 32 random bytes)."""
    return _b64(os.urandom(32))


def new_signing_key() -> str:
    """A new checkpoint signing key in its text form (base64 of the Ed25519 seed)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return _b64(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public half of the signing key, for whoever checks checkpoints elsewhere."""
    return _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


# --- the chain ----------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFields:
    at: datetime
    actor: str
    action: str
    case_id: int | None
    detail: str


def _fields(entry: AuditEntry) -> EntryFields:
    return EntryFields(entry.at, entry.actor, entry.action, entry.case_id, entry.detail)


def _canonical(prev_hash: str, entry: EntryFields) -> bytes:
    body = [prev_hash, entry.at.isoformat(), entry.actor, entry.action, entry.case_id]
    return json.dumps([*body, entry.detail], ensure_ascii=False).encode()


def plain_link(prev_hash: str, entry: EntryFields) -> str:
    """The unkeyed link of entries written before the audit key existed."""
    return hashlib.sha256(_canonical(prev_hash, entry)).hexdigest()


def keys_of(session: Session) -> AuditKeys:
    """The audit keys the session's database was given (none: an empty set)."""
    keys = session.info.get(SESSION_INFO)
    return keys if isinstance(keys, AuditKeys) else AuditKeys()


def append(
    session: Session,
    keys: AuditKeys,
    *,
    actor: str,
    action: str,
    now: datetime,
    case_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    """Append an entry, linked under the audit key. Never put secrets in ``detail``.

    Every entry written since revision 0009 is keyed: the migration set the keyed
    chain to start after the last entry it found."""
    last = session.execute(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    prev = last.hash if last else GENESIS
    fields = EntryFields(now, actor, action, case_id, detail)
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        case_id=case_id,
        detail=detail,
        prev_hash=prev,
        hash=keys.link(prev, fields),
    )
    session.add(entry)
    session.flush()
    return entry


def keyed_from(session: Session) -> int | None:
    """The id of the first keyed entry, as the database records it (None: no record)."""
    return session.scalar(select(AuditChain.keyed_from).where(AuditChain.id == 1))


# --- checkpoints --------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log had ``count`` entries ending in ``head`` at ``at``."""

    count: int
    head: str
    keyed_from: int
    at: datetime
    signature: bytes = field(repr=False)

    @property
    def signed_text(self) -> str:
        at = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{CHECKPOINT_MARK} n={self.count} head={self.head} from={self.keyed_from} at={at}"

    @property
    def line(self) -> str:
        """The one-line form written to the log file and pushed on LINE."""
        return f"{self.signed_text} sig={_b64(self.signature)}"

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.signed_text.encode())
        except InvalidSignature:
            return False
        return True


def parse_checkpoints(text: str) -> list[Checkpoint]:
    """Every checkpoint in ``text``: one line, a log file, or a pasted LINE message."""
    found = []
    for match in _CHECKPOINT.finditer(text):
        found.append(
            Checkpoint(
                count=int(match["count"]),
                head=match["head"],
                keyed_from=int(match["keyed_from"]),
                at=datetime.strptime(match["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                signature=_unb64(match["sig"]),
            )
        )
    return found


@dataclass
class Verdict:
    """What a walk of the chain found."""

    problems: list[str]  # signs of tampering
    unchecked: list[str]  # what could not be checked for want of a key
    count: int
    head: str
    keyed_from: int | None
    plain: int  # entries before the keyed chain: protected by the keyed entries after them
    checkpoints: int  # checkpoints checked

    @property
    def intact(self) -> bool:
        return not self.problems and not self.unchecked


def verify(session: Session, keys: AuditKeys, checkpoints: Iterable[Checkpoint] = ()) -> Verdict:
    """Walk the whole chain, then hold it against each checkpoint (and those the database
    keeps: signed, so they can be deleted but not forged). Problems name entry ids and
    checkpoint times, never what an entry says."""
    wanted = list(checkpoints) + stored_checkpoints(session)
    counts = {c.count for c in wanted}
    start = keyed_from(session)
    problems: list[str] = []
    if start is None:
        problems.append("the record of where the keyed chain starts is missing")
    unchecked = 0
    prev, count, plain = GENESIS, 0, 0
    heads: dict[int, str] = {0: GENESIS}
    # Streamed: the log grows by an entry or two per case retention touches, and the
    # worker walks it daily (a whole 100,000-case log held at once would be 100s of MB).
    walk = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    for entry in session.scalars(walk):
        count += 1
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.id}: does not follow the entry before it")
        if start is not None and entry.id < start:
            plain += 1
            if entry.hash != plain_link(entry.prev_hash, _fields(entry)):
                problems.append(f"entry {entry.id}: its content was changed")
        elif keys.mac_key is None:
            unchecked += 1
        elif not hmac.compare_digest(entry.hash, keys.link(entry.prev_hash, _fields(entry))):
            problems.append(
                f"entry {entry.id}: its content was changed, or it was not written here"
            )
        prev = entry.hash
        if count in counts:
            heads[count] = entry.hash
    missing: list[str] = []
    if len(problems) > MAX_ENTRY_PROBLEMS:  # a recomputed chain fails at every entry
        more = len(problems) - MAX_ENTRY_PROBLEMS
        problems = [*problems[:MAX_ENTRY_PROBLEMS], f"... and {more} more problems with entries"]
    if unchecked:
        missing.append(
            f"the audit key is not configured: {unchecked} keyed entries cannot be checked "
            "(set KRASIP_AUDIT_KEY or KRASIP_AUDIT_KEY_FILE)"
        )
    public = keys.public_key
    seen: set[str] = set()
    for checkpoint in sorted(wanted, key=lambda c: (c.count, c.at)):
        if checkpoint.line in seen:
            continue
        seen.add(checkpoint.line)
        when = checkpoint.signed_text.split(" at=")[1]
        if public is None:
            missing.append(
                f"checkpoint of {when}: its signature cannot be checked, the audit signing "
                "key is not configured (KRASIP_AUDIT_SIGNING_KEY)"
            )
        elif not checkpoint.signed_by(public):
            problems.append(f"checkpoint of {when}: the signature is not ours (forged or altered)")
            continue
        if count < checkpoint.count:
            problems.append(
                f"checkpoint of {when}: it counted {checkpoint.count} entries, the log has "
                f"{count}: entries were deleted"
            )
        elif heads.get(checkpoint.count) != checkpoint.head:
            problems.append(
                f"checkpoint of {when}: the first {checkpoint.count} entries no longer lead "
                "to its head: entries were changed, inserted or deleted"
            )
        if start is not None and checkpoint.keyed_from != start:
            problems.append(
                f"checkpoint of {when}: the keyed chain started at entry "
                f"{checkpoint.keyed_from}, the database now says {start}"
            )
    return Verdict(problems, missing, count, prev, start, plain, len(seen))


def stored_checkpoints(session: Session) -> list[Checkpoint]:
    lines = session.scalars(select(AuditCheckpoint.line).order_by(AuditCheckpoint.id))
    return [c for line in lines for c in parse_checkpoints(line)]


def last_checkpoint_at(session: Session) -> datetime | None:
    return session.scalar(select(func.max(AuditCheckpoint.at)))


def checkpoint_due_since(session: Session) -> datetime | None:
    """Since when the log has gone without a checkpoint: the last one, or the first entry
    when there is none yet (None: an empty log needs none)."""
    last = last_checkpoint_at(session)
    if last is not None:
        return last
    return session.scalar(select(func.min(AuditEntry.at)))


def make_checkpoint(session: Session, keys: AuditKeys, now: datetime) -> Checkpoint:
    """Verify the chain and sign its head and count as this session sees them; nothing is
    written (a read-only session will do, so no writer waits for the walk). Refuses
    (:class:`AuditBroken`) when the chain does not verify: a checkpoint must never vouch
    for a tampered log."""
    if keys.signing_key is None:
        raise AuditKeyMissing(
            "the audit signing key is not configured (KRASIP_AUDIT_SIGNING_KEY; in "
            "development run `krasip init`)"
        )
    verdict = verify(session, keys)
    if not verdict.intact:
        raise AuditBroken(verdict.problems + verdict.unchecked)
    assert verdict.keyed_from is not None  # a missing record is a problem above
    unsigned = Checkpoint(
        verdict.count, verdict.head, verdict.keyed_from, now.replace(microsecond=0), b""
    )
    signature = keys.signing_key.sign(unsigned.signed_text.encode())
    return Checkpoint(unsigned.count, unsigned.head, unsigned.keyed_from, unsigned.at, signature)


def keep_checkpoint(session: Session, checkpoint: Checkpoint) -> None:
    """Keep a copy in the database, where ``verify`` finds it without being given it."""
    session.add(AuditCheckpoint(at=checkpoint.at, count=checkpoint.count, line=checkpoint.line))
    session.flush()


def lock_chain(session: Session) -> None:
    """Serialise checkpoint makers (two workers must not both push one)."""
    session.execute(select(AuditChain).where(AuditChain.id == 1).with_for_update())
