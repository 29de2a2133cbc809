"""bound ciphertexts: every data-key ciphertext names the row it belongs to

Until now a ciphertext's associated data was its purpose alone, so one copied to another
row of the same column still opened there (case 1's report shown as case 3's). This
re-encrypts each existing one with the purpose and its row's identity as associated data
(``store.crypto.bind``): case content and public note bound to the case number, messages
to case number, message id and direction, internal notes to note id and case, TOTP
secrets to the account, staff LINE links to the staff account, notification groups to
their group key. It needs the server's keys (`krasip init`) when such rows exist.

Sealed identities cannot be re-sealed here: the server has only the public key. Rows
sealed before this revision stay in the old form, are refused when opened, and the
custodian re-seals them bound to their case number with `krasip keys rebind`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from store.crypto import bind
from store.migrate import keyring_for

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# The purposes as they were, and as they are bound now (frozen here, not imported).
CONTENT, NOTE, MESSAGE = "case.content", "case.public_note", "case_message.body"
CASE_NOTE, TOTP = "case_note.body", "staff.totp"
STAFF_LINE, GROUP = "staff.line_user", "notification_group.id"
SEALED_IDENTITY = "_sealed_identity"  # the reserved key store.repo adds to the content

case = sa.table(
    "case",
    sa.column("id", sa.Integer),
    sa.column("number", sa.String),
    sa.column("content_ct", sa.LargeBinary),
    sa.column("public_note_ct", sa.LargeBinary),
    sa.column("identity_sealed", sa.LargeBinary),
)
message = sa.table(
    "case_message",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("direction", sa.String),
    sa.column("body_ct", sa.LargeBinary),
)
note = sa.table(
    "case_note",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("body_ct", sa.LargeBinary),
)
staff_user = sa.table(
    "staff_user", sa.column("id", sa.Integer), sa.column("totp_secret_ct", sa.LargeBinary)
)
line_link = sa.table(
    "staff_line_link",
    sa.column("staff_id", sa.Integer),
    sa.column("line_user_ct", sa.LargeBinary),
)
group = sa.table(
    "notification_group",
    sa.column("id", sa.Integer),
    sa.column("group_key", sa.String),
    sa.column("group_id_ct", sa.LargeBinary),
)

Row = Any
# (table, primary key column, ciphertext column, its old purpose, its row's new binding)
Rewrite = tuple[sa.TableClause, str, str, str, Callable[[Row], str]]


def _rewrites() -> list[Rewrite]:
    return [
        (case, "id", "content_ct", CONTENT, lambda r: bind(CONTENT, r.number)),
        (case, "id", "public_note_ct", NOTE, lambda r: bind(NOTE, r.number)),
        (message, "id", "body_ct", MESSAGE, lambda r: bind(MESSAGE, r.number, r.id, r.direction)),
        (note, "id", "body_ct", CASE_NOTE, lambda r: bind(CASE_NOTE, r.id, r.case_id)),
        (staff_user, "id", "totp_secret_ct", TOTP, lambda r: bind(TOTP, r.id)),
        (line_link, "staff_id", "line_user_ct", STAFF_LINE, lambda r: bind(STAFF_LINE, r.staff_id)),
        (group, "id", "group_id_ct", GROUP, lambda r: bind(GROUP, r.group_key)),
    ]


def _batches(
    connection: sa.Connection, table: sa.TableClause, pk: str, column: str
) -> Iterator[Sequence[Row]]:
    """The rows holding a ciphertext in ``column``, in batches by primary key; messages
    come with their case number."""
    key = table.c[pk]
    query = sa.select(table).where(table.c[column].is_not(None)).order_by(key).limit(BATCH)
    if table is message:
        query = (
            sa.select(*table.c, case.c.number)
            .join(case, case.c.id == table.c.case_id)
            .where(table.c[column].is_not(None))
            .order_by(key)
            .limit(BATCH)
        )
    last = None
    while True:
        batch = connection.execute(query if last is None else query.where(key > last)).all()
        if batch:
            yield batch
        if len(batch) < BATCH:
            return
        last = getattr(batch[-1], pk)


def _has_rows(connection: sa.Connection) -> bool:
    return any(
        connection.execute(sa.select(t.c[pk]).where(t.c[col].is_not(None)).limit(1)).first()
        for t, pk, col, _, _ in _rewrites()
    )


def _rewrite(
    connection: sa.Connection,
    convert: Callable[[str, str, bytes], bytes],
) -> None:
    for table, pk, column, old, new in _rewrites():
        statement = (
            table.update()
            .where(table.c[pk] == sa.bindparam("b_pk"))
            .values({column: sa.bindparam("b_ct")})
        )
        for batch in _batches(connection, table, pk, column):
            updates = [
                {"b_pk": getattr(row, pk), "b_ct": convert(old, new(row), getattr(row, column))}
                for row in batch
            ]
            connection.execute(statement, updates)


def upgrade() -> None:
    connection = op.get_bind()
    if not _has_rows(connection):
        return  # an empty database migrates without keys
    ring = keyring_for(context.config, "every stored ciphertext, to bind it to its row").data

    def convert(old: str, new: str, blob: bytes) -> bytes:
        return ring.encrypt(ring.decrypt(blob, old), new)

    _rewrite(connection, convert)


def downgrade() -> None:
    connection = op.get_bind()
    sealed = (
        row.identity_sealed
        for b in _batches(connection, case, "id", "identity_sealed")
        for row in b
    )
    if any(bytes(blob).startswith(b"krasip-identity/2\n") for blob in sealed):
        raise RuntimeError(
            "identities sealed bound to their case cannot be sealed in the old form without "
            "the custodian's private key: this revision cannot be downgraded"
        )
    if not _has_rows(connection):
        return
    ring = keyring_for(context.config, "every stored ciphertext, to unbind it").data

    def convert(old: str, new: str, blob: bytes) -> bytes:
        plaintext = ring.decrypt(blob, new)
        if old == CONTENT:
            content = json.loads(plaintext)
            content.pop(SEALED_IDENTITY, None)
            plaintext = json.dumps(content, ensure_ascii=False).encode()
        return ring.encrypt(plaintext, old)

    _rewrite(connection, convert)
