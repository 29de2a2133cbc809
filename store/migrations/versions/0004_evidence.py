"""evidence: cleaning results, held-back files, sealed message ids, bound ciphertexts

Attachment rows record what cleaning removed and why a file is held back; LINE's message
id (which LINE can map to its sender) is no longer stored in the clear; the file and its
name are bound to their row. Existing rows are rewritten:

* blob and file name re-encrypted bound to the row's id (needs the server's keys);
* the message id of an item still to fetch is encrypted bound to its row (the vault
  that will seal new ones arrives in 0006); for items already stored or failed it is
  dropped, since nothing needs it;
* files stored before cleaning covered every format were kept byte for byte when they
  were not image messages: they are held back until the custodian releases them;
* times of finished items are coarsened to the hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BLOB, NAME, MESSAGE = "attachment.blob", "attachment.name", "attachment.message"
HELD_BEFORE_CLEANING = "stored_uncleaned"


def _bind(purpose: str, row_id: int) -> str:
    # store.crypto.bind as it is today; written out so this migration never changes.
    return f"{purpose}|{row_id}"


def _hour(at):  # type: ignore[no-untyped-def]
    return at.replace(minute=0, second=0, microsecond=0) if at is not None else None


def upgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(sa.Column("line_message_ct", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("line_message_key", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("removed", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("held_back", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("released_at", TS, nullable=True))
        batch.add_column(
            sa.Column("reporter_told", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    attachment = sa.table(
        "attachment",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("state", sa.String()),
        sa.column("line_message_id", sa.String()),
        sa.column("line_message_ct", sa.LargeBinary()),
        sa.column("blob_ct", sa.LargeBinary()),
        sa.column("file_name_ct", sa.LargeBinary()),
        sa.column("held_back", sa.String()),
        sa.column("created_at", TS),
        sa.column("next_attempt_at", TS),
        sa.column("locked_until", TS),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(attachment)).all()
    if rows:
        from store.migrate import keyring_for

        data = keyring_for(context.config, "attachments").data
        for row in rows:
            values: dict[str, object] = {}
            if row.blob_ct is not None:
                plain = data.decrypt(row.blob_ct, BLOB)
                values["blob_ct"] = data.encrypt(plain, _bind(BLOB, row.id))
            if row.file_name_ct is not None:
                plain = data.decrypt(row.file_name_ct, NAME)
                values["file_name_ct"] = data.encrypt(plain, _bind(NAME, row.id))
            if row.state in ("pending", "fetching"):
                values["line_message_ct"] = data.encrypt(
                    row.line_message_id.encode(), _bind(MESSAGE, row.id)
                )
            else:
                hour = _hour(row.created_at)
                values.update(created_at=hour, next_attempt_at=hour, locked_until=None)
            if row.state == "stored" and row.kind != "image":
                values["held_back"] = HELD_BEFORE_CLEANING
            connection.execute(
                sa.update(attachment).where(attachment.c.id == row.id).values(**values)
            )
    with op.batch_alter_table("attachment") as batch:
        # Its unique constraint goes with it: a redelivered event is already recognised by
        # the webhook's processed-event check.
        batch.drop_column("line_message_id")


def downgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(sa.Column("line_message_id", sa.String(length=64), nullable=True))
    attachment = sa.table(
        "attachment",
        sa.column("id", sa.Integer()),
        sa.column("line_message_id", sa.String()),
        sa.column("line_message_ct", sa.LargeBinary()),
        sa.column("line_message_key", sa.BigInteger()),
        sa.column("blob_ct", sa.LargeBinary()),
        sa.column("file_name_ct", sa.LargeBinary()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(attachment)).all()
    if rows:
        from store.migrate import keyring_for

        data = keyring_for(context.config, "attachments").data
        for row in rows:
            message = f"gone-{row.id}"  # an id sealed in the vault cannot come back here
            if row.line_message_ct is not None and row.line_message_key is None:
                message = data.decrypt(row.line_message_ct, _bind(MESSAGE, row.id)).decode()
            values: dict[str, object] = {"line_message_id": message}
            if row.blob_ct is not None:
                plain = data.decrypt(row.blob_ct, _bind(BLOB, row.id))
                values["blob_ct"] = data.encrypt(plain, BLOB)
            if row.file_name_ct is not None:
                plain = data.decrypt(row.file_name_ct, _bind(NAME, row.id))
                values["file_name_ct"] = data.encrypt(plain, NAME)
            connection.execute(
                sa.update(attachment).where(attachment.c.id == row.id).values(**values)
            )
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("line_message_id", nullable=False)
        batch.create_unique_constraint("uq_attachment_line_message_id", ["line_message_id"])
        for column in (
            "reporter_told",
            "released_at",
            "held_back",
            "removed",
            "line_message_key",
            "line_message_ct",
        ):
            batch.drop_column(column)
