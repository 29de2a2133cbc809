"""retention: holds, and the dates that make a case a tombstone

Revision ID: 0013
Revises: 0012

``retention_hold`` records a custodian's hold on a closed case (its reason encrypted under
the data keys, bound to the case number): while it stands, neither the sealed identity nor
the content is removed. ``case.identity_destroyed_at`` and ``case.purged_at`` say when the
retention run destroyed the identity and purged the content (to the minute); a purged case
keeps only what the monthly statistics count. Nothing is re-encrypted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "retention_hold",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_destroyed_at", TS, nullable=True))
        batch_op.add_column(sa.Column("purged_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
        batch_op.drop_column("identity_destroyed_at")
    op.drop_table("retention_hold")
