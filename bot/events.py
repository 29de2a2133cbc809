"""LINE webhook events as a lean typed view, read straight from the JSON body.

The SDK's ``WebhookParser`` builds pydantic models for every event: 41 µs of CPU for a
text event, against 12 µs for the signature check and this reading (``python -m
bench.micro``). The SDK still checks the signature (``bot.webhook``). This module reads
only what ``bot.conversation`` uses and keeps the SDK's answers to odd bodies (LINE signs
every body, so these are bugs or replays, not attacks, but none may cost a 500 or a
valid event):

* ``Malformed`` (the webhook answers 400, nothing is handled), where the SDK raised too:
  the body is not JSON or nested too deep, not an object, without an ``events`` list; an
  event is not an object or has no string ``type``; its envelope is wrong (``timestamp``
  not an integer, ``mode`` not active/standby, ``webhookEventId`` not a string,
  ``deliveryContext.isRedelivery`` not a boolean, ``source`` not an object with a string
  ``type``); a message event's ``message`` is not an object with a (hashable) ``type``.
* kind ``"other"`` with no source (recorded as handled and otherwise ignored, as the SDK's
  ``UnknownEvent``): an event type LINE may add later, or an event of a type we act on
  whose fields are missing or of the wrong type (required fields, their top-level types
  and enumerations as LINE's webhook.yml and the SDK's models define them; not the
  insides of objects we never read, such as ``emojis``, nor length limits).
* kind ``"other"`` with its source and reply token: an event type the SDK knows and we do
  not act on (beacon, unsend, memberJoined, ...); only a linked staff member is answered.
  Its details are not read, so a broken one does not make it an ``UnknownEvent`` here.

tests/test_events.py holds this to the SDK on LINE's samples and on every one-field
mutation of the events we act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["message", "postback", "follow", "unfollow", "join", "leave", "other"]
SourceKind = Literal["user", "group", "room"]

# Event types the SDK has a model for but we do not act on (its discriminator map).
_KNOWN_OTHER = frozenset(
    {
        "accountLink",
        "activated",
        "beacon",
        "botResumed",
        "botSuspended",
        "deactivated",
        "delivery",
        "memberJoined",
        "memberLeft",
        "membership",
        "messageEdited",
        "module",
        "unsend",
        "videoPlayComplete",
    }
)
_MODES = ("active", "standby")
_PROVIDERS = ("line", "external")  # contentProvider.type of image, video and audio
_STICKER_TYPES = frozenset(
    {
        "STATIC",
        "ANIMATION",
        "SOUND",
        "ANIMATION_SOUND",
        "POPUP",
        "POPUP_SOUND",
        "CUSTOM",
        "MESSAGE",
        "NAME_TEXT",
        "PER_STICKER_TEXT",
    }
)

_STR: tuple[type, ...] = (str,)
_INT: tuple[type, ...] = (int,)
_NUMBER: tuple[type, ...] = (int, float)
_DICT: tuple[type, ...] = (dict,)
_LIST: tuple[type, ...] = (list,)
# Per message type: (field, allowed types, required). ``type(value) in types``, so True is
# not an int, as with the SDK's strict fields.
_CONTENT: dict[str, tuple[tuple[str, tuple[type, ...], bool], ...]] = {
    "text": (
        ("text", _STR, True),
        ("quoteToken", _STR, True),
        ("emojis", _LIST, False),
        ("mention", _DICT, False),
        ("quotedMessageId", _STR, False),
        ("markAsReadToken", _STR, False),
    ),
    "image": (
        ("contentProvider", _DICT, True),
        ("imageSet", _DICT, False),
        ("quoteToken", _STR, True),
        ("markAsReadToken", _STR, False),
    ),
    "video": (
        ("duration", _INT, False),
        ("contentProvider", _DICT, True),
        ("quoteToken", _STR, True),
        ("markAsReadToken", _STR, False),
    ),
    "audio": (
        ("contentProvider", _DICT, True),
        ("duration", _INT, False),
        ("markAsReadToken", _STR, False),
    ),
    "file": (
        ("fileName", _STR, True),
        ("fileSize", _INT, True),
        ("markAsReadToken", _STR, False),
    ),
    "location": (
        ("title", _STR, False),
        ("address", _STR, False),
        ("latitude", _NUMBER, True),
        ("longitude", _NUMBER, True),
        ("markAsReadToken", _STR, False),
    ),
    "sticker": (
        ("packageId", _STR, True),
        ("stickerId", _STR, True),
        ("stickerResourceType", _STR, True),
        ("keywords", _LIST, False),
        ("text", _STR, False),
        ("quoteToken", _STR, True),
        ("quotedMessageId", _STR, False),
        ("markAsReadToken", _STR, False),
    ),
}


class Malformed(ValueError):
    """The body cannot be read as LINE's webhook body (the webhook answers 400)."""


@dataclass(frozen=True, slots=True)
class Source:
    kind: SourceKind
    user_id: str | None = None
    group_id: str | None = None
    room_id: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    type: str  # text, image, video, audio, file, location or sticker
    id: str
    text: str | None = None  # of a text message
    file_name: str | None = None
    file_size: int | None = None
    duration: int | None = None  # milliseconds, of a video or audio message


