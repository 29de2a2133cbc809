"""Synthetic cases for demonstrations and scale tests: `krasip demo seed --cases N`.

Every synthetic case is stored exactly as a real one: content under the data keys, the
identity of a confidential reporter sealed with HPKE, the token kept only as an HMAC,
the LINE address for updates encrypted. Only the way in differs: rows are written in
batches (case numbers reserved per batch, one multi-row insert per table, one commit per
batch), because filing 100,000 cases one by one through ``repo.create_case`` would take
a flush and a counter update per case.

``store`` imports neither ``handlers`` nor ``bot``: the caller hands in the vocabulary
(categories, districts, statuses, outcomes) and the token format.
"""

from __future__ import annotations

import random
import secrets
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import insert, update

from store import repo
from store.crypto import Keyring
from store.db import Database
from store.models import Case, CaseCounter, CaseEvent

# Where complaints come from (DOMAIN.md, "Channels"), weighted roughly like the centre's
# February 2023 table: most through Traffy Fondue and LINE, fewer on paper.
CHANNELS: dict[str, int] = {
    "line": 30,
    "traffy_fondue": 30,
    "hotline_1555": 10,
    "executives": 9,
    "email": 6,
    "website": 6,
    "letter": 5,
    "walk_in": 4,
}
CATEGORY_WEIGHTS: dict[str, int] = {
    "procurement": 10,
    "public_works": 18,
    "city_law": 20,
    "environment": 6,
    "registration": 12,
    "money": 11,
    "assets": 7,
    "personnel": 6,
    "other": 10,
}
OUTCOME_WEIGHTS: dict[str, int] = {
    "completed": 17,
    "forwarded_agency": 22,
    "forwarded_working_group": 40,
    "referred_nacc": 8,
    "referred_pacc": 4,
    "no_grounds": 9,
}
HISTORY = timedelta(days=730)
ANONYMOUS_SHARE = 0.6
DISTRICT_SHARE = 0.85

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "procurement": (
        "การจัดซื้อครุภัณฑ์การศึกษาของโรงเรียนในสังกัดมีราคาสูงกว่าท้องตลาดประมาณ {amount} บาท",
        "ผู้รับจ้างรายเดิมได้งานทุกครั้ง โดยมีการแบ่งซื้อแบ่งจ้างให้วงเงินต่ำกว่า {amount} บาท",
        "คณะกรรมการตรวจรับลงนามรับของทั้งที่ของยังส่งไม่ครบ มูลค่า {amount} บาท",
    ),
    "public_works": (
        "เจ้าหน้าที่ฝ่ายโยธาเรียกเงิน {amount} บาท เพื่อเร่งออกใบอนุญาตก่อสร้าง",
        "นายตรวจอาคารใช้เวลาราชการไปคุมงานก่อสร้างส่วนตัว และไม่ตรวจอาคารที่ได้รับแจ้ง",
        "ถนนที่เพิ่งซ่อมเสร็จชำรุดภายในสองเดือน สงสัยว่าผู้รับเหมาใช้วัสดุไม่ตรงสเปก",
    ),
    "city_law": (
        "เทศกิจเก็บเงินผู้ค้าหาบเร่แผงลอยรายละ {amount} บาทต่อเดือน โดยไม่มีใบเสร็จ",
        "ผู้ค้าที่ไม่จ่ายเงินถูกยึดของ ส่วนผู้ค้าที่จ่ายเงินตั้งแผงบนทางเท้าได้ตามปกติ",
        "เจ้าหน้าที่เทศกิจรับเงินจากร้านค้าเพื่อไม่ให้ตรวจการวางของรุกล้ำทางเท้า",
    ),
    "environment": (
        "โรงงานปล่อยน้ำเสียลงคลองทุกคืน เจ้าหน้าที่รับแจ้งแล้วแต่ไม่ดำเนินการ",
        "มีการเรียกเงิน {amount} บาท เพื่อไม่ให้ตรวจการเผาขยะในที่โล่ง",
    ),
    "registration": (
        "เจ้าหน้าที่ฝ่ายทะเบียนเรียกเงินใต้โต๊ะ {amount} บาท เพื่อเร่งออกใบอนุญาตประกอบกิจการ",
        "การจดทะเบียนพาณิชย์ต้องจ่ายค่าธรรมเนียมเพิ่ม {amount} บาท โดยไม่ออกใบเสร็จรับเงิน",
        "การย้ายเข้าทะเบียนบ้านต้องจ่ายเงินพิเศษจึงจะได้รับการพิจารณา",
    ),
    "money": (
        "ค่าปรับที่เก็บจากผู้กระทำผิดไม่ได้นำส่งเป็นรายได้ รวมประมาณ {amount} บาท",
        "มีการเบิกค่าอาหารทำงานนอกเวลาโดยไม่ได้ทำงานจริง เดือนละประมาณ {amount} บาท",
    ),
    "assets": (
        "รถยนต์ราชการถูกนำไปใช้ส่วนตัวในวันหยุดเป็นประจำ",
        "เจ้าหน้าที่นำวัสดุของสำนักงานเขตไปใช้ในกิจการส่วนตัว",
    ),
    "personnel": (
        "การจ้างครูสอนภาษาต่างประเทศต้องจ่ายเงิน {amount} บาท จึงจะได้รับการคัดเลือก",
        "มีการเรียกรับเงินเพื่อแต่งตั้งโยกย้ายตำแหน่งในสำนักงานเขต",
    ),
    "other": (
        "เจ้าหน้าที่เลือกปฏิบัติและเรียกรับผลประโยชน์จากผู้มาติดต่อ",
        "มีการขอเงินค่าดำเนินการโดยอ้างว่าเป็นค่าธรรมเนียม {amount} บาท",
    ),
}
POSITIONS = ("นายตรวจอาคาร", "เจ้าพนักงานธุรการ", "เจ้าหน้าที่เทศกิจ", "หัวหน้าฝ่าย", "นิติกร", None)
OFFICIALS = ("นายสมมติ ตัวอย่าง", "นางสาวสมมุติ ทดสอบ", "นายตัวอย่าง สมมติ", None)
PLACES = ("ห้องทะเบียน ชั้น 2", "หน้าตลาดนัด", "ไซต์ก่อสร้างในซอย", "โรงเรียนในสังกัด", "ลานจอดรถ")
WITNESSES = ("ผู้ค้าแผงข้างเคียง", "ผู้ยื่นคำขอคนถัดไป", "เพื่อนร่วมงานในฝ่าย", None, None)
EVIDENCE = ("มีภาพถ่ายและใบเสร็จ", "มีคลิปเสียง", "มีสำเนาเอกสารจัดซื้อ", None)
DEPARTMENTS = ("สำนักการโยธา", "สำนักการศึกษา", "สำนักเทศกิจ", "สำนักสิ่งแวดล้อม", "สำนักการคลัง")
PUBLIC_NOTES = (
    "สำนักงาน ก.ก. กำลังตรวจสอบข้อเท็จจริงเบื้องต้น",
    "เรื่องของท่านอยู่ระหว่างการพิจารณา",
    "ได้ส่งเรื่องให้หน่วยงานที่รับผิดชอบดำเนินการแล้ว",
)
NAMES = ("สมชาย", "สมหญิง", "วิชัย", "มาลี", "ประเสริฐ", "อรุณี", "สุดา", "ธนา")
SURNAMES = ("ใจดี", "รักไทย", "มั่นคง", "ศรีสุข", "บุญมา", "ทองดี")
RELATIONS = ("victim", "witness", "insider", "other")


