"""The case register and everything the bot must not lose.

Columns ending in ``_ct`` hold AES-GCM ciphertext under the data keys; ``identity_sealed``
holds HPKE ciphertext only the custodian's private key opens. Nothing here holds a LINE
user ID, a token or report text in the clear.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    literal,
    text,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

LONG_AGO = text("'1970-01-01 00:00:00'")  # a time every clock has passed


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        # One zone in storage, so SQLite's text comparison orders times correctly.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class MinuteDateTime(UTCDateTime):
    """A time kept to the minute. For the moments a reporter acts (filing, writing, reading
    a reply): an exact instant could be matched to the chat's own timing; nothing here
    needs seconds."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        value = super().process_bind_param(value, dialect)
        return value.replace(second=0, microsecond=0) if value is not None else None


class Base(DeclarativeBase):
    pass


class ProcessedEvent(Base):
    """Webhook events already handled, so a redelivery changes nothing.

    Only a keyed hash of LINE's event id is kept, under a day key the vault destroys after
    two days (LINE can map an event id to its user), and only the day it came.

    Keyed by the day first: a hash is looked up under its own day, and a day's rows go
    together. On SQLite the key is the table (no rowid): one b-tree, where a rowid table
    and two indexes wrote three pages for every event.
    """

    __tablename__ = "processed_event"
    __table_args__ = (PrimaryKeyConstraint("day", "event_key"), {"sqlite_with_rowid": False})

    day: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(64))


class Conversation(Base):
    """A reporter's conversation state (the draft form), sealed under a vault key that is
    replaced at every save; keyed by ``reporter_key``, a hash of the LINE user ID under a
    day key the vault destroys, so an old row names nobody."""

    __tablename__ = "conversation"

    reporter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int | None] = mapped_column(BigInteger)
    state_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When the state must be forgotten, rounded up to ten minutes: no exact instants.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class VaultKey(Base):
    """One row's own key, wrapped under the data key. Destroying it makes that row's
    ciphertext, wherever a copy survives (old row versions, logs, backups), unreadable.

    On PostgreSQL this table is UNLOGGED (never in the write-ahead log) and rewritten
    after deletions; on SQLite deletions are zeroed (secure_delete), the table written
    again after deletions (store.vault.Shredder) and the log truncated.
    On SQLite the id is the table's key (no rowid): a new key writes one page, not two.
    """

    __tablename__ = "vault_key"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class VaultEpoch(Base):
    """One day's key for keyed hashes of LINE identifiers; destroyed after two days."""

    __tablename__ = "vault_epoch"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class CaseCounter(Base):
    """The last case number given out per year."""

    __tablename__ = "case_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(32), default="line")
    lang: Mapped[str] = mapped_column(String(8), default="th")
    # Category and district stay readable: statistics and triage need them, and they
    # identify no one.
    category: Mapped[str] = mapped_column(String(32), index=True)
    district_code: Mapped[str | None] = mapped_column(String(8), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    meets_anonymous_bar: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32), default="received", index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))
    filed_at: Mapped[datetime] = mapped_column(MinuteDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(MinuteDateTime)
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)
    public_note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    identity_key_fingerprint: Mapped[str | None] = mapped_column(String(32))
    # Set by the retention run (store.retention): the identity destroyed, the content purged.
    identity_destroyed_at: Mapped[datetime | None] = mapped_column(MinuteDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(MinuteDateTime)
    # When the deadline scan must next look at the case (its next warning falls due, or
    # something happened on it); None: no warning will fall due without a new event. A new
    # case, however it was written, is looked at by the next scan.
    deadline_look_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, server_default=LONG_AGO
    )

    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", order_by="CaseMessage.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.id"
    )


class UpdateLink(Base):
    """The one link a reporter may choose: their LINE user ID, sealed under this row's own
    vault key, so the bot can say "there is an update". Destroyed when the case closes or
    the reporter sends "stop updates"; nothing else ties a case to a chat."""

    __tablename__ = "update_link"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int] = mapped_column(BigInteger)
    address_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # A "there is an update" push went out and the reporter has not looked since: a second
    # identical push would say nothing new (issue 14, item 7).
    # Server default only, not fetched back: migration 0006 writes links through this
    # model before the column exists, so no INSERT of a link may name it.
    news_waiting: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __mapper_args__ = {"eager_defaults": False}


