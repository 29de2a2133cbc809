"""Evidence files: images re-encoded without metadata, everything hashed and encrypted.

Seed 003 §8.2.1 asks us to conceal anything that could identify an informant; a phone
photo's EXIF carries GPS position, device model and serial numbers. Re-encoding the
pixels alone is the only way to be sure none of it survives.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.crypto import Keyring
from store.models import Attachment

ATTACHMENT_BLOB = "attachment.blob"
ATTACHMENT_NAME = "attachment.name"

# Decompression bombs: a 10,000 × 10,000 photo is already far beyond any phone camera.
Image.MAX_IMAGE_PIXELS = 100_000_000


class MediaRejected(Exception):
    """The content cannot be stored (not a readable image, too large); the reason is safe to log."""


@dataclass(frozen=True)
class CleanedMedia:
    content: bytes
    content_type: str
    sha256: str


def clean_image(data: bytes) -> CleanedMedia:
    """Re-encode an image from its pixels only, dropping EXIF, GPS, XMP, ICC and comments."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            # Keep what the reporter saw: apply the rotation EXIF asks for, then drop EXIF.
            upright = ImageOps.exif_transpose(image)
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            converted = upright.convert("RGBA" if has_alpha else "RGB")
            # A fresh image from raw pixels carries no info dict at all.
            clean = Image.frombytes(converted.mode, converted.size, converted.tobytes())
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise MediaRejected("not a readable image") from exc
    out = io.BytesIO()
    if has_alpha:
        clean.save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        clean.save(out, format="JPEG", quality=90, optimize=True)
        content_type = "image/jpeg"
    content = out.getvalue()
    return CleanedMedia(content, content_type, hashlib.sha256(content).hexdigest())


def clean(kind: str, data: bytes, content_type: str | None) -> CleanedMedia:
    """Prepare any evidence item for storage: images are re-encoded, the rest kept as sent."""
    if kind == "image":
        return clean_image(data)
    return CleanedMedia(
        data, content_type or "application/octet-stream", hashlib.sha256(data).hexdigest()
    )


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
    """Record a media item to fetch; a redelivered media event is recorded once."""
    existing = session.scalar(
        select(Attachment.id).where(Attachment.line_message_id == line_message_id)
    )
    if existing is not None:
        return existing
    row = Attachment(
        case_id=case_id,
        draft_key=draft_key,
        line_message_id=line_message_id,
        kind=kind,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        file_name_ct=keys.data.encrypt_text(file_name, ATTACHMENT_NAME) if file_name else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class PendingMedia:
    id: int
    line_message_id: str
    kind: str
    attempts: int


def claim_pending(
    session: Session, now: datetime, *, limit: int = 10, lease: timedelta = timedelta(minutes=2)
) -> list[PendingMedia]:
    due = ((Attachment.state == "pending") & (Attachment.next_attempt_at <= now)) | (
        (Attachment.state == "fetching") & (Attachment.locked_until < now)
    )
    rows = session.scalars(
        select(Attachment)
        .where(due)
        .order_by(Attachment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.state = "fetching"
        row.locked_until = now + lease
        row.attempts += 1
    return [PendingMedia(r.id, r.line_message_id, r.kind, r.attempts) for r in rows]


def store_content(session: Session, keys: Keyring, attachment_id: int, media: CleanedMedia) -> None:
    session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id)
        .values(
            state="stored",
            locked_until=None,
            content_type=media.content_type,
            size=len(media.content),
            sha256=media.sha256,
            blob_ct=keys.data.encrypt(media.content, ATTACHMENT_BLOB),
            error=None,
        )
    )


def mark_failed(
    session: Session,
    attachment_id: int,
    now: datetime,
    *,
    error: str,
    final: bool,
    delay: timedelta = timedelta(seconds=30),
) -> None:
    session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id)
        .values(
            state="failed" if final else "pending",
            locked_until=None,
            next_attempt_at=now + delay,
            error=error[:200],
        )
    )


def read_content(keys: Keyring, attachment: Attachment) -> bytes:
    if attachment.blob_ct is None:
        raise MediaRejected("this attachment has no stored content")
    return keys.data.decrypt(attachment.blob_ct, ATTACHMENT_BLOB)


def file_name(keys: Keyring, attachment: Attachment) -> str | None:
    if attachment.file_name_ct is None:
        return None
    return keys.data.decrypt_text(attachment.file_name_ct, ATTACHMENT_NAME)


def discard_draft(session: Session, draft_key: str) -> int:
    """Delete everything fetched for a draft that was cancelled or expired."""
    result = session.execute(
        delete(Attachment).where(Attachment.draft_key == draft_key, Attachment.case_id.is_(None))
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def discard_orphans(session: Session, before: datetime) -> int:
    """Delete draft attachments whose draft has expired without becoming a case."""
    result = session.execute(
        delete(Attachment).where(Attachment.case_id.is_(None), Attachment.created_at < before)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
