"""fewer pages per event: event hashes keyed by their day, SQLite tables without rowids

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Every webhook event writes an event hash and a vault key. On SQLite each was a rowid
table with a separate index for its key (and the hashes another for their day): three
pages written per event hash, two per key. The hashes are now keyed by (day, hash) with
no index of their own, and on SQLite both tables are their key's b-tree (WITHOUT ROWID).
SQLite's tables are copied; the pages the old ones held are zeroed as they are freed
(secure_delete, set on every connection by store.db), so no copy of a key outlives it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _events(name: str, *, by_day: bool) -> None:
    key = ("day", "event_key") if by_day else ("event_key",)
    op.create_table(
        name,
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=not by_day,
    )


def _vault_keys(name: str, *, rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_with_rowid=rowid,
    )


def _copy_sqlite(*, keyed: bool) -> None:
    """Copy both tables into their new form, then drop the old ones."""
    _events("processed_event_new", by_day=keyed)
    op.execute(
        "INSERT INTO processed_event_new (day, event_key)"
        " SELECT day, event_key FROM processed_event"
    )
    op.drop_table("processed_event")
    op.rename_table("processed_event_new", "processed_event")
    _vault_keys("vault_key_new", rowid=not keyed)
    op.execute("INSERT INTO vault_key_new (id, wrapped) SELECT id, wrapped FROM vault_key")
    op.drop_table("vault_key")
    op.rename_table("vault_key_new", "vault_key")


def _primary_key(name: str) -> str:
    found = sa.inspect(op.get_bind()).get_pk_constraint(name)["name"]
    assert found, f"{name} has no primary key"
    return str(found)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_sqlite(keyed=True)
        return
    # PostgreSQL: the table was created under another name (0006), so is its key.
    op.drop_constraint(_primary_key("processed_event"), "processed_event", type_="primary")
    op.create_primary_key("processed_event_pkey", "processed_event", ["day", "event_key"])
    op.drop_index("ix_processed_event_day", table_name="processed_event")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_sqlite(keyed=False)
    else:
        op.drop_constraint("processed_event_pkey", "processed_event", type_="primary")
        op.create_primary_key("processed_event_new_pkey", "processed_event", ["event_key"])
    op.create_index("ix_processed_event_day", "processed_event", ["day"], unique=False)
