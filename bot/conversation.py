"""One LINE event, start to end: one transaction, the conversation locked, effects applied.

This is the shell around the pure conversation in ``handlers``: it turns LINE events (read
by ``bot.events``) into ``Incoming``, hands reads to the handler as a lookup function,
applies the effects it returns through ``store``, and queues its replies in the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import handlers
from bot.events import Event
from bot.logs import log_failure
from bot.notifications import Notifier
from bot.outbox import enqueue_replies
from bot.runtime import Runtime
from handlers import staff as staff_messages
from handlers import tokens
from handlers.model import (
    AddReporterMessage,
    CaseStatus,
    CaseUsage,
    Context,
    DiscardDraft,
    Effect,
    FetchMedia,
    Incoming,
    MarkFailedFilesTold,
    MarkStaffMessagesRead,
    MediaRef,
    NoMatch,
    RecordLookupFailure,
    SealIdentity,
    StaffMessage,
    StopUpdates,
    SubmitReport,
    WrongTokens,
)
from store import media, notices, repo
from store.crypto import Keyring, identity_draft_binding
from store.models import Case, StaffUser
from store.outbox import Delivery

log = logging.getLogger(__name__)

LOOKUP_WINDOW = timedelta(minutes=15)  # of the global ceiling on wrong tokens
GROUP_WORDS = {"ร้องเรียน", "แจ้งเบาะแส", "report", "สถานะ", "status"}


def _incoming(event: Event) -> Incoming | None:
    """The handler's view of an event from a 1:1 chat, or None when there is nothing to do."""
    if event.kind == "follow":
        return Incoming(kind="follow")
    if event.kind == "postback":
        return Incoming(kind="postback", data=event.postback_data)
    content = event.message
    if event.kind != "message" or content is None:
        return None
    if content.type == "text":
        return Incoming(kind="text", text=content.text)
    if content.type == "image":
        return Incoming(kind="media", media=MediaRef(content.id, "image"))
    if content.type == "video":
        return Incoming(
            kind="media", media=MediaRef(content.id, "video", duration_ms=content.duration)
        )
    if content.type == "audio":
        return Incoming(
            kind="media", media=MediaRef(content.id, "audio", duration_ms=content.duration)
        )
    if content.type == "file":
        return Incoming(
            kind="media",
            media=MediaRef(content.id, "file", file_name=content.file_name, size=content.file_size),
        )
    if content.type == "sticker":
        return Incoming(kind="sticker")
    if content.type == "location":
        return Incoming(kind="location")
    return Incoming(kind="other")


def _needs_conversation(event: Event) -> bool:
    """Whether a reporter's event locks their conversation (see ``_dispatch``): then its
    claim may lock it in the same statement."""
    if event.kind == "unfollow":
        return True
    text = event.text
    return _incoming(event) is not None and not (text and staff_messages.link_code(text))