class CaseMessage(Base):
    """A message on a case: from the reporter (via token) or from staff to the reporter."""

    __tablename__ = "case_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))  # "reporter" | "staff"
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(MinuteDateTime)
    read_at: Mapped[datetime | None] = mapped_column(MinuteDateTime)

    case: Mapped[Case] = relationship(back_populates="messages")


class CaseEvent(Base):
    """The case timeline: status changes and other milestones, for staff and deadlines."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(MinuteDateTime)
    status: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(CaseEvent, "after_insert")
def _look_again(mapper: Mapper[CaseEvent], connection: Connection, target: CaseEvent) -> None:
    """Whatever happens on a case after its filing may start or meet a deadline: the next
    deadline scan looks at the case again (a closed case never has one). To the minute,
    as the event itself is kept."""
    if target.kind == "filed":
        return  # the case row's own default already asks for a first look
    table = cast(Table, Case.__table__)
    at = literal(target.at, MinuteDateTime)
    closed = target.kind == "status" and target.status == "closed"
    look = None if closed else sql_case((table.c.status == "closed", None), else_=at)
    connection.execute(
        update(table).where(table.c.id == target.case_id).values(deadline_look_at=look)
    )


class Attachment(Base):
    """Evidence sent by the reporter: fetched by the worker, cleaned, encrypted."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), index=True
    )
    draft_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # LINE can tell which account sent a message id: it is kept only sealed under a vault
    # key of its own, destroyed once the file is stored or given up on.
    line_message_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    line_message_key: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    file_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    blob_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Kinds of metadata the clean copy lost ("gps,camera,capture_time"), never values.
    removed: Mapped[str | None] = mapped_column(String(300))
    # Why a file kept as sent is held back from staff; None when it was cleaned.
    held_back: Mapped[str | None] = mapped_column(String(32))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A file that could not be kept is mentioned once, at the reporter's next lookup.
    reporter_told: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Sent to a case already filed (from a lookup), not with the report: the register
    # marks it as new evidence until each staff member has opened the case.
    after_filing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    case: Mapped[Case | None] = relationship(back_populates="attachments")


