"""Retention by policy: what a closed case keeps, and for how long.

Two clocks start when a case closes (its last move to "closed"):

* the sealed identity is destroyed after ``identity_days`` (default 90);
* the content — the report, the public note, messages, internal notes, evidence — is
  purged after ``content_years`` (default 10), leaving a tombstone: the case number,
  category, district, channel, dates, status and outcome, and the case's events (dates,
  statuses, outcomes and staff names, no text). That is all the monthly statistics read,
  so past months count the same after a purge.

A custodian's hold (:func:`hold`, with a reason) stops both clocks for one case until
released. Holds, releases, destructions and purges are written to the audit log.

Unrecoverable: rows are deleted and the vault keys that protected parts of them are
destroyed; then :func:`compact` makes the database files forget the old row versions
(SQLite zeroes deleted cells with ``secure_delete`` and the shredder truncates its log;
PostgreSQL's tables are rewritten by ``VACUUM FULL``, then the write-ahead log segments
that hold the purged rows are closed and dropped by a checkpoint). PostgreSQL drops them
only when the server lets it: ``wal_recycle = off`` (else old segments are renamed and
kept), no archive, slot, standby or ``wal_keep_size`` keeping old log, and a role allowed
to switch segments and checkpoint. :func:`wal_warnings` says what is missing; the purge
runs anyway (README, "Retention").
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Subquery,
    delete,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from store import repo, vault
from store.crypto import Keyring, bind, open_in_place
from store.models import (
    Attachment,
    Case,
    CaseActivity,
    CaseEvent,
    CaseMessage,
    CaseNote,
    CaseReadMark,
    DeadlineWarning,
    RetentionHold,
    StaffNotice,
    UpdateLink,
)

log = logging.getLogger(__name__)

HOLD_REASON = "retention.hold"
IDENTITY_DAYS = 90
CONTENT_YEARS = 10
# Tables whose old row versions a purge or a destruction leaves behind on PostgreSQL.
PURGED_TABLES = ("case", "case_message", "case_note", "attachment", "update_link")
BATCH = 100  # cases per transaction of a run


class RetentionError(Exception):
    """A hold or release that cannot be done (no such case, not closed, …)."""


@dataclass(frozen=True)
class Policy:
    identity_days: int = IDENTITY_DAYS
    content_years: int = CONTENT_YEARS

    def identity_closed_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.identity_days)

    def content_closed_before(self, now: datetime) -> datetime:
        year = now.year - self.content_years
        # 29 February has no twin in most years: the day before counts.
        day = min(now.day, 28) if now.month == 2 and now.day == 29 else now.day
        return now.replace(year=year, day=day)


@dataclass
class Plan:
    """What a run removes now: case numbers only, never content."""

    identities: list[str] = field(default_factory=list)
    purges: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # due, but a custodian holds them


def _closed_at() -> Subquery:
    """Each case's last closure, as a subquery (case_id, at)."""
    return (
        select(CaseEvent.case_id, func.max(CaseEvent.at).label("at"))
        .where(CaseEvent.kind == "status", CaseEvent.status == "closed")
        .group_by(CaseEvent.case_id)
        .subquery()
    )


def _due(
    session: Session, before: datetime, *extra: ColumnElement[bool]
) -> list[tuple[int, str, bool]]:
    closed = _closed_at()
    rows = session.execute(
        select(Case.id, Case.number, RetentionHold.case_id.is_not(None))
        .join(closed, closed.c.case_id == Case.id)
        .outerjoin(RetentionHold, RetentionHold.case_id == Case.id)
        .where(Case.status == "closed", closed.c.at <= before, *extra)
        .order_by(Case.id)
    ).all()
    return [(case_id, number, bool(held)) for case_id, number, held in rows]


def plan(
    session: Session, policy: Policy, now: datetime, *, only: Collection[int] | None = None
) -> tuple[Plan, list[int], list[int]]:
    """What the next run removes (of the cases ``only``, if given): the plan, and the ids
    of identities and contents."""
    result = Plan()
    identity_ids: list[int] = []
    purge_ids: list[int] = []
    among = [Case.id.in_(only)] if only is not None else []
    for case_id, number, held in _due(
        session,
        policy.identity_closed_before(now),
        Case.identity_sealed.is_not(None),
        Case.purged_at.is_(None),
        *among,
    ):
        if held:
            result.held.append(number)
        else:
            result.identities.append(number)
            identity_ids.append(case_id)
    for case_id, number, held in _due(
        session, policy.content_closed_before(now), Case.purged_at.is_(None), *among
    ):
        if held:
            if number not in result.held:
                result.held.append(number)
        else:
            result.purges.append(number)
            purge_ids.append(case_id)
    return result, identity_ids, purge_ids


