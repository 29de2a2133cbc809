"""Evidence files: cleaned of metadata or held back, hashed, encrypted, bound to their row.

Seed 003 §8.2.1 asks us to conceal anything that could identify an informant; a phone
photo's EXIF carries GPS position, device model and serial numbers, a video its place of
recording, a PDF its author. :mod:`store.sanitize` cleans every allowlisted format; what it
cannot clean is kept as sent but *held back*: staff see only a warning until the custodian
releases it.

An attachment row never names the LINE message it came from in a form the server's keys
alone can read for long: LINE can map a message id to its sender, so the id is sealed
under a vault key of its own (:mod:`store.vault`) that is destroyed as soon as the file is
stored or given up on. Its timestamps are coarsened to the hour for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from store import hot, sanitize, vault
from store.crypto import Keyring, bind, open_in_place
from store.models import Attachment

ATTACHMENT_BLOB = "attachment.blob"
ATTACHMENT_NAME = "attachment.name"
ATTACHMENT_MESSAGE = "attachment.message"


class MediaRejected(Exception):
    """The content is refused (a bomb, an empty file); the reason is safe to log."""


@dataclass(frozen=True)
class CleanedMedia:
    """What is stored for one evidence item: the clean copy, or the file held back."""

    content: bytes
    content_type: str
    sha256: str
    removed: tuple[str, ...] = ()
    held_back: str | None = None  # why it could not be cleaned; None when it was


def _from_outcome(outcome: sanitize.Outcome) -> CleanedMedia:
    if outcome.verdict == "refused":
        detail = f" ({outcome.detail})" if outcome.detail else ""
        raise MediaRejected(f"refused: {outcome.reason}{detail}")
    return CleanedMedia(
        outcome.content,
        outcome.content_type,
        outcome.sha256,
        outcome.removed,
        outcome.reason if outcome.verdict == "held" else None,
    )


def clean(kind: str, data: bytes, content_type: str | None) -> CleanedMedia:
    """Clean an evidence item in this process, judged by its content alone.

    ``kind`` and ``content_type`` (what LINE or the sender claimed) are deliberately not
    used. The worker cleans in a bounded child process with :func:`clean_isolated`.
    """
    return _from_outcome(sanitize.clean(data))


def clean_isolated(data: bytes, limits: sanitize.Limits) -> CleanedMedia:
    """Clean in a child process within ``limits``; :class:`sanitize.CleanerFailed` when
    it dies or runs out of time, :class:`MediaRejected` when the file is refused."""
    return _from_outcome(sanitize.clean_isolated(data, limits))


def _coarse(at: datetime) -> datetime:
    """The hour, not the instant: LINE knows when each of its users sent a file."""
    return at.replace(minute=0, second=0, microsecond=0)


# --- attachment rows -----------------------------------------------------------------


def add_pending(
    session: Session,
    keys: Keyring,
    *,
    line_message_id: str,
    kind: str,
    now: datetime,
    draft_key: str | None = None,
    case_id: int | None = None,
    file_name: str | None = None,
) -> int:
    """Record a media item to fetch. A redelivered webhook event never gets here twice
    (the webhook's processed-event check), so nothing is keyed by the message id."""
    hour = _coarse(now)
    row = Attachment(
        case_id=case_id,
        draft_key=draft_key,
        kind=kind,
        after_filing=case_id is not None,
        state="pending",
        attempts=0,
        next_attempt_at=hour,
        created_at=hour,
    )
    session.add(row)
    session.flush()
    row.line_message_key, row.line_message_ct = vault.seal(
        session, keys, line_message_id.encode(), bind(ATTACHMENT_MESSAGE, row.id)
    )
    if file_name:
        row.file_name_ct = keys.data.encrypt_text(file_name, bind(ATTACHMENT_NAME, row.id))
    session.flush()
    return row.id


@dataclass(frozen=True)
class PendingMedia:
    id: int
    line_message_id: str
    kind: str
    attempts: int


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return ((Attachment.state == "pending") & (Attachment.next_attempt_at <= now)) | (
        (Attachment.state == "fetching") & (Attachment.locked_until < now)
    )


def _message_id(session: Session, keys: Keyring, row: Attachment) -> str:
    aad = bind(ATTACHMENT_MESSAGE, row.id)
    if row.line_message_ct is None:
        raise vault.KeyDestroyed("the message id of this attachment is gone")
    if row.line_message_key is None:
        # Sealed by migration 0004 under the data key, before the vault existed.
        return open_in_place(keys.data, row.line_message_ct, aad, f"attachment {row.id}").decode()
    return vault.open(session, keys, row.line_message_key, row.line_message_ct, aad).decode()


def _finish(row: Attachment, session: Session) -> None:
    """The message id is needed no more: destroy its key and coarsen the row's times."""
    vault.destroy(session, [row.line_message_key])
    row.line_message_key = None
    row.line_message_ct = None
    row.locked_until = None
    row.next_attempt_at = row.created_at


def give_up_exhausted(session: Session, now: datetime, max_attempts: int) -> int:
    """Fail every due item that already had ``max_attempts`` tries, however they ended —
    a download error, a cleaner that died, or a worker that died mid-clean and left the
    item `fetching`. A poison file is never handed out again."""
    rows = session.scalars(
        select(Attachment)
        .where(_due(now), Attachment.attempts >= max_attempts)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.state = "failed"
        row.error = f"gave up after {row.attempts} attempts"
        _finish(row, session)
    return len(rows)


def claim_pending(
    session: Session,
    keys: Keyring,
    now: datetime,
    *,
    limit: int = 10,
    lease: timedelta = timedelta(minutes=2),
    max_attempts: int = 5,
) -> list[PendingMedia]:
    """Claim due items for one worker, counting the attempt now (at claim time).

    Items that used ``max_attempts`` already are never claimed again; call
    :func:`give_up_exhausted` to mark them failed.
    """
    rows = session.scalars(
        select(Attachment)
        .where(_due(now), Attachment.attempts < max_attempts)
        .order_by(Attachment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        try:
            message_id = _message_id(session, keys, row)
        except vault.KeyDestroyed:
            row.state, row.error = "failed", "the message id was destroyed"
            _finish(row, session)
            continue
        row.state = "fetching"
        row.locked_until = now + lease
        row.attempts += 1
        claimed.append(PendingMedia(row.id, message_id, row.kind, row.attempts))
    return claimed


def _still_ours(session: Session, attachment_id: int, attempt: int | None) -> Attachment | None:
    """The row, if this attempt still holds it: after a lease ran out another worker may
    have claimed it again, and only that worker may record the outcome."""
    row = session.get(Attachment, attachment_id, with_for_update=True)
    if row is None:  # the draft was cancelled while its file was being fetched
        return None
    if attempt is not None and (row.state != "fetching" or row.attempts != attempt):
        return None
    return row


OVER_ALLOWANCE = "over the case's storage allowance"


@dataclass(frozen=True)
class Usage:
    """What a case holds: files sent, in any state, and bytes stored; ``full`` once a file
    was given up on for the storage allowance (what fits next cannot be known before the
    download: LINE gives no size for photos and videos)."""

    files: int
    stored_bytes: int
    full: bool = False


def _owned_by(row: Attachment):  # type: ignore[no-untyped-def]
    if row.case_id is not None:
        return Attachment.case_id == row.case_id
    return (Attachment.draft_key == row.draft_key) & Attachment.case_id.is_(None)


def case_usage(session: Session, case_id: int) -> Usage:
    """Every file sent for this case over its whole life (with the report and after each
    lookup, kept or not: each cost a download), and the bytes it stores."""
    files, stored, refused = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Attachment.size), 0),
            func.count(Attachment.id).filter(Attachment.error == OVER_ALLOWANCE),
        ).where(Attachment.case_id == case_id)
    ).one()
    return Usage(int(files or 0), int(stored or 0), bool(refused))