@dataclass(frozen=True)
class Vocabulary:
    """What a case may say, from ``handlers`` (which ``store`` must not import)."""

    categories: Sequence[str]
    districts: Sequence[tuple[str, str, str]]  # code, Thai name, English name
    statuses: Sequence[str]  # in process order, "closed" last
    outcomes: Sequence[str]
    new_token: Callable[[], str]  # a fresh tracking token in its canonical form


@dataclass
class SeedSummary:
    cases: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    # A few tokens for measuring lookups in-process; callers must never print them.
    sample_tokens: list[str] = field(default_factory=list, repr=False)


class _Weighted:
    def __init__(self, weights: dict[str, int], allowed: Sequence[str]) -> None:
        self.values = [v for v in allowed if weights.get(v, 1) > 0]
        self.cumulative = list(accumulate(weights.get(v, 1) for v in self.values))

    def pick(self, rng: random.Random) -> str:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class _Generator:
    def __init__(self, keys: Keyring, vocabulary: Vocabulary, rng: random.Random) -> None:
        self.keys, self.vocabulary, self.rng = keys, vocabulary, rng
        self.channels = _Weighted(CHANNELS, list(CHANNELS))
        self.categories = _Weighted(CATEGORY_WEIGHTS, vocabulary.categories)
        self.outcomes = _Weighted(OUTCOME_WEIGHTS, vocabulary.outcomes)
        self.open_statuses = [s for s in vocabulary.statuses if s != "closed"]

    def progress(self, filed_at: datetime, now: datetime) -> list[tuple[datetime, str]]:
        """The statuses a case went through, with when: older cases got further."""
        age_days = (now - filed_at).total_seconds() / 86400
        steps: list[tuple[datetime, str]] = []
        at = filed_at
        for status in self.open_statuses[1:]:
            at = at + timedelta(days=self.rng.uniform(1, 20))
            if at >= now or self.rng.random() > min(0.95, age_days / 30):
                return steps
            steps.append((at, status))
        at = at + timedelta(days=self.rng.uniform(3, 60))
        if at < now and self.rng.random() < min(0.97, age_days / 90):
            steps.append((at, "closed"))
        return steps

    def content(self, category: str, filed_at: datetime) -> dict[str, Any]:
        rng = self.rng
        happened = (filed_at - timedelta(days=rng.randrange(0, 60))).date()
        district = None
        if self.vocabulary.districts and rng.random() < DISTRICT_SHARE:
            district = rng.choice(self.vocabulary.districts)
        agency: dict[str, Any] = (
            {"kind": "district", "district_code": district[0], "name_th": district[1],
             "name_en": district[2]}
            if district
            else {"kind": "other", "name": rng.choice(DEPARTMENTS)}
        )  # fmt: skip
        template = rng.choice(DESCRIPTIONS.get(category, DESCRIPTIONS["other"]))
        return {
            "category": category,
            "agency": agency,
            "official": {"name": rng.choice(OFFICIALS), "position": rng.choice(POSITIONS)},
            "description": template.format(amount=f"{rng.randrange(5, 500) * 100:,}"),
            "when": {
                "text": f"{happened.day}/{happened.month}/{happened.year + 543}",
                "date": happened.isoformat(),
            },
            "where": rng.choice(PLACES),
            "evidence_note": rng.choice(EVIDENCE),
            "witnesses": rng.choice(WITNESSES),
        }

    def case(self, filed_at: datetime, now: datetime) -> tuple[dict[str, Any], list[dict]]:
        rng, keys = self.rng, self.keys
        channel = self.channels.pick(rng)
        category = self.categories.pick(rng)
        content = self.content(category, filed_at)
        anonymous = rng.random() < ANONYMOUS_SHARE
        line_user = "U" + secrets.token_hex(16) if channel == "line" else None
        identity = None
        if not anonymous:
            identity = {
                "name": f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}",
                "contact": "08" + "".join(str(rng.randrange(10)) for _ in range(8)),
                "relation": rng.choice(RELATIONS),
            }
            if line_user:
                identity["line_user_id"] = line_user
        steps = self.progress(filed_at, now)
        status = steps[-1][1] if steps else self.vocabulary.statuses[0]
        outcome = self.outcomes.pick(rng) if status == "closed" else None
        updated_at = steps[-1][0] if steps else filed_at
        token = self.vocabulary.new_token()
        agency = content["agency"]
        row = {
            "channel": channel,
            "lang": "th" if rng.random() < 0.93 else "en",
            "category": category,
            "district_code": agency.get("district_code"),
            "anonymous": anonymous,
            "meets_anonymous_bar": bool(content["evidence_note"] and content["witnesses"]),
            "status": status,
            "outcome": outcome,
            "filed_at": filed_at,
            "updated_at": updated_at,
            # Encrypted once the case number is known: both are bound to it.
            "_content": content,
            "_identity": identity,
            "_note": rng.choice(PUBLIC_NOTES) if steps and rng.random() < 0.6 else None,
            "token_hash": keys.token_hash(token),
            "identity_key_fingerprint": keys.identity.fingerprint() if identity else None,
            "_token": token,
        }
        events = [{"kind": "filed", "at": filed_at, "status": "received", "outcome": None}]
        for at, step in steps:
            events.append(
                {
                    "kind": "status",
                    "at": at,
                    "status": step,
                    "outcome": outcome if step == "closed" else None,
                }
            )
        return row, events


