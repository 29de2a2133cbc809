"""audit checkpoints: a keyed audit chain and its signed checkpoints

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

Audit entries were linked by plain SHA-256, which anyone who can write to the database
can recompute after changing an entry. From here on each link is an HMAC under the audit
key, which is not in the database. ``audit_chain`` records where the keyed chain starts:
after the last entry there is now, so the old entries keep verifying as they are (and
the first keyed entry fixes them). ``audit_checkpoint`` keeps the signed checkpoints the
worker makes. Nothing is rewritten and no key is needed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("keyed_from", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoint_at"), ["at"], unique=False)
    last = op.get_bind().scalar(sa.text("SELECT max(id) FROM audit_entry"))
    op.bulk_insert(chain, [{"id": 1, "keyed_from": (last or 0) + 1}])


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_at"))
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_chain")
