"""White-box carving: what a thief holding the server's bytes and keys can tie to a LINE user.

The thief has raw bytes (database files, a dump, a data directory), the data keys and the
lookup pepper, and a list of LINE user ids; LINE itself will say which user an event id,
a reply token, a message id or a retry key belonged to. Rather than guess where the
product keeps things, the test records every AES-GCM encryption and every keyed hash the
product makes (through ``store.crypto.AESGCM`` and ``store.crypto.hmac``) and every clock
reading taken while a user's message was being handled, and then asks of the stolen
bytes, with one multi-needle pass per file:

* is a user's own identifier there, or the time of one of their messages (to the second,
  or finer where someone else was served in the same second);
* is a keyed hash of something naming the user there, under a key the thief has;
* is a ciphertext there (a slice of its sealed box, and its nonce) under a key the thief
  has, whose plaintext or associated data names the user.

Keys the thief has: the data keys and the pepper, then — until nothing changes — every key
found in the bytes as it is, every key inside a ciphertext the thief can open, every key
that is a keyed hash the thief can recompute, and (to err on the safe side) every key of
unknown origin. A key made by ``AESGCM.generate_key`` and never found is out of reach.

Known limits: values PostgreSQL compresses (pglz, only text over about 2 kB) are not
decompressed; a thief who correlates coarse times (minutes, days) is not modelled.
"""

from __future__ import annotations

import base64
import hmac as real_hmac
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import ahocorasick
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as RealAESGCM

BANGKOK = timezone(timedelta(hours=7))
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SLICE = 24  # bytes of a sealed box searched for: enough to open part of it (GCM is CTR)
MAX_PLACES = 40  # places remembered per subject


# --- recording the product's cryptography -------------------------------------------


@dataclass(frozen=True)
class AesOp:
    key: bytes
    nonce: bytes
    plaintext: bytes
    aad: bytes
    box: bytes  # ciphertext and tag, as AESGCM.encrypt returns them


@dataclass(frozen=True)
class MacOp:
    key: bytes
    msg: bytes
    digest: bytes


class _RecordingMac:
    """An ``hmac.HMAC`` that records (key, message, digest) when its digest is taken."""

    def __init__(self, recorder: Recorder, key: bytes, msg: bytes | None, digestmod: Any) -> None:
        self._recorder = recorder
        self._key = bytes(key)
        self._msg = bytearray(msg or b"")
        self._mac = real_hmac.new(key, msg, digestmod)

    def update(self, msg: bytes) -> None:
        self._msg += msg
        self._mac.update(msg)

    def copy(self) -> _RecordingMac:
        twin = object.__new__(_RecordingMac)
        twin._recorder, twin._key, twin._msg = self._recorder, self._key, bytearray(self._msg)
        twin._mac = self._mac.copy()
        return twin

    def digest(self) -> bytes:
        value = self._mac.digest()
        self._recorder.macs.append(MacOp(self._key, bytes(self._msg), value))
        return value

    def hexdigest(self) -> str:
        return self.digest().hex()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mac, name)