def _age(event: Event, now: datetime) -> timedelta | None:
    """How long ago LINE says the event happened (its ``timestamp``, in milliseconds)."""
    try:
        return now - datetime.fromtimestamp(event.timestamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return timedelta.max  # a stamp no calendar holds: dropped as too old, never a 500


def draft_key(draft_id: str) -> str:
    """Attachments of a draft are filed under a hash of its random id: nothing that names
    the chat, so an old attachment row cannot be traced to a LINE account."""
    return hashlib.sha256(f"draft\x00{draft_id}".encode()).hexdigest()


class EventProcessor:
    def __init__(self, runtime: Runtime, wait: float | None = None) -> None:
        self.rt = runtime
        self.notifier = Notifier(runtime)
        self.wait = wait  # seconds an event may wait for a lock (None: the database's default)

    def _answer(
        self,
        session: Session,
        chat_id: str,
        reply_token: str | None,
        messages: list[dict[str, Any]],
        now: datetime,
        purpose: str = "reply",
        state: repo.SealedState | None = None,
    ) -> list[Delivery]:
        return enqueue_replies(
            session,
            self.rt.keys,
            self.rt.settings,
            user_id=chat_id,
            reply_token=reply_token,
            messages=messages,
            now=now,
            purpose=purpose,
            claimer=(
                self.rt.sender.claimer(session) if self.rt.settings.send_after_commit else None
            ),
            state=state,
        )

    def process(self, event: Event) -> list[Delivery]:
        """Handle one event in one transaction; returns the outbox rows to send after commit."""
        now = self.rt.clock()
        event_id = event.webhook_event_id
        age = _age(event, now)
        if age is not None and age > self.rt.settings.webhook_max_event_age:
            # A replay of an old signed body (its id may be forgotten by now) or a very late
            # redelivery: acknowledged and dropped. Only its age is logged, never content.
            log.warning("webhook event dropped: %d minutes old", age.total_seconds() // 60)
            return []
        try:
            if self._settled_on_read(event, now):
                return []
        except OperationalError:
            pass  # the writing way meets the same database and answers for it
        except Exception as exc:  # noqa: BLE001 - a bug here must not cost the event
            log_failure(log, f"event {event_id} could not be settled on a read", exc)
        try:
            with self.rt.db.transaction(wait=self.wait) as session:
                claim = None
                if event_id:
                    claim = repo.claim_event(
                        session,
                        self.rt.keys,
                        event_id,
                        now,
                        event.user_id,
                        lock=_needs_conversation(event),
                    )
                    if claim is None:
                        return []  # a redelivery or duplicate: already handled
                return self._dispatch(session, event, now, claim)
        except OperationalError:
            raise  # the database is unreachable: the webhook answers 503, LINE redelivers
        except Exception as exc:  # noqa: BLE001 - any bug: answer, keep the draft
            # Everything the event did was rolled back, so the reporter's draft is as it
            # was; they are told to try again. Log the failure's kind, never its content.
            log_failure(log, f"event {event_id} could not be handled", exc)
        with self.rt.db.transaction(wait=self.wait) as session:
            if event_id and not repo.claim_event(session, self.rt.keys, event_id, now):
                return []
            return self._failure_notice(session, event, now)

    def _settled_on_read(self, event: Event, now: datetime) -> bool:
        """True when the event is a wrong token that would change nothing and be answered
        with nothing (its sender is in a delay and was told so this minute). That is found
        on a read, without the writer's lock, so a flood of wrong tokens never queues ahead
        of a real reporter's lookup. Anything else, or any doubt, goes the writing way."""
        user_id = event.user_id
        incoming = _incoming(event) if event.kind == "message" else None
        if (
            incoming is None
            or not user_id
            or (token := tokens.parse((incoming.text or "").strip())) is None
            or staff_messages.link_code(incoming.text or "")
        ):
            return False
        keys = self.rt.keys
        with self.rt.db.glance() as session:
            seen = repo.quiet_wrong_token(session, keys, user_id, token, now)
        if seen is None or seen.wait_until is None or now >= seen.wait_until:
            return False
        wrong = WrongTokens(seen.failures, seen.delays, seen.wait_until, seen.told_at)
        ctx = Context(
            now=now,
            lookup=lambda _token: NoMatch(wrong),
            limits=self.rt.limits,
            sent_ms=event.timestamp,
        )
        # The handler itself decides, as it would on the writing way.
        result = handlers.handle(None, incoming, ctx)
        return (
            not result.replies
            and not result.effects
            and handlers.keep_until(result.state, now, self.rt.limits) is None
        )

    def _dispatch(
        self, session: Session, event: Event, now: datetime, claim: repo.Claim | None
    ) -> list[Delivery]:
        reply_token = event.reply_token
        user_id = event.user_id
        if not user_id:
            return self._group_event(session, event, now)
        staff_reply = self._staff_chat(session, event, user_id, now, claim)
        if staff_reply is not None:
            return self._answer(session, user_id, reply_token, staff_reply, now)
        held = claim.held if claim is not None else None
        if event.kind == "unfollow":
            # The reporter blocked the bot: nothing more can be said, so keep no draft.
            held = held or repo.lock_conversation(session, self.rt.keys, user_id, now)
            if held.state and held.state.get("draft_id"):
                media.discard_draft(session, draft_key(str(held.state["draft_id"])))
            repo.save_conversation(session, self.rt.keys, held, None, None)
            return []
        incoming = _incoming(event)
        if incoming is None:
            return []
        held = held or repo.lock_conversation(session, self.rt.keys, user_id, now)
        ctx = Context(
            now=now,
            lookup=lambda token: self._lookup(session, token, user_id, now),
            limits=self.rt.limits,
            entropy=secrets.token_hex(12),
            seal_identity=_identity_sealer(self.rt.keys),
            sent_ms=event.timestamp,
            case_usage=lambda case_id: self._case_usage(session, case_id, now),
        )
        result = handlers.handle(held.state, incoming, ctx)
        replies = list(result.replies)
        for effect in result.effects:
            replies.extend(self._apply(session, effect, user_id, now))
        keep = handlers.keep_until(result.state, now, self.rt.limits)
        state = repo.save_conversation(
            session, self.rt.keys, held, result.state, keep, with_reply=bool(replies)
        )
        if not replies:
            return []
        purpose = "receipt" if any(isinstance(e, SubmitReport) for e in result.effects) else "reply"
        return self._answer(session, user_id, reply_token, replies, now, purpose, state)

    def _group_event(self, session: Session, event: Event, now: datetime) -> list[Delivery]:
        """Groups and rooms: never take a report there; say so when addressed. An admin's
        group code registers the group for staff notifications (joining alone grants nothing)."""
        reply_token = event.reply_token
        source = event.source
        chat_id = (source.group_id or source.room_id) if source is not None else None
        if event.kind == "leave" and chat_id:
            notices.deactivate_group(session, self.rt.keys, chat_id)
            return []
        text = event.text
        code = staff_messages.link_code(text) if text is not None else None
        if code and chat_id and reply_token:
            answer = self._redeem(session, code, chat_id, now, group=True)
            return self._answer(session, chat_id, reply_token, answer, now)
        addressed = event.kind == "join" or (
            text is not None
            and (text.strip().lower() in GROUP_WORDS or tokens.parse(text) is not None)
        )
        if not addressed or not reply_token or not chat_id:
            return []
        return self._answer(session, chat_id, reply_token, handlers.group_notice("th"), now)

    def _failure_notice(self, session: Session, event: Event, now: datetime) -> list[Delivery]:
        user_id = event.user_id
        reply_token = event.reply_token
        if not user_id or not reply_token:
            return []
        return self._answer(session, user_id, reply_token, handlers.failure_notice("th"), now)

    # --- staff on LINE ----------------------------------------------------------------

    def _staff_chat(
        self, session: Session, event: Event, user_id: str, now: datetime, claim: repo.Claim | None
    ) -> list[dict[str, Any]] | None:
        """Link codes, and everything a linked staff member sends: never the reporter form.
        ``claim``, when the event had one, already says whether the sender is staff."""
        text = event.text
        code = staff_messages.link_code(text) if text else None
        if code:
            return self._redeem(session, code, user_id, now, group=False)
        if claim is None:
            linked = notices.staff_for_line(session, self.rt.keys, user_id)
        else:
            linked = notices.active_staff(session, claim.staff_id)
        if linked is None:
            return None
        staff, link = linked
        lang = staff.lang or "th"
        if event.kind == "unfollow":
            notices.unlink(session, staff.id)
            return []
        command = staff_messages.command(text) if text else None
        if command == "digest_on":
            notices.set_digest(session, staff.id, True)
            return staff_messages.reply(lang, "staff.digest_on")
        if command == "digest_off":
            notices.set_digest(session, staff.id, False)
            return staff_messages.reply(lang, "staff.digest_off")
        if command == "unlink":
            notices.unlink(session, staff.id)
            return staff_messages.reply(lang, "staff.unlinked")
        if not event.reply_token:
            return []
        mode = "staff.mode.digest" if link.digest else "staff.mode.immediate"
        return staff_messages.reply(
            lang,
            "staff.help",
            name=staff.display_name,
            role=staff_messages.t(lang, f"staff.role.{staff.role}"),
            mode=staff_messages.t(lang, mode),
        )

    def _redeem(
        self, session: Session, code: str, chat_id: str, now: datetime, *, group: bool
    ) -> list[dict[str, Any]]:
        place = "group" if group else "staff"
        result = notices.redeem_link_code(session, self.rt.keys, code, chat_id, place, now)
        if result is notices.LinkRefused.THROTTLED:
            minutes = int(notices.LINK_WINDOW.total_seconds() // 60)
            return staff_messages.reply("th", "staff.link_throttled", minutes=minutes)
        if isinstance(result, notices.LinkRefused):
            # Wrong, expired, used or in the wrong place: one answer, so nothing is learnt.
            return staff_messages.reply("th", "staff.link_invalid")
        staff = session.get(StaffUser, result.staff_id)
        assert staff is not None
        lang = staff.lang or "th"
        if group:
            notices.register_group(session, self.rt.keys, chat_id, staff.id, now)
            repo.audit(session, actor=staff.username, action="notify.group_registered", now=now)
            return staff_messages.reply(lang, "staff.group_linked", name=staff.display_name)
        notices.link_staff_line(session, self.rt.keys, staff.id, chat_id, now)
        repo.audit(session, actor=staff.username, action="notify.line_linked", now=now)
        role = staff_messages.t(lang, f"staff.role.{staff.role}")
        return staff_messages.reply(lang, "staff.linked", name=staff.display_name, role=role)

    # --- reads handed to the handler -------------------------------------------------

    def _lookup(
        self, session: Session, token: str, user_id: str, now: datetime
    ) -> CaseStatus | NoMatch:
        # The token first, whatever the throttles say: a right token is never refused.
        case = repo.find_token_case(session, self.rt.keys, token)
        if case is None:
            seen = repo.wrong_tokens(session, self.rt.keys, user_id, now)
            wrong = WrongTokens(seen.failures, seen.delays, seen.wait_until, seen.told_at)
            if wrong.wait_until is not None and now < wrong.wait_until:
                return NoMatch(wrong)  # in a delay nothing is counted: no need to count all
            ceiling = self.rt.settings.lookup_global_ceiling
            flood = repo.lookup_failures_since(session, now - LOOKUP_WINDOW) >= ceiling
            return NoMatch(wrong, flood)
        repo.news_seen(session, case.id)  # the next change is worth a push again
        unread = repo.unread_staff_messages(session, self.rt.keys, case)
        return CaseStatus(
            case_id=case.id,
            case_number=case.number,
            category=case.category,
            filed_at=case.filed_at,
            status=case.status,
            outcome=case.outcome,
            updated_at=case.updated_at,
            public_note=repo.public_note(self.rt.keys, case),
            anonymous=case.anonymous,
            unread_staff_messages=tuple(StaffMessage(i, at, text) for i, at, text in unread),
            failed_files=media.untold_failures(session, case.id),
        )

    def _case_usage(self, session: Session, case_id: int, now: datetime) -> CaseUsage:
        # The case row is locked first: two chats holding one token take turns, so neither
        # can pass a cap the other has just reached.
        session.get(Case, case_id, with_for_update=True)
        used = media.case_usage(session, case_id)
        written = repo.reporter_messages_since(session, case_id, now - timedelta(days=1))
        # Once a file was given up on for the allowance, the case counts as full.
        held = max(used.stored_bytes, self.rt.settings.case_max_bytes if used.full else 0)
        return CaseUsage(used.files, held, written)

    # --- effects ---------------------------------------------------------------------

    def _apply(
        self, session: Session, effect: Effect, user_id: str, now: datetime
    ) -> list[dict[str, Any]]:
        keys = self.rt.keys
        if isinstance(effect, SubmitReport):
            token = tokens.format_token(repo.new_token_bytes())
            report = dict(effect.report)
            created = repo.create_case(
                session,
                keys,
                now=now,
                token=token,
                channel="line",
                lang=effect.lang,
                category=str(report.get("category") or "other"),
                district_code=_district_code(report),
                anonymous=effect.anonymous,
                meets_anonymous_bar=effect.meets_anonymous_bar,
                content=report,
                identity=_identity_record(effect, user_id),
                notify_user_id=user_id if effect.notify else None,
                draft_key=draft_key(effect.draft_id),
            )
            log.info("case %s filed", created.number)
            self.notifier.new_case(session, created, now)
            return handlers.receipt(effect.lang, created.number, token)
        if isinstance(effect, FetchMedia):
            media.add_pending(
                session,
                keys,
                line_message_id=effect.media.message_id,
                kind=effect.media.kind,
                now=now,
                draft_key=draft_key(effect.draft_id) if effect.draft_id else None,
                case_id=effect.case_id,
                file_name=effect.media.file_name,
            )
            if effect.case_id is not None:
                self.notifier.reporter_activity(
                    session, effect.case_id, staff_messages.REPORTER_EVIDENCE, now
                )
            return []
        if isinstance(effect, DiscardDraft):
            media.discard_draft(session, draft_key(effect.draft_id))
            return []
        if isinstance(effect, AddReporterMessage):
            repo.add_message(session, keys, effect.case_id, "reporter", effect.text, now)
            self.notifier.reporter_activity(
                session, effect.case_id, staff_messages.REPORTER_MESSAGE, now
            )
            return []
        if isinstance(effect, MarkFailedFilesTold):
            media.mark_failures_told(session, effect.case_id)
            return []
        if isinstance(effect, MarkStaffMessagesRead):
            repo.mark_messages_read(session, effect.case_id, effect.message_ids, now)
            return []
        if isinstance(effect, RecordLookupFailure):
            wrong = effect.wrong
            record = repo.ThrottleRecord(
                wrong.failures, wrong.delays, wrong.wait_until, wrong.told_at
            )
            repo.save_wrong_tokens(session, keys, user_id, record, effect.keep_until, now)
            if effect.counted:
                repo.record_lookup_failure(session, now)
            return []
        if isinstance(effect, StopUpdates):
            repo.stop_updates(session, keys, user_id)
            return []
        raise TypeError(f"unknown effect {type(effect).__name__}")


def _district_code(report: dict[str, Any]) -> str | None:
    agency = report.get("agency")
    if isinstance(agency, dict):
        code = agency.get("district_code") or agency.get("code")
        return str(code) if code else None
    code = report.get("district_code")
    return str(code) if code else None


def _identity_sealer(keys: Keyring) -> SealIdentity:
    """Seals an identity answer to the custodian's public key the moment it is typed,
    bound to its draft: the server keeps only what it can never open again."""

    def seal(draft_id: str, field: str, value: str) -> str:
        sealed = keys.identity.seal_part(field, value, draft=identity_draft_binding(draft_id))
        return base64.b64encode(sealed).decode("ascii")

    return seal


def _identity_record(effect: SubmitReport, user_id: str) -> repo.TypedIdentity | None:
    """What gets sealed: the reporter's own details (sealed as they were typed), and for a
    confidential report the LINE user ID too, so the custodian can reach them; it is
    sealed at filing, bound to the case number. Anonymous reports seal nothing."""
    if not effect.identity:
        return None
    typed = {k: base64.b64decode(v, validate=True) for k, v in effect.identity.items()}
    return repo.TypedIdentity(effect.draft_id, typed, {"line_user_id": user_id})
