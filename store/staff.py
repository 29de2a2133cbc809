"""Staff-side repositories: console accounts, log-in attempts, the case list, notes, statistics.

Passwords are Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile); TOTP
secrets are encrypted under the data keys like every other secret column. Log-in attempts
live in the database so that every web worker applies the same throttle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from store import domain
from store.crypto import Keyring, bind, open_in_place
from store.models import AuditEntry, Case, CaseNote, LoginAttempt, StaffSession, StaffUser

ROLES = ("staff", "admin", "custodian")
# Every role reads report content (issue 13 finding 5): every role needs a second factor.
ROLES_NEEDING_TOTP = ROLES
# Kept under the names the console uses.
CHANNELS = domain.CHANNELS
CATEGORIES = domain.CATEGORIES
STATUSES = domain.CASE_STATUSES
OUTCOMES = domain.CASE_OUTCOMES
# Seed 003 §6: a secret fact-finding subcommittee within 30 days of the complaint.
FACT_FINDING_DEADLINE = timedelta(days=30)
DUE_SOON = timedelta(days=7)
BEFORE_FACT_FINDING = ("received", "preliminary_review")
# Thailand keeps no daylight saving time: a fixed offset is exact and needs no tz database.
BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")

TOTP_SECRET = "staff.totp"  # noqa: S105 - an AEAD purpose label, not a secret
NOTE_BODY = "case_note.body"

_hasher = PasswordHasher()  # Argon2id


class StaffError(Exception):
    """A console account cannot be created or changed as asked."""


# --- accounts ------------------------------------------------------------------------


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise StaffError("a password needs at least 12 characters")
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    now: datetime,
    lang: str = "th",
) -> StaffUser:
    """Add a console account; the password is stored only as an Argon2id hash."""
    username = username.strip().lower()
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise StaffError("a username is 1–64 letters, digits, '.', '-' or '_'")
    if find_user(session, username) is not None:
        raise StaffError(f"the username {username!r} is taken")
    user = StaffUser(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=hash_password(password),
        totp_confirmed=False,
        lang=lang if lang in ("th", "en") else "th",
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> StaffUser | None:
    return session.scalars(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    ).first()


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def disable_user(session: Session, username: str) -> StaffUser:
    user = find_user(session, username)
    if user is None:
        raise StaffError(f"no account {username!r}")
    user.active = False
    end_sessions(session, user.id)
    return user


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """A new password ends every session of the account (a thief's copy included)."""
    user.password_hash = hash_password(password)
    end_sessions(session, user.id)


def reset_totp(session: Session, user: StaffUser) -> None:
    """Forget the second factor (lost phone): the next log-in enrols a new one. Ends
    every session, so a session on the lost phone ends too."""
    user.totp_secret_ct = None
    user.totp_confirmed = False
    user.totp_last_step = None
    end_sessions(session, user.id)


# --- sessions ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionCheck:
    user: StaffUser | None
    expired: bool = False


SESSION_TOUCH = timedelta(minutes=1)  # seen_at is written at most once a minute


def _session_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start_session(session: Session, user: StaffUser, now: datetime) -> str:
    """A new session row; returns the random id for the cookie (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_session_digest(token), user_id=user.id, created_at=now, seen_at=now
        )
    )
    session.flush()
    return token


def check_session(
    session: Session, token: str, *, now: datetime, idle: timedelta, absolute: timedelta
) -> SessionCheck:
    """The account behind a session id, if the session is live and the account active."""
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == _session_digest(token))
    ).first()
    if row is None:
        return SessionCheck(None)
    if now - row.seen_at > idle or now - row.created_at > absolute:
        session.delete(row)
        return SessionCheck(None, expired=True)
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        end_sessions(session, row.user_id)
        return SessionCheck(None)
    if now - row.seen_at >= SESSION_TOUCH:
        row.seen_at = now
    return SessionCheck(user)


def end_sessions(session: Session, user_id: int) -> int:
    """End every session of one account at once; returns how many there were."""
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_sessions(session: Session, now: datetime, idle: timedelta, absolute: timedelta) -> None:
    session.execute(
        delete(StaffSession).where(
            or_(StaffSession.seen_at < now - idle, StaffSession.created_at < now - absolute)
        )
    )


def check_password(user: StaffUser, password: str) -> bool:
    """True when ``password`` is the user's; upgrades the hash when parameters changed."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so the answer takes the same time
    # whether or not the account exists. Made on first use, not at import: a hash takes
    # the hasher's whole memory cost (64 MiB), which every web worker would otherwise
    # allocate at start-up.
    return _hasher.hash("krasip-no-such-account-placeholder")


def burn_password_check(password: str) -> None:
    try:
        _hasher.verify(_dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def needs_totp(user: StaffUser) -> bool:
    return user.role in ROLES_NEEDING_TOTP or user.totp_confirmed


def start_totp_enrolment(keys: Keyring, user: StaffUser) -> str:
    """Give the user a fresh TOTP secret (unconfirmed until a first code matches)."""
    secret = pyotp.random_base32()
    user.totp_secret_ct = keys.data.encrypt_text(secret, bind(TOTP_SECRET, user.id))
    user.totp_confirmed = False
    user.totp_last_step = None
    return secret


def totp_secret(keys: Keyring, user: StaffUser) -> str | None:
    if user.totp_secret_ct is None:
        return None
    # Bound to the account: another account's secret copied here does not open.
    aad = bind(TOTP_SECRET, user.id)
    return open_in_place(keys.data, user.totp_secret_ct, aad, f"staff account {user.id}").decode()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Krasip")


def check_totp(keys: Keyring, user: StaffUser, code: str, now: datetime) -> bool:
    """Accept a code of this or the neighbouring 30-second step, each step only once."""
    secret = totp_secret(keys, user)
    code = "".join(ch for ch in code if ch.isdigit())
    if secret is None or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    step_now = int(now.timestamp()) // totp.interval
    for step in (step_now, step_now - 1, step_now + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            user.totp_last_step = step
            user.totp_confirmed = True
            return True
    return False


# --- log-in attempts (throttle) ------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    """Growing delays, never a lock: an attempt made before its wait is over is refused
    unchecked, and the first attempt after it is checked as usual, so the right person
    with the right password and code always gets in once the wait has passed.

    * per account: ``free`` failures, then waits of ``first_delay`` doubling up to
      ``max_delay``. A browser that signed in to the account before (its known-device
      cookie) counts only its own failures, so guesses from elsewhere do not hold up the
      account's own browser;
    * per address: after ``per_ip`` failures naming usernames that are no account, further
      attempts from that address naming no account wait the same way. Real accounts are
      never slowed by made-up usernames (each has its own count).
    """

    free: int = 5
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(minutes=15)
    per_ip: int = 20
    window: timedelta = timedelta(hours=1)

    def delay(self, failures: int, free: int) -> timedelta:
        if failures < free:
            return timedelta()
        return min(self.max_delay, self.first_delay * 2 ** min(failures - free, 16))


def device_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def record_login_attempt(
    session: Session,
    *,
    username: str,
    ip: str,
    success: bool,
    now: datetime,
    device: str | None = None,
) -> None:
    session.add(
        LoginAttempt(
            at=now,
            username=username.strip().lower()[:64],
            ip=ip[:64],
            success=success,
            device=device,
        )
    )
    session.flush()


def _count_and_last(session: Session, *conditions: Any) -> tuple[int, datetime | None]:
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.success.is_(False), *conditions
        )
    ).one()
    return int(count or 0), last


def _remaining(
    throttle: Throttle, count: int, last: datetime | None, free: int, now: datetime
) -> float:
    if last is None:
        return 0.0
    wait_until = last + throttle.delay(count, free)
    return max(0.0, (wait_until - now).total_seconds())


def login_wait(
    session: Session,
    *,
    username: str,
    ip: str,
    now: datetime,
    throttle: Throttle,
    device: str | None = None,
) -> float:
    """Seconds this attempt must still wait (0: check it). ``device`` is the digest of a
    valid known-device cookie for this username, if the browser sent one."""
    username = username.strip().lower()[:64]
    since = now - throttle.window
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            LoginAttempt.success.is_(True),
            LoginAttempt.at >= since,
        )
    )
    start = max(since, last_success) if last_success else since
    # The same rule for every username, real or not: the answer does not tell which exist.
    mine = LoginAttempt.device == device if device else LoginAttempt.device.is_(None)
    count, last = _count_and_last(
        session, LoginAttempt.username == username, LoginAttempt.at >= start, mine
    )
    wait = _remaining(throttle, count, last, throttle.free, now)
    if find_user(session, username) is None:
        real = select(StaffUser.username)
        count, last = _count_and_last(
            session,
            LoginAttempt.ip == ip[:64],
            LoginAttempt.at >= since,
            LoginAttempt.username.not_in(real),
        )
        wait = max(wait, _remaining(throttle, count, last, throttle.per_ip, now))
    return wait


def prune_login_attempts(session: Session, before: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))


# --- the case list -------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    category: str | None = None
    district_code: str | None = None
    channel: str | None = None
    overdue: bool = False
    anonymous_bar: str | None = None  # "meets" | "below" (anonymous cases only)
    number: str | None = None
    filed_from: datetime | None = None  # filed at or after
    filed_before: datetime | None = None


SORTS = {
    "filed_desc": (Case.filed_at, True),
    "filed_asc": (Case.filed_at, False),
    "updated_desc": (Case.updated_at, True),
}


@dataclass(frozen=True)
class CasePage:
    cases: list[Case]
    next_cursor: str | None


def _encode_cursor(value: datetime, case_id: int) -> str:
    raw = json.dumps([value.astimezone(UTC).isoformat(), case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, case_id = json.loads(raw)
        return datetime.fromisoformat(value), int(case_id)
    except (ValueError, TypeError):
        return None


def list_cases(
    session: Session,
    flt: CaseFilter,
    *,
    now: datetime,
    sort: str = "filed_desc",
    cursor: str | None = None,
    limit: int = 50,
) -> CasePage:
    """One page of the register, newest first by default, with keyset pagination.

    The cursor is the last row's (sort value, id); each page is an index range scan on
    ``(column, id)``, so page 2,000 costs what page 1 does.
    """
    column, descending = SORTS.get(sort, SORTS["filed_desc"])
    query = case_query(flt, now)
    decoded = _decode_cursor(cursor) if cursor else None
    if decoded is not None:
        query = query.where(after_cursor(column, descending, *decoded))
    order = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(getattr(last, column.key), last.id)
    return CasePage(rows, next_cursor)


def after_cursor(column: Any, descending: bool, value: datetime, last_id: int) -> Any:
    """The keyset condition: rows after (value, last_id) in the list's order."""
    if descending:
        return or_(column < value, and_(column == value, Case.id < last_id))
    return or_(column > value, and_(column == value, Case.id > last_id))


def case_query(flt: CaseFilter, now: datetime) -> Any:
    """The register's filters as one SELECT of cases (no order, no page)."""
    query = select(Case)
    if flt.status:
        query = query.where(Case.status == flt.status)
    if flt.category:
        query = query.where(Case.category == flt.category)
    if flt.district_code:
        query = query.where(Case.district_code == flt.district_code)
    if flt.channel:
        query = query.where(Case.channel == flt.channel)
    if flt.overdue:
        query = query.where(
            Case.status.in_(BEFORE_FACT_FINDING), Case.filed_at < now - FACT_FINDING_DEADLINE
        )
    if flt.anonymous_bar in ("meets", "below"):
        query = query.where(
            Case.anonymous.is_(True), Case.meets_anonymous_bar.is_(flt.anonymous_bar == "meets")
        )
    if flt.number:
        number = flt.number.strip().upper()
        query = query.where(
            or_(Case.number == number, Case.number.like(f"%{_escape(number)}", escape="\\"))
        )
    if flt.filed_from is not None:
        query = query.where(Case.filed_at >= flt.filed_from)
    if flt.filed_before is not None:
        query = query.where(Case.filed_at < flt.filed_before)
    return query


def encode_cursor(value: datetime, case_id: int) -> str:
    return _encode_cursor(value, case_id)


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    return _decode_cursor(cursor)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Deadline:
    """The first deadline of seed 003 §6 as a badge: ``ok``, ``soon``, ``overdue`` or ``met``."""

    state: str
    due: datetime
    days_left: int


def fact_finding_deadline(case: Case, now: datetime) -> Deadline:
    due = case.filed_at + FACT_FINDING_DEADLINE
    days_left = (due - now).days if due >= now else -((now - due).days + 1)
    if case.status not in BEFORE_FACT_FINDING:
        return Deadline("met", due, days_left)
    if now > due:
        return Deadline("overdue", due, days_left)
    if due - now <= DUE_SOON:
        return Deadline("soon", due, days_left)
    return Deadline("ok", due, days_left)


# --- internal notes ------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    author: str
    text: str


def add_note(
    session: Session, keys: Keyring, case_id: int, author: str, text: str, now: datetime
) -> int:
    """An internal note: for staff only, never shown to the reporter."""
    # The body is bound to the note's id and case, so the row is written first.
    note = CaseNote(case_id=case_id, at=now, author=author, body_ct=b"")
    session.add(note)
    session.flush()
    note.body_ct = keys.data.encrypt_text(text, bind(NOTE_BODY, note.id, case_id))
    session.flush()
    return note.id


def notes(session: Session, keys: Keyring, case_id: int) -> list[Note]:
    rows = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id)
    )
    return [Note(n.id, n.at, n.author, _note_text(keys, n)) for n in rows]


def _note_text(keys: Keyring, note: CaseNote) -> str:
    aad = bind(NOTE_BODY, note.id, note.case_id)
    where = f"case {note.case_id} (note {note.id})"
    return open_in_place(keys.data, note.body_ct, aad, where).decode()


# --- audit views ---------------------------------------------------------------------


def audit_entries(
    session: Session, *, limit: int = 200, case_id: int | None = None, action: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


# --- monthly statistics --------------------------------------------------------------


@dataclass
class MonthlyStatistics:
    """The centre's published monthly table: complaints by channel and category, outcomes."""

    year: int
    month: int
    total: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_channel_category: dict[str, dict[str, int]] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    open_cases: int = 0


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The month in Bangkok time, as a half-open UTC range."""
    start = datetime(year, month, 1, tzinfo=BANGKOK)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=BANGKOK)
    return start.astimezone(UTC), end.astimezone(UTC)


def monthly_statistics(session: Session, year: int, month: int) -> MonthlyStatistics:
    """Count the complaints received in a month (by the date the centre received them)."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2200:
        raise StaffError("give a month 1–12 and a year in the Common Era, e.g. 2023")
    start, end = month_bounds(year, month)
    in_month = and_(Case.filed_at >= start, Case.filed_at < end)
    stats = MonthlyStatistics(year, month)
    for channel, category, count in session.execute(
        select(Case.channel, Case.category, func.count())
        .where(in_month)
        .group_by(Case.channel, Case.category)
    ):
        stats.total += count
        stats.by_channel[channel] = stats.by_channel.get(channel, 0) + count
        stats.by_category[category] = stats.by_category.get(category, 0) + count
        stats.by_channel_category.setdefault(channel, {})[category] = count
    for status, outcome, count in session.execute(
        select(Case.status, Case.outcome, func.count())
        .where(in_month)
        .group_by(Case.status, Case.outcome)
    ):
        if status == "closed" and outcome:
            stats.by_outcome[outcome] = stats.by_outcome.get(outcome, 0) + count
        else:
            stats.open_cases += count
    return stats


def statistics_rows(stats: MonthlyStatistics) -> list[tuple[str, str, str, int]]:
    """The table as (section, key, sub-key, count) rows, for CSV and the CLI."""
    rows: list[tuple[str, str, str, int]] = [("total", "", "", stats.total)]
    for channel in CHANNELS:
        if channel in stats.by_channel:
            rows.append(("channel", channel, "", stats.by_channel[channel]))
            for category in CATEGORIES:
                count = stats.by_channel_category[channel].get(category)
                if count:
                    rows.append(("channel_category", channel, category, count))
    for outcome in OUTCOMES:
        if outcome in stats.by_outcome:
            rows.append(("outcome", outcome, "", stats.by_outcome[outcome]))
    rows.append(("open", "", "", stats.open_cases))
    return rows
