"""The data that crosses the line between the conversation (pure) and the shell (I/O).

The shell in ``bot/`` turns a LINE webhook event into an :class:`Incoming`, loads the
reporter's conversation state (a JSON-able ``dict``, or ``None`` when there is none),
and calls :func:`handlers.handle`. It gets back a :class:`Result`: the new state
(``None`` deletes the conversation), the replies as LINE message objects (plain dicts in
the Messaging API's JSON shape) and the effects to apply, in order, in the same
transaction. Reads the handler needs (a token lookup) come in through :class:`Context`;
writes only ever leave as effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from store.domain import CASE_OUTCOMES, CASE_STATUSES  # noqa: F401 - part of this contract

Message = dict[str, Any]
"""One LINE message object, e.g. ``{"type": "text", "text": "...", "quickReply": {...}}``."""

State = dict[str, Any]
"""A reporter's conversation state; JSON-serialisable, stored encrypted by the shell."""

MediaKind = Literal["image", "video", "audio", "file"]
IncomingKind = Literal[
    "text",  # a text message
    "postback",  # a quick-reply or button postback
    "media",  # image, video, audio or file message
    "follow",  # the user added the bot as a friend (or unblocked it)
    "sticker",
    "location",
    "other",  # anything else addressed to a 1:1 chat that we do not act on
]


@dataclass(frozen=True)
class MediaRef:
    """A media message as LINE announced it; the content is fetched later by the worker."""

    message_id: str
    kind: MediaKind
    file_name: str | None = None
    size: int | None = None  # bytes, when LINE says (files); None otherwise
    duration_ms: int | None = None  # video and audio


@dataclass(frozen=True)
class Incoming:
    """One event from a reporter in a 1:1 chat, stripped of everything LINE-specific."""

    kind: IncomingKind
    text: str | None = None  # text messages; also the displayText of a postback, if any
    data: str | None = None  # postback data
    media: MediaRef | None = None


@dataclass(frozen=True)
class StaffMessage:
    """A message from staff to the reporter, as the reporter may read it."""

    message_id: int
    sent_at: datetime
    text: str


@dataclass(frozen=True)
class CaseStatus:
    """What a tracking token reveals: the public face of a case, nothing more."""

    case_id: int
    case_number: str
    category: str  # one of handlers.form.CATEGORIES keys
    filed_at: datetime
    status: str  # one of CASE_STATUSES
    outcome: str | None  # one of CASE_OUTCOMES when status == "closed"
    updated_at: datetime
    public_note: str | None
    anonymous: bool  # how it was filed: the reporter is told the truth about what they add
    unread_staff_messages: tuple[StaffMessage, ...] = ()
    # Evidence files of this case that could not be kept and the reporter was not told of.
    failed_files: int = 0


class LookupOutcome:
    """Sentinels a lookup may return instead of a :class:`CaseStatus`."""

    NOT_FOUND = "not_found"  # no case, and no wrong tokens remembered (as ``NoMatch()``)


@dataclass(frozen=True)
class WrongTokens:
    """What is remembered of one reporter's wrong tokens: counts and a time to the minute,
    never a token or a case. It is kept apart from the conversation, so blocking and
    unblocking the bot resets nothing."""

    failures: int = 0  # wrong tokens counted since the last delay began
    delays: int = 0  # delays begun so far; each is twice the one before
    wait_until: datetime | None = None  # until then a wrong token is answered "please wait"
    told_at: datetime | None = None  # the minute the reporter was last told to wait


@dataclass(frozen=True)
class NoMatch:
    """A lookup that found no case. ``flood``: wrong tokens from everyone are above the
    global ceiling, so each wrong token begins a delay at once."""

    wrong: WrongTokens = field(default_factory=WrongTokens)
    flood: bool = False


SealIdentity = Callable[[str, str, str], str]
"""Seals one identity answer the moment it is typed: (draft id, field, value) → the value
sealed to the custodian's public key (base64 text), bound to that draft. The server can
never open it again; only the custodian's private key can."""

Lookup = Callable[[str], "CaseStatus | NoMatch | str"]
"""Looks up a normalised token (``XXXX-XXXX-XXXX-XXXX``), always, whatever the throttles say.

Returns a CaseStatus, or a NoMatch (or ``LookupOutcome.NOT_FOUND``) when there is none."""