@dataclass(frozen=True, slots=True)
class Event:
    kind: Kind
    timestamp: int  # milliseconds
    webhook_event_id: str
    source: Source | None = None
    reply_token: str | None = None
    message: Message | None = None  # of a message event
    postback_data: str | None = None  # of a postback event

    @property
    def user_id(self) -> str | None:
        """The 1:1 chat's user, or None for a group, a room or no source."""
        source = self.source
        return source.user_id if source is not None and source.kind == "user" else None

    @property
    def text(self) -> str | None:
        """The text of a text message event."""
        message = self.message
        return message.text if message is not None and message.type == "text" else None


def parse(body: str | bytes) -> list[Event]:
    """The events of a webhook body whose signature was checked; raises ``Malformed``
    (or the JSON parser's ValueError or RecursionError) when the body is to be refused."""
    data = json.loads(body)
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise Malformed("no events list")
    return [_event(raw) for raw in events]


def _event(raw: Any) -> Event:
    if not isinstance(raw, dict):
        raise Malformed("event")
    kind = raw.get("type")
    timestamp = raw.get("timestamp")
    event_id = raw.get("webhookEventId")
    context = raw.get("deliveryContext")
    source_raw = raw.get("source")
    if (
        type(kind) is not str
        or type(timestamp) is not int
        or raw.get("mode") not in _MODES
        or type(event_id) is not str
        or type(context) is not dict
        or type(context.get("isRedelivery")) is not bool
        or (source_raw is not None and not _source_shape(source_raw))
    ):
        raise Malformed("event envelope")
    ignored = Event("other", timestamp, event_id)
    source = _source(source_raw) if source_raw is not None else None
    if source_raw is not None and source is None:
        return ignored
    if kind in ("unfollow", "leave"):
        return Event("unfollow" if kind == "unfollow" else "leave", timestamp, event_id, source)
    reply_token = raw.get("replyToken")
    if type(reply_token) is not str:
        if kind in _KNOWN_OTHER:  # not answerable, as when the SDK made it an UnknownEvent
            return Event("other", timestamp, event_id, source)
        if reply_token is not None:
            return ignored
        reply_token = None
    if kind == "message":
        message_raw = raw.get("message")
        if message_raw is None:
            return ignored
        if type(message_raw) is not dict or "type" not in message_raw:
            raise Malformed("message")
        message = _message(message_raw)
        if message is None:
            return ignored
        return Event("message", timestamp, event_id, source, reply_token, message)
    if kind == "postback":
        postback = raw.get("postback")
        data = postback.get("data") if type(postback) is dict else None
        params = postback.get("params") if type(postback) is dict else None
        if type(data) is not str or not (
            params is None
            or (type(params) is dict and all(type(v) is str for v in params.values()))
        ):
            return ignored
        return Event("postback", timestamp, event_id, source, reply_token, postback_data=data)
    if kind in ("follow", "join"):
        follow = raw.get("follow")
        if reply_token is None or (
            kind == "follow"
            and (type(follow) is not dict or type(follow.get("isUnblocked")) is not bool)
        ):
            return ignored
        return Event(
            "follow" if kind == "follow" else "join", timestamp, event_id, source, reply_token
        )
    if kind in _KNOWN_OTHER:
        return Event("other", timestamp, event_id, source, reply_token)
    return ignored


def _source_shape(raw: Any) -> bool:
    return type(raw) is dict and type(raw.get("type")) is str


def _source(raw: dict[str, Any]) -> Source | None:
    kind = raw["type"]
    user_id = raw.get("userId")
    if user_id is not None and type(user_id) is not str:
        return None
    if kind == "user":
        return Source("user", user_id)
    if kind == "group":
        group_id = raw.get("groupId")
        return Source("group", user_id, group_id=group_id) if type(group_id) is str else None
    if kind == "room":
        room_id = raw.get("roomId")
        return Source("room", user_id, room_id=room_id) if type(room_id) is str else None
    return None


def _message(raw: dict[str, Any]) -> Message | None:
    kind = raw["type"]
    if type(kind) in (list, dict) and kind:
        raise Malformed("message type")  # unhashable: the SDK raised TypeError here
    message_id = raw.get("id")
    fields = _CONTENT.get(kind) if type(kind) is str else None
    if fields is None or type(message_id) is not str:
        return None
    for name, types, required in fields:
        value = raw.get(name)
        if value is None:
            if required:
                return None
        elif type(value) not in types:
            return None
    if (
        kind in ("image", "video", "audio") and raw["contentProvider"].get("type") not in _PROVIDERS
    ) or (kind == "sticker" and raw["stickerResourceType"] not in _STICKER_TYPES):
        return None
    return Message(
        kind,
        message_id,
        text=raw.get("text") if kind == "text" else None,
        file_name=raw["fileName"] if kind == "file" else None,
        file_size=raw["fileSize"] if kind == "file" else None,
        duration=raw.get("duration") if kind in ("video", "audio") else None,
    )
