"""register unread: per staff member read marks, and evidence sent after filing

Revision ID: 0011
Revises: 0010

The register shows "new message from the reporter" and "new evidence" until each staff
member has opened the case. ``case_read_mark`` holds, per staff member and case, the last
reporter message and evidence item shown to them (ids only, no content, no times).
``attachment.after_filing`` tells evidence sent from a lookup apart from evidence filed
with the report; rows from before this migration count as filed with the report, so an
upgraded register starts without evidence markers. Nothing is re-encrypted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_read_mark",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id", "case_id"),
    )
    with op.batch_alter_table("case_read_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_read_mark_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("after_filing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_column("after_filing")
    with op.batch_alter_table("case_read_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_read_mark_case_id"))
    op.drop_table("case_read_mark")