class OutboxMessage(Base):
    """Every message the bot sends goes out through here, after the commit that caused it.

    The destination, the reply token and the messages are sealed under the row's own vault
    key (a receipt carries the tracking token), destroyed once delivered.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "reply" | "push" | "multicast"
    purpose: Mapped[str] = mapped_column(String(32), default="reply")
    key_id: Mapped[int | None] = mapped_column(BigInteger)
    to_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    retry_key: Mapped[str] = mapped_column(String(36), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(MinuteDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(MinuteDateTime)
    # The live sender (OutboxSender) holding a "sending" row: when its heartbeat stops,
    # the row is taken over at once rather than when locked_until (a minute) runs out.
    claimed_by: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class OutboxSender(Base):
    """A process that sends outbox rows, alive while its heartbeat renews ``alive_tick``.

    Liveness is counted in ticks of a few seconds since the epoch, never stored as an
    instant: a reporter's times are kept to the minute, and a heartbeat stamped to the
    second could match one. Its id is random per process start."""

    __tablename__ = "outbox_sender"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    alive_tick: Mapped[int] = mapped_column(BigInteger)


class LookupFailure(Base):
    """One wrong token, counted towards the global ceiling; old rows are pruned."""

    __tablename__ = "lookup_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(MinuteDateTime, index=True)


class RetentionHold(Base):
    """A custodian's hold on a closed case: while it stands, retention removes neither the
    sealed identity nor the content. The reason is encrypted, bound to the case number."""

    __tablename__ = "retention_hold"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), primary_key=True
    )
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class LookupThrottle(Base):
    """One reporter's wrong tokens, kept apart from the conversation so that blocking and
    unblocking the bot does not reset a delay.

    Keyed by the LINE user ID hashed under a day key (a row found under yesterday's key
    moves to today's); only counts and times to the minute, nothing that names a case.
    The worker deletes a row at ``expires_at`` (rounded up to ten minutes)."""

    __tablename__ = "lookup_throttle"

    reporter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    delays: Mapped[int] = mapped_column(Integer)
    wait_until: Mapped[datetime | None] = mapped_column(MinuteDateTime)
    told_at: Mapped[datetime | None] = mapped_column(MinuteDateTime)  # last "please wait"
    expires_at: Mapped[datetime] = mapped_column(MinuteDateTime, index=True)


class AuditEntry(Base):
    """Append-only, hash-chained record of sensitive acts (identity openings first of all)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChain(Base):
    """One row: the id of the first entry linked under the audit key (store/audit.py).
    Entries before it, written before the key existed, have plain SHA-256 links."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    keyed_from: Mapped[int] = mapped_column(Integer)


class AuditCheckpoint(Base):
    """A signed checkpoint of the audit chain (its one-line form). The copies that count
    are those outside the database; these only spare a verifier from finding them."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer)
    line: Mapped[str] = mapped_column(Text)


# --- notifications on LINE (staff links, groups, deadlines, digests) ---------------


class StaffLineLink(Base):
    """A staff member's LINE account, linked by a one-time code; pushes go here."""

    __tablename__ = "staff_line_link"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    line_user_ct: Mapped[bytes] = mapped_column(LargeBinary)
    line_key: Mapped[str] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationGroup(Base):
    """A LINE group registered by an admin as a place for staff notifications."""

    __tablename__ = "notification_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(64), unique=True)
    group_id_ct: Mapped[bytes] = mapped_column(LargeBinary)
    registered_by: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LinkCode(Base):
    """A one-time code (kept as an HMAC) that links a LINE account or group; 10 minutes."""

    __tablename__ = "link_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "staff" | "group"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkAttempt(Base):
    """A wrong link code from one chat; too many in a window and that chat must wait."""

    __tablename__ = "link_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StaffNotice(Base):
    """Something staff should hear about; pushed at once, or gathered into a daily digest.

    Holds no identity and no report text: the kind, the case and non-secret details."""

    __tablename__ = "staff_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(MinuteDateTime, index=True)


class CaseActivity(Base):
    """Reporter activity on a case not yet told to staff: staff hear of a busy case at most
    once per interval, with counts, not once per message (issue 13, finding 8). Counts and
    a time to the minute, per case; the row goes once nothing is waiting."""

    __tablename__ = "case_activity"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), primary_key=True
    )
    messages: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    # No push about this case before then; the worker sends what waits once it has passed.
    quiet_until: Mapped[datetime] = mapped_column(MinuteDateTime, index=True)


class DeadlineWarning(Base):
    """A deadline warning sent: the unique key makes it once per case, deadline, threshold."""

    __tablename__ = "deadline_warning"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    deadline_key: Mapped[str] = mapped_column(String(80))
    threshold: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("case_id", "deadline_key", "threshold", name="uq_deadline_warning"),
    )


# --- the web console (issue: triage, sealed identities, messages, statistics) --------


class StaffUser(Base):
    """A console account. Roles: ``staff``, ``admin``, ``custodian`` (DESIGN.md)."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    # The TOTP secret, encrypted under the data keys; confirmed once a first code matched.
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted time step: a code is never accepted twice (replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(8), default="th")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A signed-in console session. The cookie holds a random id; only its SHA-256 is
    here, so a copy of the database cannot be used to sign in. Deleting the rows of an
    account ends all its sessions at once (log-out, password change, disable, TOTP reset)."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """One log-in attempt, kept in the database so every web worker counts the same."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    # A hash of the browser's known-device cookie for this account (if it sent one), so a
    # browser that logged in before is slowed by its own failures, not an attacker's.
    device: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
        Index("ix_login_attempt_at", "at"),
    )


class CaseNote(Base):
    """An internal note on a case, encrypted; never shown to the reporter."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(64))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class CaseReadMark(Base):
    """What one staff member has seen of a case: the last reporter message and evidence
    item shown to them. Newer ones are the register's unread markers, per staff member."""

    __tablename__ = "case_read_mark"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    message_id: Mapped[int] = mapped_column(Integer, default=0)
    attachment_id: Mapped[int] = mapped_column(Integer, default=0)


# Indexes for the console's case list (keyset pagination over 100,000+ cases) and the
# monthly statistics; declared here so `alembic check` sees them.
Index("ix_case_filed_at_id", Case.filed_at, Case.id)
Index("ix_case_updated_at_id", Case.updated_at, Case.id)
Index("ix_case_status_filed_at_id", Case.status, Case.filed_at, Case.id)
Index("ix_case_channel_filed_at_id", Case.channel, Case.filed_at, Case.id)
