"""lookup throttle: each reporter's wrong tokens, outside the conversation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

Wrong tokens were counted in the conversation state, which blocking the bot deletes. They
move to a table of their own, keyed by the LINE user ID hashed under a day key, holding
only counts and times to the minute. Nothing needs rewriting: the counts in old states are
dropped the next time each state is read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lookup_throttle",
        sa.Column("reporter_key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("delays", sa.Integer(), nullable=False),
        sa.Column("wait_until", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("reporter_key"),
    )
    with op.batch_alter_table("lookup_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lookup_throttle_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lookup_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_throttle_expires_at"))
    op.drop_table("lookup_throttle")