def _reserve_numbers(session: Any, year: int, count: int) -> list[str]:
    """Take ``count`` consecutive case numbers for ``year`` (as repo.next_case_number does)."""
    session.execute(
        repo._insert(session)(CaseCounter)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    last = session.execute(
        update(CaseCounter)
        .where(CaseCounter.year == year)
        .values(last=CaseCounter.last + count)
        .returning(CaseCounter.last)
    ).scalar_one()
    return [f"KRS-{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


def seed_cases(
    db: Database,
    keys: Keyring,
    vocabulary: Vocabulary,
    *,
    count: int,
    now: datetime,
    seed: int | None = None,
    batch_size: int = 1000,
    keep_tokens: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Add ``count`` synthetic cases filed over the two years before ``now``.

    The same ``seed`` gives the same cases (tokens, keys and nonces aside). Each batch is
    committed on its own; ``progress`` is told how many cases each batch added.
    """
    rng = random.Random(seed)
    generator = _Generator(keys, vocabulary, rng)
    span = HISTORY.total_seconds()
    # Filed in time order, so case numbers rise with the filing date within each year.
    moments = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(count))
    summary = SeedSummary()
    for start in range(0, count, batch_size):
        batch = [generator.case(at, now) for at in moments[start : start + batch_size]]
        with db.transaction() as session:
            by_year: dict[int, list[dict[str, Any]]] = {}
            for row, _ in batch:
                by_year.setdefault(row["filed_at"].year, []).append(row)
            for year, rows in by_year.items():
                for row, number in zip(
                    rows, _reserve_numbers(session, year, len(rows)), strict=True
                ):
                    row["number"] = number
                    row["content_ct"], row["identity_sealed"] = repo.seal_case(
                        keys, number, row.pop("_content"), row.pop("_identity")
                    )
                    note = row.pop("_note")
                    row["public_note_ct"] = (
                        repo.seal_public_note(keys, number, note) if note else None
                    )
            tokens = [row.pop("_token") for row, _ in batch]
            ids = session.scalars(
                insert(Case).returning(Case.id, sort_by_parameter_order=True),
                [row for row, _ in batch],
            ).all()
            session.execute(
                insert(CaseEvent),
                [
                    {"case_id": case_id, **event}
                    for case_id, (_, events) in zip(ids, batch, strict=True)
                    for event in events
                ],
            )
        for row, _ in batch:
            summary.by_channel[row["channel"]] = summary.by_channel.get(row["channel"], 0) + 1
            summary.by_status[row["status"]] = summary.by_status.get(row["status"], 0) + 1
        # A sample spread over the whole history, not just the oldest cases.
        share = -(-keep_tokens * len(batch) // count)
        summary.sample_tokens.extend(rng.sample(tokens, min(share, len(tokens))))
        summary.cases += len(batch)
        if progress is not None:
            progress(len(batch))
    return summary