def store_content(
    session: Session,
    keys: Keyring,
    attachment_id: int,
    media: CleanedMedia,
    attempt: int | None = None,
    *,
    max_owner_bytes: int | None = None,
) -> bool:
    """Store the clean copy (or the held-back file), encrypted and bound to its row.

    With ``max_owner_bytes``, a file that would take its case (or draft) over that many
    stored bytes is given up on instead (False): the reporter hears at the next lookup
    that a file could not be kept."""
    row = _still_ours(session, attachment_id, attempt)
    if row is None:
        return False
    if max_owner_bytes is not None:
        held = session.scalar(
            select(func.coalesce(func.sum(Attachment.size), 0)).where(
                _owned_by(row), Attachment.id != row.id, Attachment.state == "stored"
            )
        )
        if int(held or 0) + len(media.content) > max_owner_bytes:
            row.state, row.error = "failed", OVER_ALLOWANCE
            _finish(row, session)
            return False
    row.state = "stored"
    row.content_type = media.content_type
    row.size = len(media.content)
    row.sha256 = media.sha256
    row.blob_ct = keys.data.encrypt(media.content, bind(ATTACHMENT_BLOB, row.id))
    row.removed = ",".join(media.removed) or None
    row.held_back = media.held_back
    row.error = None
    _finish(row, session)
    return True


