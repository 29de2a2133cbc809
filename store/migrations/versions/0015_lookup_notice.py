"""lookup notice: when a reporter in a delay was last told to wait

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

During a delay a wrong token is answered at most once a minute, so a flood of them costs
one reply a minute per account, not one each. The minute of the last answer is kept with
the reporter's wrong-token record (to the minute, like its other times).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lookup_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lookup_throttle", schema=None) as batch_op:
        batch_op.drop_column("told_at")
