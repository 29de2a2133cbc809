"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:57:47.245523
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("district_code", sa.String(length=8), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("meets_anonymous_bar", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_ct", sa.LargeBinary(), nullable=False),
        sa.Column("public_note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("identity_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("identity_key_fingerprint", sa.String(length=32), nullable=True),
        sa.Column("notify_ct", sa.LargeBinary(), nullable=True),
        sa.Column("notify_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_district_code"), ["district_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_filed_at"), ["filed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_notify_key"), ["notify_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_status"), ["status"], unique=False)

    op.create_table(
        "case_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "conversation",
        sa.Column("reporter_key", sa.String(length=64), nullable=False),
        sa.Column("state_ct", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reporter_key"),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "lookup_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lookup_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_failure_at"), ["at"], unique=False)

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("reply_token", sa.String(length=128), nullable=True),
        sa.Column("reply_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_ct", sa.LargeBinary(), nullable=True),
        sa.Column("payload_ct", sa.LargeBinary(), nullable=True),
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("retry_key"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "processed_event",
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webhook_event_id"),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_event_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("draft_key", sa.String(length=64), nullable=True),
        sa.Column("line_message_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("file_name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("blob_ct", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("line_message_id"),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachment_draft_key"), ["draft_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachment_state"), ["state"], unique=False)

    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_message_case_id"), ["case_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("case_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_message_case_id"))

    op.drop_table("case_message")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_event_case_id"))

    op.drop_table("case_event")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_state"))
        batch_op.drop_index(batch_op.f("ix_attachment_draft_key"))
        batch_op.drop_index(batch_op.f("ix_attachment_case_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_received_at"))

    op.drop_table("processed_event")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox_message")
    with op.batch_alter_table("lookup_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_failure_at"))

    op.drop_table("lookup_failure")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_updated_at"))

    op.drop_table("conversation")
    op.drop_table("case_counter")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_status"))
        batch_op.drop_index(batch_op.f("ix_case_notify_key"))
        batch_op.drop_index(batch_op.f("ix_case_filed_at"))
        batch_op.drop_index(batch_op.f("ix_case_district_code"))
        batch_op.drop_index(batch_op.f("ix_case_category"))

    op.drop_table("case")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_case_id"))

    op.drop_table("audit_entry")
