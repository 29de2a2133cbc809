"""outbox senders: claims tied to a live process

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10

A claimed outbox row names the process sending it (``claimed_by``); each sending process
renews its ``outbox_sender`` row every few seconds (counted in ticks, never stored as an
instant). A row whose sender stopped renewing is
taken over within seconds, instead of waiting out a lease kept to the minute. Nothing
needs rewriting: rows claimed before this have no sender and keep their lease.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_sender",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("alive_tick", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    op.drop_table("outbox_sender")