def _destroy_identity(case: Case, now: datetime) -> None:
    case.identity_sealed = None
    case.identity_key_fingerprint = None
    case.identity_destroyed_at = now


def _purge(session: Session, case: Case, now: datetime) -> dict[str, int]:
    """Delete what the case said and who could be reached; keep the tombstone."""
    link_keys = list(
        session.scalars(select(UpdateLink.key_id).where(UpdateLink.case_id == case.id))
    )
    file_keys = list(
        session.scalars(select(Attachment.line_message_key).where(Attachment.case_id == case.id))
    )
    destroyed = vault.destroy(session, [*link_keys, *file_keys])
    counts = {"keys": destroyed}
    for name, model in (
        ("messages", CaseMessage),
        ("notes", CaseNote),
        ("files", Attachment),
        ("links", UpdateLink),
    ):
        counts[name] = session.execute(
            delete(model).where(model.case_id == case.id)  # type: ignore[attr-defined]
        ).rowcount  # type: ignore[attr-defined]
    for other in (StaffNotice, CaseActivity, DeadlineWarning, CaseReadMark):
        session.execute(delete(other).where(other.case_id == case.id))  # type: ignore[attr-defined]
    if case.identity_sealed is not None:
        _destroy_identity(case, now)
    case.content_ct = b""
    case.public_note_ct = None
    # The token no longer finds anything: a random value keeps the column unique.
    case.token_hash = secrets.token_hex(32)
    case.purged_at = now
    return counts


def run(
    session: Session,
    policy: Policy,
    now: datetime,
    *,
    actor: str = "retention",
    only: Collection[int] | None = None,
) -> Plan:
    """Destroy the identities and purge the contents that are due (of the cases ``only``,
    if given: a batch, see :func:`due_ids`); audited per case.

    Call :func:`compact` (and the vault's shredder) after the commit."""
    result, identity_ids, purge_ids = plan(session, policy, now, only=only)
    purging = set(purge_ids)
    for case_id in identity_ids:
        if case_id in purging:
            continue  # the purge destroys it too, in one audit entry
        case = session.get(Case, case_id, with_for_update=True)
        assert case is not None
        _destroy_identity(case, now)
        repo.audit(
            session,
            actor=actor,
            action="retention.identity_destroyed",
            now=now,
            case_id=case_id,
            detail=f"{case.number}; {policy.identity_days} days after closure",
        )
    for case_id in purge_ids:
        case = session.get(Case, case_id, with_for_update=True)
        assert case is not None
        had_identity = case.identity_sealed is not None
        counts = _purge(session, case, now)
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        repo.audit(
            session,
            actor=actor,
            action="retention.purge",
            now=now,
            case_id=case_id,
            detail=f"{case.number}; {policy.content_years} years after closure; {shown}"
            + ("; identity destroyed" if had_identity else ""),
        )
    return result


def due_ids(session: Session, policy: Policy, now: datetime) -> list[int]:
    """Every case a run would touch now, in order: run them in batches of :data:`BATCH`,
    each its own transaction, so a first run over years of closed cases never holds the
    database (SQLite's writer lock) for more than a moment at a time."""
    _, identity_ids, purge_ids = plan(session, policy, now)
    return sorted({*identity_ids, *purge_ids})


@dataclass(frozen=True)
class WalState:
    """What decides whether PostgreSQL's write-ahead log forgets a purge (no case data)."""

    role: str
    recycle: bool  # wal_recycle: old segments renamed and kept for reuse, bytes intact
    archive_mode: str
    keep_mb: int  # wal_keep_size
    slots: int  # replication slots: each holds the log its consumer has not read
    standbys: int  # connected WAL receivers (standbys, pg_receivewal, base backups)
    may_switch: bool  # EXECUTE on pg_switch_wal()
    may_checkpoint: bool  # superuser or pg_checkpoint (PostgreSQL 15+)


