"""Custodian key rotation: every sealed identity sealed again to a new identity key.

The old private key is given by the custodian and stays in this process's memory; each
identity is opened field by field and sealed at once to the new public key, bound to the
same case (or draft) as before. Work goes in short transactions of a few cases, each
re-sealing audited with it, so a stopped run loses at most one batch and a second run
carries on: a case whose row already names the new key is only tried, field by field,
for fields a draft sealed to the old key before the server switched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import repo
from store.crypto import (
    CryptoError,
    IdentityPrivateKey,
    IdentityPublicKey,
    Keyring,
    LegacySealedIdentity,
)
from store.db import Database
from store.models import Case

BATCH_SIZE = 25


@dataclass
class ResealResult:
    resealed: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)


def sealed_count(db: Database) -> int:
    with db.reading() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Case).where(Case.identity_sealed.is_not(None))
            )
            or 0
        )


def reseal_all(
    db: Database,
    keys: Keyring,
    old: IdentityPrivateKey,
    new: IdentityPublicKey,
    *,
    actor: str,
    clock: Callable[[], datetime],
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ResealResult:
    """Re-seal every identity under ``old`` to ``new``; the counts, and the case numbers
    that could not be re-sealed (left as they were: misplaced, or under a third key)."""
    if old.public_key().fingerprint() == new.fingerprint():
        raise CryptoError("the new public key is the old key's own")
    result = ResealResult()
    with db.transaction() as session:
        repo.audit(
            session,
            actor=actor,
            action="identity.reseal_start",
            now=clock(),
            detail=f"from key {old.public_key().fingerprint()} to key {new.fingerprint()}",
        )
    cursor = 0
    while True:
        with db.transaction() as session:
            batch = session.scalars(
                select(Case)
                .where(Case.identity_sealed.is_not(None), Case.id > cursor)
                .order_by(Case.id)
                .limit(batch_size)
                .with_for_update()
            ).all()
            if not batch:
                break
            for case in batch:
                cursor = case.id
                if _reseal_case(session, keys, old, new, case, actor, clock(), result):
                    result.resealed += 1
                if progress:
                    progress(1)
    with db.transaction() as session:
        repo.audit(
            session,
            actor=actor,
            action="identity.reseal_done",
            now=clock(),
            detail=(
                f"to key {new.fingerprint()}: {result.resealed} re-sealed, "
                f"{result.unchanged} already there, {len(result.failed)} refused"
            ),
        )
    return result


def _reseal_case(
    session: Session,
    keys: Keyring,
    old: IdentityPrivateKey,
    new: IdentityPublicKey,
    case: Case,
    actor: str,
    now: datetime,
    result: ResealResult,
) -> bool:
    try:
        held = repo.sealed_identity(keys, case)
        assert held is not None
        sealed = old.reseal(held.sealed, held.case_number, new, draft=held.draft)
    except LegacySealedIdentity:
        # Sealed before identities were bound: bind it now, to the new key.
        assert case.identity_sealed is not None
        try:
            sealed = new.seal(old.open_legacy(case.identity_sealed), case.number)
        except CryptoError:
            result.failed.append(case.number)
            return False
    except CryptoError:
        result.failed.append(case.number)
        return False
    if sealed is None:
        result.unchanged += 1
        return False
    repo.replace_sealed_identity(keys, case, sealed, new.fingerprint())
    repo.audit(
        session,
        actor=actor,
        action="identity.reseal",
        now=now,
        case_id=case.id,
        detail=f"to key {new.fingerprint()}",
    )
    return True
