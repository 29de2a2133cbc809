"""notifications: staff LINE links, groups, link codes, notices, deadline warnings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_line_link",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("line_user_ct", sa.LargeBinary(), nullable=False),
        sa.Column("line_key", sa.String(length=64), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("last_digest_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id"),
        sa.UniqueConstraint("line_key"),
    )
    op.create_table(
        "notification_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("group_id_ct", sa.LargeBinary(), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["registered_by"], ["staff_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_key"),
    )
    op.create_table(
        "link_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_table(
        "link_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_key", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_attempt_chat_key", "link_attempt", ["chat_key"])
    op.create_index("ix_link_attempt_at", "link_attempt", ["at"])
    op.create_table(
        "staff_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_notice_created_at", "staff_notice", ["created_at"])
    op.create_table(
        "deadline_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("deadline_key", sa.String(length=80), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "deadline_key", "threshold", name="uq_deadline_warning"),
    )


def downgrade() -> None:
    op.drop_table("deadline_warning")
    op.drop_index("ix_staff_notice_created_at", table_name="staff_notice")
    op.drop_table("staff_notice")
    op.drop_index("ix_link_attempt_at", table_name="link_attempt")
    op.drop_index("ix_link_attempt_chat_key", table_name="link_attempt")
    op.drop_table("link_attempt")
    op.drop_table("link_code")
    op.drop_table("notification_group")
    op.drop_table("staff_line_link")