def read_wal_state(engine: Engine) -> WalState | None:
    """The server's settings that keep old log segments; None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    setting = func.current_setting
    roles = table("pg_roles", literal_column("oid"), literal_column("rolname"))
    query = select(
        literal_column("current_user"),
        setting("wal_recycle") == "on",
        setting("archive_mode"),
        select(literal_column("setting::int"))
        .select_from(table("pg_settings"))
        .where(literal_column("name") == "wal_keep_size")
        .scalar_subquery(),
        select(func.count()).select_from(table("pg_replication_slots")).scalar_subquery(),
        select(func.count()).select_from(table("pg_stat_replication")).scalar_subquery(),
        func.has_function_privilege("pg_switch_wal()", "EXECUTE"),
        # pg_checkpoint exists from PostgreSQL 15; before, only a superuser may checkpoint.
        exists(
            select(1)
            .select_from(roles)
            .where(
                roles.c.rolname == "pg_checkpoint",
                func.pg_has_role(roles.c.oid, "USAGE"),
            )
        ),
    )
    with engine.connect() as connection:
        row = connection.execute(query).one()
    return WalState(*row)


def wal_warnings(state: WalState | None) -> list[str]:
    """What keeps purged data in PostgreSQL's log after a run, each with its remedy.

    Settings and role names only: never a case, a token or content."""
    if state is None:
        return []
    role = state.role.replace('"', '""')
    said: list[str] = []
    if state.recycle:
        said.append(
            "wal_recycle is on: PostgreSQL renames old log segments for reuse and keeps "
            "their bytes, purged cases included; set it off (ALTER SYSTEM SET wal_recycle "
            "= off; SELECT pg_reload_conf();)"
        )
    if state.archive_mode != "off":
        said.append(
            f"archive_mode is {state.archive_mode}: the WAL archive keeps purged cases "
            "until its copies expire; keep them no longer than the retention period"
        )
    if state.keep_mb > 0:
        said.append(
            f"wal_keep_size is {state.keep_mb} MB: that much old log, purged cases "
            "included, stays after each checkpoint; set it to 0"
        )
    if state.slots:
        said.append(
            f"{state.slots} replication slot(s) hold the log until their consumers read it; "
            "a standby or a logical subscriber keeps its own copy"
        )
    if state.standbys:
        said.append(
            f"{state.standbys} standby or WAL receiver(s) connected: each keeps its own "
            "copy of the log and of the data files"
        )
    if not state.may_switch:
        said.append(
            "this role may not close the log segment that holds the purge: as a superuser, "
            f'in this database, GRANT EXECUTE ON FUNCTION pg_switch_wal() TO "{role}";'
        )
    if not state.may_checkpoint:
        said.append(
            "this role may not run CHECKPOINT, so old log segments stay until PostgreSQL's "
            f'own checkpoints drop them: as a superuser, GRANT pg_checkpoint TO "{role}"; '
            "(PostgreSQL 15 or later)"
        )
    return said


SNAPSHOT_WAIT = 30.0
# Other sessions of this database whose snapshot (or transaction) began before ``:ref``
# committed, a transaction of the wait's own: snapshots taken later start past it. Their
# xmin is shown to any role; xids are compared by age, which survives wraparound.
_OLDER_SNAPSHOTS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND (age(backend_xmin) >= age(CAST(CAST(:ref AS text) AS xid))"
    " OR age(backend_xid) >= age(CAST(CAST(:ref AS text) AS xid)))"
)


def _old_snapshots_ended(engine: Engine, timeout: float = SNAPSHOT_WAIT) -> bool:
    """Wait until no session still sees what the purge deleted (an autovacuum ANALYZE or
    a long report that began before it commits): ``VACUUM FULL`` copies every row version
    an open snapshot could see into the new file. False if one outlived ``timeout``."""
    deadline = time.monotonic() + timeout
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        own = text("SELECT pg_current_xact_id()::text::bigint % 4294967296")
        ref = connection.execute(own).scalar_one()
        while connection.execute(_OLDER_SNAPSHOTS, {"ref": ref}).scalar_one():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")


def _rewrite(engine: Engine, timeout: float = SNAPSHOT_WAIT) -> list[str]:
    """``VACUUM FULL`` each purged table until it keeps no dead row version, as the
    server itself reports (VERBOSE): a snapshot a role cannot see in pg_stat_activity
    (an autovacuum ANALYZE) still makes it copy old versions into the new file, and a
    later write would then log that page whole. A table another session is reading is
    tried again rather than waited on: a queued rewrite would stall the webhook behind
    it. Returns what could not be done within ``timeout``."""
    deadline = time.monotonic() + timeout
    problems = []
    for name in PURGED_TABLES:
        while (kept := _vacuum_full(engine, name)) != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        if kept is None:
            problems.append(f'table "{name}" stayed in use {timeout:.0f} s: not rewritten')
        elif kept:
            problems.append(
                f"a transaction older than the purge stayed open {timeout:.0f} s: {kept} old "
                f'row versions of "{name}" it could still see are kept until a later run'
            )
    return problems


def _vacuum_full(engine: Engine, table: str) -> int | None:
    """Rewrite one table: the dead row versions the server says it had to keep, or None
    when the table's lock was not had within ``vault.REWRITE_WAIT_MS``: a rewrite queued
    behind a reader holds every webhook behind it, so it waits briefly and goes again."""
    said: list[str] = []

    def hear(notice: Any) -> None:
        said.append(notice.message_detail or "")

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        raw = connection.connection.driver_connection
        assert raw is not None  # a checked-out connection
        raw.add_notice_handler(hear)
        connection.execute(text(f"SET lock_timeout = {vault.REWRITE_WAIT_MS}"))
        try:
            connection.execute(text(f'VACUUM (FULL, VERBOSE) "{table}"'))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != vault.LOCK_NOT_AVAILABLE:
                raise
            return None
        finally:
            connection.execute(text("RESET lock_timeout"))
            raw.remove_notice_handler(hear)  # the connection goes back to the pool
    return sum(int(m.group(1)) for m in map(_KEPT.search, said) if m)


def compact(engine: Engine) -> list[str]:
    """Make the files forget purged rows' old versions; returns :func:`wal_warnings`.

    SQLite zeroed them already with ``secure_delete`` (the vault's shredder truncates its
    log). PostgreSQL: rewrite the tables, then close the log segment that holds the purge
    (``pg_switch_wal``) and checkpoint, which drops every segment before the new one, or
    renames them for reuse unless ``wal_recycle`` is off. What the server keeps anyway
    (an archive, a slot, a standby) or what the role may not do is logged, never fatal:
    the rows are gone either way."""
    if engine.dialect.name != "postgresql":
        return []
    state = read_wal_state(engine)
    assert state is not None
    warnings = wal_warnings(state)
    if not _old_snapshots_ended(engine):
        warnings.append(
            f"a transaction older than the purge stayed open {SNAPSHOT_WAIT:.0f} s: old "
            "row versions it could still see are kept until a later run rewrites the tables"
        )
    warnings += _rewrite(engine)
    # Whole pages written since the last checkpoint carry the purged rows: close the
    # segment first, so the checkpoint's start lies past everything the purge wrote.
    steps = ["SELECT pg_switch_wal()"] if state.may_switch else []
    steps += ["CHECKPOINT"] if state.may_checkpoint else []
    for step in steps:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            try:
                connection.execute(text(step))
            except DBAPIError as exc:
                if step.startswith("VACUUM"):
                    raise
                name = step.removeprefix("SELECT ")
                warnings.append(f"{name} failed ({type(exc.orig).__name__}): old log kept")
    for warning in warnings:
        log.warning("retention: PostgreSQL may keep purged data: %s", warning)
    return warnings


# --- holds ---------------------------------------------------------------------------


def _case(session: Session, number: str) -> Case:
    case = session.scalars(select(Case).where(Case.number == number.strip())).first()
    if case is None:
        raise RetentionError(f"no case {number}")
    return case


def hold(
    session: Session, keys: Keyring, number: str, *, reason: str, actor: str, now: datetime
) -> Case:
    """Keep a case's identity and content past the retention clock until released."""
    reason = reason.strip()
    if len(reason) < 10:
        raise RetentionError("give a real reason (at least 10 characters)")
    case = _case(session, number)
    if case.purged_at is not None:
        raise RetentionError(f"{case.number} was purged on {case.purged_at:%Y-%m-%d}")
    row = session.get(RetentionHold, case.id)
    sealed = keys.data.encrypt_text(reason, bind(HOLD_REASON, case.number))
    if row is None:
        session.add(RetentionHold(case_id=case.id, reason_ct=sealed, actor=actor, at=now))
    else:
        row.reason_ct, row.actor, row.at = sealed, actor, now
    repo.audit(
        session,
        actor=actor,
        action="retention.hold",
        now=now,
        case_id=case.id,
        # The reason may name the matter: it stays encrypted with the hold, not in the log.
        detail=f"{case.number}; reason kept encrypted with the hold",
    )
    return case


def release(session: Session, number: str, *, actor: str, now: datetime) -> Case:
    case = _case(session, number)
    if session.execute(delete(RetentionHold).where(RetentionHold.case_id == case.id)).rowcount == 0:  # type: ignore[attr-defined]
        raise RetentionError(f"{case.number} is not held")
    repo.audit(
        session,
        actor=actor,
        action="retention.release",
        now=now,
        case_id=case.id,
        detail=case.number,
    )
    return case


def hold_reason(session: Session, keys: Keyring, case: Case) -> str | None:
    row = session.get(RetentionHold, case.id)
    if row is None:
        return None
    aad = bind(HOLD_REASON, case.number)
    return open_in_place(keys.data, row.reason_ct, aad, case.number).decode()
