"""anonymity: the vault, day-keyed chat and event hashes, sealed outbox rows, update links

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Rows that tie a LINE account to anything move under keys that can be destroyed: the
conversation state and pending outbox rows are re-sealed under vault keys, the opt-in
notification address moves from the case to an update link of its own, and event ids
are kept only as hashes under a day key. The rewrite needs the server's keys
(`krasip init`); an empty database migrates without them.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _vault_tables(postgres: bool) -> None:
    # Never in PostgreSQL's write-ahead log; rewritten after deletions (store/vault.py).
    prefixes = ["UNLOGGED"] if postgres else []
    op.create_table(
        "vault_key",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        prefixes=prefixes,
    )
    op.create_table(
        "vault_epoch",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
        prefixes=prefixes,
    )
    if postgres:
        # ANALYZE would copy sample values into pg_statistic, a logged catalogue.
        for table in ("vault_key", "vault_epoch"):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN wrapped SET STATISTICS 0")
        # Counts destroyed keys (never which): the shredder rewrites only after one.
        op.execute("CREATE SEQUENCE vault_destroyed")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    _vault_tables(postgres)
    op.create_table(
        "update_link",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("address_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("update_link") as batch_op:
        batch_op.create_index(batch_op.f("ix_update_link_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", TS, nullable=True))
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "processed_event_new",
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_key"),
    )

    _rewrite(bind)

    op.drop_table("processed_event")
    op.rename_table("processed_event_new", "processed_event")
    with op.batch_alter_table("processed_event") as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_event_day"), ["day"], unique=False)
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.drop_index("ix_conversation_updated_at")
        batch_op.drop_column("updated_at")
        batch_op.alter_column("expires_at", existing_type=TS, nullable=False)
        batch_op.create_index(
            batch_op.f("ix_conversation_expires_at"), ["expires_at"], unique=False
        )
    # Plain ALTER, never SQLite's copy-and-rename: dropping the old "case" table would
    # cascade to every message, event and attachment of every case.
    op.drop_index("ix_case_notify_key", table_name="case")
    op.execute('ALTER TABLE "case" DROP COLUMN notify_key')
    op.execute('ALTER TABLE "case" DROP COLUMN notify_ct')
    op.execute("ALTER TABLE outbox_message DROP COLUMN reply_token")
    op.execute("ALTER TABLE outbox_message DROP COLUMN reply_expires_at")


def _rewrite(bind: sa.Connection) -> None:
    """Move existing rows under the new keys (only when there are any)."""
    meta = sa.MetaData()
    conversation = sa.Table("conversation", meta, autoload_with=bind)
    outbox = sa.Table("outbox_message", meta, autoload_with=bind)
    case = sa.Table("case", meta, autoload_with=bind)
    events = sa.Table("processed_event", meta, autoload_with=bind)
    new_events = sa.Table("processed_event_new", meta, autoload_with=bind)
    pending = sa.and_(outbox.c.payload_ct.is_not(None), outbox.c.state != "sent")
    counts = [
        bind.scalar(sa.select(sa.func.count()).select_from(conversation)),
        bind.scalar(sa.select(sa.func.count()).select_from(outbox).where(pending)),
        bind.scalar(sa.select(sa.func.count()).where(case.c.notify_ct.is_not(None))),
        bind.scalar(sa.select(sa.func.count()).select_from(events)),
    ]
    if not any(counts):
        return

    from store import repo, vault
    from store.crypto import bind as place
    from store.crypto import row_encrypt
    from store.migrate import keyring_for

    keys = keyring_for(context.config, "conversations, the outbox and update addresses")
    session = Session(bind=bind)
    now = datetime.now(UTC)
    for row in bind.execute(sa.select(conversation)).all():
        expires = repo.coarse_time(
            (row.updated_at or now).replace(tzinfo=UTC) + timedelta(hours=24)
        )
        if row.state_ct is None:
            bind.execute(
                conversation.delete().where(conversation.c.reporter_key == row.reporter_key)
            )
            continue
        state = keys.data.decrypt(row.state_ct, "conversation.state")
        key_id, state_ct = vault.seal(
            session, keys, state, place(repo.CONVERSATION, row.reporter_key)
        )
        bind.execute(
            conversation.update()
            .where(conversation.c.reporter_key == row.reporter_key)
            .values(key_id=key_id, state_ct=state_ct, expires_at=expires)
        )
    for row in bind.execute(sa.select(outbox).where(pending)).all():
        to = json.loads(keys.data.decrypt(row.to_ct, "outbox.to")) if row.to_ct else []
        messages = json.loads(keys.data.decrypt(row.payload_ct, "outbox.payload"))
        key_id, secret = vault.new_key(session, keys)
        expires = row.reply_expires_at
        address = json.dumps(
            {
                "to": to,
                "reply_token": row.reply_token,
                "reply_expires_at": expires.replace(tzinfo=UTC).isoformat() if expires else None,
                "retry_key": row.retry_key,  # a retried push keeps the key LINE saw
            }
        ).encode()
        bind.execute(
            outbox.update()
            .where(outbox.c.id == row.id)
            .values(
                key_id=key_id,
                to_ct=row_encrypt(secret, address, place("outbox.to", row.retry_key)),
                payload_ct=row_encrypt(
                    secret,
                    json.dumps(messages, ensure_ascii=False).encode(),
                    place("outbox.payload", row.retry_key),
                ),
            )
        )
    for row in bind.execute(
        sa.select(case.c.id, case.c.notify_ct).where(case.c.notify_ct.is_not(None))
    ).all():
        notify = keys.data.decrypt(row.notify_ct, "case.notify").decode()
        repo.add_update_link(session, keys, row.id, notify)
    day = vault.day_number(now)
    for row in bind.execute(sa.select(events.c.webhook_event_id)).all():
        digest = vault.day_digest(session, keys, repo.EVENT, row.webhook_event_id, day)
        bind.execute(new_events.insert().values(event_key=digest, day=day))
    session.flush()


def downgrade() -> None:
    raise NotImplementedError("keys destroyed by this revision cannot be brought back")
