"""case caps: staff notices gathered per case, one "there is an update" per news, link
attempts under day keys

Revision ID: 0010
Revises: 0009

``case_activity`` holds, per case, how many reporter messages and files staff have not yet
been told of and until when no push about that case goes out (to the minute): one token
can no longer make one push per message to every linked staff member.
``update_link.news_waiting`` marks an update push the reporter has not yet read (by
looking the case up), so a second identical push is not sent. The wrong link codes of
``link_attempt`` were keyed by the chat under the lasting pepper; from now on they are
keyed under the vault's day keys, so the old rows (15 minutes of memory) are dropped.
Nothing is re-encrypted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_activity",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("quiet_until", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("case_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_activity_quiet_until"), ["quiet_until"], unique=False
        )
    with op.batch_alter_table("update_link", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("news_waiting", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(sa.text("DELETE FROM link_attempt"))


def downgrade() -> None:
    with op.batch_alter_table("update_link", schema=None) as batch_op:
        batch_op.drop_column("news_waiting")
    with op.batch_alter_table("case_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_activity_quiet_until"))
    op.drop_table("case_activity")