def mark_failed(
    session: Session,
    attachment_id: int,
    now: datetime,
    *,
    error: str,
    final: bool,
    delay: timedelta = timedelta(seconds=30),
    attempt: int | None = None,
) -> None:
    """Record a failed attempt: retried after ``delay``, or (``final``) given up on."""
    row = _still_ours(session, attachment_id, attempt)
    if row is None:
        return
    row.error = error[:200]
    if final:
        row.state = "failed"
        _finish(row, session)
    else:
        row.state = "pending"
        row.locked_until = None
        row.next_attempt_at = now + delay


def read_content(keys: Keyring, attachment: Attachment) -> bytes:
    """The stored file; a blob copied from another attachment fails closed."""
    if attachment.blob_ct is None:
        raise MediaRejected("this attachment has no stored content")
    return open_in_place(
        keys.data,
        attachment.blob_ct,
        bind(ATTACHMENT_BLOB, attachment.id),
        f"attachment {attachment.id}",
    )


def file_name(keys: Keyring, attachment: Attachment) -> str | None:
    """The name the sender gave the file (it may identify them: custodian only)."""
    if attachment.file_name_ct is None:
        return None
    return open_in_place(
        keys.data,
        attachment.file_name_ct,
        bind(ATTACHMENT_NAME, attachment.id),
        f"attachment {attachment.id}",
    ).decode()


def release(session: Session, attachment_id: int, now: datetime) -> bool:
    """The custodian lets staff see a held-back file; False if there was nothing to release."""
    result = session.execute(
        update(Attachment)
        .where(
            Attachment.id == attachment_id,
            Attachment.held_back.is_not(None),
            Attachment.released_at.is_(None),
        )
        .values(released_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def untold_failures(session: Session, case_id: int) -> int:
    """Files of this case that could not be kept and the reporter has not been told of."""
    count = hot.execute(session, _UNTOLD_FAILURES, {"b_case": case_id}).scalar()
    return int(count or 0)


_UNTOLD_FAILURES = (
    select(func.count())
    .select_from(Attachment)
    .where(
        Attachment.case_id == bindparam("b_case"),
        Attachment.state == "failed",
        Attachment.reporter_told.is_(False),
    )
)


def mark_failures_told(session: Session, case_id: int) -> None:
    """The reporter was told: they are not told again."""
    session.execute(
        update(Attachment)
        .where(Attachment.case_id == case_id, Attachment.state == "failed")
        .values(reporter_told=True)
    )


def _delete(session: Session, *where) -> int:  # type: ignore[no-untyped-def]
    keys = session.scalars(select(Attachment.line_message_key).where(*where)).all()
    vault.destroy(session, keys)
    result = session.execute(delete(Attachment).where(*where))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def discard_draft(session: Session, draft_key: str) -> int:
    """Delete everything fetched for a draft that was cancelled or expired."""
    return _delete(session, Attachment.draft_key == draft_key, Attachment.case_id.is_(None))


def discard_orphans(session: Session, before: datetime) -> int:
    """Delete draft attachments whose draft has expired without becoming a case."""
    return _delete(session, Attachment.case_id.is_(None), Attachment.created_at < before)