@dataclass(frozen=True)
class Limits:
    """Tunable limits; the shell fills these from settings."""

    draft_ttl: timedelta = timedelta(hours=24)
    followup_ttl: timedelta = timedelta(minutes=30)
    max_text_chars: int = 2000  # one free-text answer
    max_description_chars: int = 8000  # "what happened", all messages together
    max_short_chars: int = 200  # names, places, positions
    max_media_items: int = 10
    max_file_bytes: int = 25 * 1024 * 1024
    # A case over its whole life (report and every follow-up): files, bytes, messages a day.
    case_max_files: int = 30
    case_max_bytes: int = 200 * 1024 * 1024
    case_max_messages_per_day: int = 20
    # Wrong tokens: after this many, each further one waits 1, 2, 4 ... up to 15 minutes
    # before it is counted; forgotten after an hour without one. Right tokens never wait.
    lookup_failures_allowed: int = 3
    lookup_first_delay: timedelta = timedelta(minutes=1)
    lookup_longest_delay: timedelta = timedelta(minutes=15)
    lookup_memory: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class CaseUsage:
    """What a case holds, counted by the shell from the store when asked."""

    files: int = 0  # every file sent for it, with the report and after lookups
    stored_bytes: int = 0
    messages_today: int = 0  # reporter messages in the last 24 hours


UsageOf = Callable[[int], CaseUsage]
"""Counts what a case (by id) holds: for the per-case caps in the follow-up."""


@dataclass(frozen=True)
class Context:
    now: datetime  # timezone-aware UTC
    lookup: Lookup
    limits: Limits = field(default_factory=Limits)
    today_bangkok: date | None = None  # for date parsing; defaults to now in Asia/Bangkok
    entropy: str = ""  # random hex from the shell, for ids that must not date anything
    # Required once a confidential reporter reaches the identity questions (see SealIdentity).
    seal_identity: SealIdentity | None = None
    # When the reporter sent this event, by LINE's clock (ms): a message LINE delivers late
    # still takes its place in a multi-part answer.
    sent_ms: int | None = None
    # Required in the follow-up after a lookup: the per-case caps are counted from the store.
    case_usage: UsageOf | None = None


# --- effects -------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitReport:
    """Create the case. The shell seals ``identity``, encrypts ``report``, issues the token,
    and replies with :func:`handlers.receipt` built from the case number and token."""

    lang: str
    anonymous: bool
    # category, agency, official, description, when, where, evidence_note, witnesses
    report: dict[str, Any]
    # name, contact, relation — only for a confidential report: each sealed as it was
    # typed (SealIdentity, bound to ``draft_id``); the shell adds the LINE user ID at filing
    identity: dict[str, str] | None
    notify: bool  # the reporter wants a LINE message when the case changes
    meets_anonymous_bar: bool  # evidence and witnesses given (seed 003, 8.1.1)
    draft_id: str  # attachments fetched under this id become the case's


@dataclass(frozen=True)
class FetchMedia:
    """Fetch, clean and encrypt one media item: sent during the evidence step (``draft_id``)
    or as further evidence on a case the reporter has just looked up (``case_id``)."""

    media: MediaRef
    draft_id: str | None = None
    case_id: int | None = None


@dataclass(frozen=True)
class DiscardDraft:
    """The form was cancelled or expired: delete attachments fetched under this id."""

    draft_id: str


@dataclass(frozen=True)
class AddReporterMessage:
    """The reporter sent more information or answered staff on a case they looked up."""

    case_id: int
    text: str


@dataclass(frozen=True)
class MarkStaffMessagesRead:
    case_id: int
    message_ids: tuple[int, ...]


@dataclass(frozen=True)
class MarkFailedFilesTold:
    """The status card told the reporter that files of this case could not be kept."""

    case_id: int


@dataclass(frozen=True)
class RecordLookupFailure:
    """Keep the reporter's new wrong-token record until ``keep_until``; a ``counted`` wrong
    token also counts towards the global ceiling (one answered during a delay does not)."""

    wrong: WrongTokens
    keep_until: datetime
    counted: bool = True


@dataclass(frozen=True)
class StopUpdates:
    """The reporter sent ``หยุดแจ้งเตือน``/``stop updates``: forget this chat's LINE address on
    every case that holds it, so no further update pushes go out."""


Effect = (
    SubmitReport
    | FetchMedia
    | DiscardDraft
    | AddReporterMessage
    | MarkStaffMessagesRead
    | RecordLookupFailure
    | StopUpdates
    | MarkFailedFilesTold
)


@dataclass(frozen=True)
class Result:
    state: State | None
    replies: list[Message] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