class _HmacShim:
    """Stands in for the ``hmac`` module inside ``store.crypto``."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def new(self, key: bytes, msg: bytes | None = None, digestmod: Any = "") -> _RecordingMac:
        return _RecordingMac(self._recorder, key, msg, digestmod)

    def digest(self, key: bytes, msg: bytes, digest: Any) -> bytes:
        return self.new(key, msg, digest).digest()

    def __getattr__(self, name: str) -> Any:
        return getattr(real_hmac, name)


class Recorder:
    """Everything the product encrypted and hashed, and when each user was being served."""

    def __init__(self) -> None:
        self.aes: list[AesOp] = []
        self.macs: list[MacOp] = []
        self.generated: set[bytes] = set()  # keys from AESGCM.generate_key: random
        self.instants: dict[str | None, list[datetime]] = defaultdict(list)
        self.actor: str | None = None
        self._lock = threading.Lock()

    def aesgcm_class(self) -> type:
        recorder = self

        class RecordingAESGCM:
            def __init__(self, key: bytes) -> None:
                self._key = bytes(key)
                self._aead = RealAESGCM(key)

            @staticmethod
            def generate_key(bit_length: int) -> bytes:
                key = RealAESGCM.generate_key(bit_length)
                recorder.generated.add(key)
                return key

            def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
                box = self._aead.encrypt(nonce, data, associated_data)
                op = AesOp(self._key, bytes(nonce), bytes(data), bytes(associated_data or b""), box)
                with recorder._lock:
                    recorder.aes.append(op)
                return box

            def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
                return self._aead.decrypt(nonce, data, associated_data)

        return RecordingAESGCM

    def hmac_module(self) -> _HmacShim:
        return _HmacShim(self)

    def note_instant(self, value: datetime) -> None:
        """A clock reading, the current actor's (None between users' actions)."""
        with self._lock:
            self.instants[self.actor].append(value)


# --- the people whose links are judged ------------------------------------------------


@dataclass
class Person:
    label: str
    group: str
    user_id: str
    line_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, kind: str, value: object) -> None:
        if value is not None and str(value):
            self.line_ids[kind].add(str(value))


@dataclass
class Finding:
    what: str
    places: list[str]


@dataclass
class Verdict:
    findings: dict[str, list[Finding]]  # person label -> what links them, where
    files: int
    size: int
    aes_ops: int
    mac_ops: int
    keys_available: int
    keys_total: int
    notes: list[str]

    def linked(self, label: str) -> bool:
        return bool(self.findings.get(label))


# --- encodings of what is searched for ---------------------------------------------------

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64_variants(data: bytes) -> list[bytes]:
    """Base64 of ``data`` inside a longer base64 text, for each of the three alignments."""
    out = []
    for start in range(3):
        chunk = data[start : start + (len(data) - start) // 3 * 3]
        if len(chunk) >= 9:
            encoded = base64.b64encode(chunk)
            out += [encoded, encoded.translate(_URLSAFE)]
    return out


def binary_forms(data: bytes) -> list[bytes]:
    """Raw, hexadecimal (a ``pg_dump`` shows bytea so, and hexdigests are stored so) and
    base64 forms of a binary value."""
    return [data, data.hex().encode(), *_b64_variants(data)]


def text_forms(value: str) -> list[bytes]:
    forms = [value.encode(), value.encode("utf-16-le")]
    if value.isdigit() and len(value) >= 12 and int(value) < 2**63:
        number = int(value)
        forms += [number.to_bytes(8, "little"), number.to_bytes(8, "big")]
    return forms


def _int64(value: int) -> list[bytes]:
    return [value.to_bytes(8, "little", signed=True), value.to_bytes(8, "big", signed=True)]


PRECISIONS = (timedelta(seconds=1), timedelta(milliseconds=1), timedelta(microseconds=1))


def _truncate(at: datetime, step: timedelta) -> datetime:
    return at - (at - PG_EPOCH) % step


def precision_for(at: datetime, others: list[set[datetime]]) -> timedelta | None:
    """The coarsest precision (a second at least) at which ``at`` is neither a whole minute
    (where a coarsened time could sit) nor the instant of someone else's activity;
    ``others`` holds those instants truncated to each of :data:`PRECISIONS`."""
    minute = _truncate(at, timedelta(minutes=1))
    for step, taken in zip(PRECISIONS, others, strict=True):
        value = _truncate(at, step)
        if value != minute and value not in taken:
            return step
    return None


def instant_forms(at: datetime, step: timedelta) -> list[bytes]:
    """An instant to ``step`` (and finer), as SQLite or ISO text (UTC and Bangkok), as a
    PostgreSQL timestamp (microseconds since 2000), or as epoch microseconds. (Shorter
    binary forms, like epoch seconds, would match by chance in megabytes of data.)"""
    at = at.astimezone(UTC)
    digits = {timedelta(seconds=1): 0, timedelta(milliseconds=1): 3}.get(step, 6)
    fraction = f"{at.microsecond:06d}"[:digits]
    dot = "." + fraction if digits else ""
    forms: list[bytes] = []
    for zone in (UTC, BANGKOK):
        local = at.astimezone(zone)
        for sep in (" ", "T"):
            forms.append((local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + dot).encode())
    if digits:
        forms.append(f"{int(at.timestamp())}{dot}".encode())  # epoch seconds as a number
    values = set()
    for finer in PRECISIONS:
        if finer <= step:
            truncated = _truncate(at, finer)
            values.add((truncated - PG_EPOCH) // timedelta(microseconds=1))
            values.add((truncated - UNIX_EPOCH) // timedelta(microseconds=1))
    for value in values:
        forms += _int64(value)
    return forms


# --- one pass per file ------------------------------------------------------------------


class _Needles:
    """An Aho-Corasick automaton over byte strings, each mapped to what it stands for."""

    def __init__(self) -> None:
        self.auto = ahocorasick.Automaton()
        self.subjects: list[tuple[Any, ...]] = []

    def add(self, subject: tuple[Any, ...], forms: Iterable[bytes]) -> None:
        index = len(self.subjects)
        self.subjects.append(subject)
        for form in forms:
            if len(form) < 8:
                continue  # too short to mean anything in megabytes of data
            key = form.decode("latin-1")
            entry = self.auto.get(key, None)
            if entry is None:
                self.auto.add_word(key, (len(form), [index]))
            elif index not in entry[1]:
                entry[1].append(index)

    def scan(self, files: Sequence[tuple[str, bytes]]) -> dict[tuple[Any, ...], list[str]]:
        """Where each subject was found: ``file@offset`` places, a few per subject."""
        self.auto.make_automaton()
        found: dict[tuple[Any, ...], list[str]] = {}
        for name, data in files:
            if not data:
                continue
            for end, (length, indexes) in self.auto.iter(data.decode("latin-1")):
                for index in indexes:
                    places = found.setdefault(self.subjects[index], [])
                    place = f"{name}@{end + 1 - length}"
                    if len(places) < MAX_PLACES and place not in places:
                        places.append(place)
        return found


class _Matcher:
    """Which people a byte string names: their identifiers and derived hashes, inside it."""

    def __init__(self, patterns: dict[bytes, set[int]]) -> None:
        self.auto = ahocorasick.Automaton()
        for pattern, owners in patterns.items():
            if len(pattern) >= 8:
                self.auto.add_word(pattern.decode("latin-1"), frozenset(owners))
        self.empty = len(self.auto) == 0
        if not self.empty:
            self.auto.make_automaton()

    def owners(self, *haystacks: bytes) -> set[int]:
        found: set[int] = set()
        if self.empty:
            return found
        for haystack in haystacks:
            if haystack:
                for _end, owners in self.auto.iter(haystack.decode("latin-1")):
                    found |= owners
        return found


# --- judging -------------------------------------------------------------------------


def _moments(recorder: Recorder, people: Sequence[Person]) -> list[list[list[bytes]]]:
    """Each person's clock readings, each in the forms that tell it apart from the
    readings taken for anyone (or anything) else."""
    result = []
    for person in people:
        others: list[set[datetime]] = [set() for _ in PRECISIONS]
        for actor, readings in recorder.instants.items():
            if actor != person.user_id:
                for at in readings:
                    for taken, step in zip(others, PRECISIONS, strict=True):
                        taken.add(_truncate(at, step))
        mine = []
        for at in sorted(set(recorder.instants.get(person.user_id, []))):
            step = precision_for(at, others)
            if step is not None:
                mine.append(instant_forms(at, step))
        result.append(mine)
    return result


def _keys_inside(aes: Sequence[AesOp], keys: Iterable[bytes]) -> dict[int, list[bytes]]:
    auto = ahocorasick.Automaton()
    for key in keys:
        auto.add_word(key.decode("latin-1"), key)
    if len(auto) == 0:
        return {}
    auto.make_automaton()
    inside: dict[int, list[bytes]] = {}
    for i, op in enumerate(aes):
        for _end, key in auto.iter(op.plaintext.decode("latin-1")):
            inside.setdefault(i, []).append(key)
    return inside


def _purpose(raw: bytes) -> str:
    """The readable head of a hashed message or associated data, never its tail (which
    may be a token or a user id)."""
    head = raw.split(b"\x00", 1)[0].split(b"|", 1)[0][:40]
    text = head.decode("utf-8", "replace")
    return text if text.isprintable() else "binary"


def _printable_text(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch == "\x00" for ch in text)


def judge(
    files: Sequence[tuple[str, bytes]],
    recorder: Recorder,
    people: Sequence[Person],
    *,
    data_keys: dict[bytes, str],
    pepper: bytes,
    secrets: Iterable[str],
) -> Verdict:
    """Everything in ``files`` that ties one of ``people`` to the server's records.

    ``secrets`` are values only reporters hold (their tracking tokens): a keyed hash of a
    message holding one cannot be recomputed by the thief.
    """
    aes, macs = list(recorder.aes), list(recorder.macs)
    secret_forms = [s.encode() for s in secrets if s]

    # Everything that could be in the files, searched for in one pass.
    needles = _Needles()
    moments = _moments(recorder, people)
    for p, person in enumerate(people):
        for kind, values in person.line_ids.items():
            for value in values:
                needles.add(("id", p, kind), text_forms(value))
        for j, forms in enumerate(moments[p]):
            needles.add(("instant", p, j), forms)
    for i, op in enumerate(aes):
        box = op.box
        needles.add(("box", i), binary_forms(box[:SLICE]))
        if len(box) > 2 * SLICE:
            needles.add(("box", i), binary_forms(box[-SLICE:]))
        needles.add(("nonce", i), binary_forms(op.nonce))
    for i, mac in enumerate(macs):
        needles.add(("digest", i), binary_forms(mac.digest[:12]))
    all_keys = {op.key for op in aes} | {mac.key for mac in macs}
    for key in all_keys:
        needles.add(("key", key), binary_forms(key[:16]))
    found = needles.scan(files)

    def places(*subjects: tuple[Any, ...]) -> list[str]:
        return [place for s in subjects for place in found.get(s, [])]

    box_found = {i for i in range(len(aes)) if found.get(("box", i)) and found.get(("nonce", i))}

    # Where each key comes from, and which the thief has.
    digests = {mac.digest for mac in macs}
    inside = _keys_inside(aes, all_keys)  # AES op index -> keys in its plaintext
    wrapped = {key for keys in inside.values() for key in keys}
    labels: dict[bytes, str] = {}
    available: dict[bytes, str] = {}
    notes: list[str] = []
    for key, kid in data_keys.items():
        labels[key] = f"data key {kid}"
        available[key] = "in the keys folder"
    labels[pepper] = "pepper"
    available[pepper] = "in the keys folder"
    counter = 0
    for key in sorted(all_keys - set(labels)):
        counter += 1
        origin = (
            "random"
            if key in recorder.generated
            else "derived"
            if key in digests
            else "wrapped"
            if key in wrapped
            else "unexplained"
        )
        labels[key] = f"{origin} key #{counter}"
        if origin == "unexplained":
            available[key] = "origin unknown: assumed known"
            notes.append(f"{labels[key]} has no known origin; assumed to be the thief's")

    # People's identifiers, direct and derived (keyed hashes of them, and of those).
    direct: dict[bytes, set[int]] = defaultdict(set)
    for p, person in enumerate(people):
        for values in person.line_ids.values():
            for value in values:
                direct[value.encode()].add(p)
        for forms in moments[p]:
            for form in forms:
                direct[form].add(p)
    derived: dict[int, set[int]] = {}  # mac index -> people it names

    def matcher() -> _Matcher:
        patterns: dict[bytes, set[int]] = defaultdict(set)
        for pattern, owners in direct.items():
            patterns[pattern] |= owners
        for i, owners in derived.items():
            patterns[macs[i].digest.hex().encode()] |= owners
            patterns[macs[i].digest[:16]] |= owners
        return _Matcher(patterns)

    while True:
        changed = False
        match = matcher()
        for key in all_keys:
            if key not in available and found.get(("key", key)):
                available[key] = "found as it is at " + found[("key", key)][0]
                changed = True
        for i in box_found:
            op = aes[i]
            if op.key not in available:
                continue
            for key in inside.get(i, ()):
                if key not in available:
                    where = found[("box", i)][0]
                    available[key] = f"wrapped under {labels[op.key]}, found at {where}"
                    changed = True
        for i, mac in enumerate(macs):
            if mac.key not in available:
                continue
            owners = match.owners(mac.msg)
            if owners and derived.get(i) != owners:
                derived[i] = owners
                changed = True
            known = bool(owners) or (
                len(mac.msg) <= 128
                and _printable_text(mac.msg)
                and not any(s in mac.msg for s in secret_forms)
            )
            if known and mac.digest in all_keys and mac.digest not in available:
                available[mac.digest] = f"recomputed as HMAC under {labels[mac.key]}"
                changed = True
        if not changed:
            break

    # What ties each person.
    findings: dict[str, list[Finding]] = {person.label: [] for person in people}
    grouped: dict[tuple[int, str], list[str]] = defaultdict(list)
    for p, person in enumerate(people):
        for kind in person.line_ids:
            hit = found.get(("id", p, kind))
            if hit:
                grouped[(p, f"{kind} stored as it is")] += hit
        for j in range(len(moments[p])):
            hit = found.get(("instant", p, j))
            if hit:
                grouped[(p, "the time of one of their messages, to the second or finer")] += hit
    for i, owners in derived.items():
        hit = found.get(("digest", i))
        if hit:
            mac = macs[i]
            for p in owners:
                grouped[(p, f"HMAC under {labels[mac.key]} of '{_purpose(mac.msg)}…'")] += hit
    match = matcher()
    for i in sorted(box_found):
        op = aes[i]
        if op.key not in available:
            continue
        owners = match.owners(op.plaintext, op.aad)
        for p in owners:
            what = f"AES-GCM under {labels[op.key]}, aad '{_purpose(op.aad)}…'"
            grouped[(p, what)] += places(("box", i))
    for (p, what), hits in grouped.items():
        findings[people[p].label].append(Finding(what, list(dict.fromkeys(hits))))

    return Verdict(
        findings=findings,
        files=len(files),
        size=sum(len(data) for _, data in files),
        aes_ops=len(aes),
        mac_ops=len(macs),
        keys_available=len(set(available) & all_keys),
        keys_total=len(all_keys),
        notes=notes,
    )


def _region(place: str) -> str:
    """The table named in a located place, else the file (or folder) it lies in."""
    if place.endswith(")") and "(" in place:
        return place[place.rindex("(") + 1 : -1].split(", ")[-1]
    name = place.rpartition("@")[0]
    return name.split("/")[-2] if name.count("/") >= 2 else name


def summary(
    verdict: Verdict,
    people: Sequence[Person],
    title: str,
    locate: Callable[[str], str] = str,
    max_lines: int = 6,
) -> str:
    """Counts per group, then what ties each linked person and where (no values)."""
    groups: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        groups[person.group].append(person)
    lines = [
        f"{title}: {verdict.files} files, {verdict.size / 1e6:.1f} MB; recorded "
        f"{verdict.aes_ops} AES-GCM and {verdict.mac_ops} HMAC; thief has "
        f"{verdict.keys_available} of {verdict.keys_total} keys",
        "linked per group: "
        + ", ".join(
            f"{group} {sum(verdict.linked(p.label) for p in members)}/{len(members)}"
            for group, members in groups.items()
        ),
    ]
    for person in people:
        found = verdict.findings.get(person.label) or []
        if not found:
            continue
        lines.append(f"  {person.label} ({person.group}): {len(found)} kinds of link")
        for finding in found[:max_lines]:
            named = [locate(place) for place in finding.places]
            where = ", ".join(sorted({_region(place) for place in named}))
            lines.append(f"    {finding.what}: {len(named)} places in {where}; e.g. {named[0]}")
        if len(found) > max_lines:
            lines.append(f"    … and {len(found) - max_lines} more")
    lines += [f"  note: {note}" for note in verdict.notes[:5]]
    return "\n".join(lines)
