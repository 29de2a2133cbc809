"""The first screens a newcomer sees speak plainly: what happens to my report, how I stay
safe, what makes an anonymous report count; the rule they come from named last, and no
talk of prosecution before the person has told us anything (issue 14, item 1)."""

from __future__ import annotations

import re

import pytest
from test_form_support import Reporter, fill_until_review

from handlers.texts import t
from tests.conftest import Chat, texts_of

SOURCE = {"th": "ที่มา:", "en": "Source:"}
START = {"th": "แจ้งเบาะแส", "en": "report"}
LANGUAGE_CHIP = {"th": "ภาษาไทย", "en": "English"}
# Words that warn of punishment: they belong at the review step, never up front.
FEAR = {
    "th": ("ดำเนินคดี", "อาญา", "วินัย", "เป็นเท็จ", "โปรดทราบ"),
    "en": ("prosecut", "criminal", "disciplinary", "court", "false", "please note"),
}
# The truths the first screens must still tell, each in plain words.
TRUTHS = {
    "th": {
        "where it goes": "ศปท.กทม.",
        "checked in secret": "สืบเรื่องแบบลับ",
        "identity concealed": "ปกปิดเป็นความลับ",
        "photos cleaned": "GPS",
        "anonymous allowed": "ไม่ระบุตัวตน",
        "the anonymous bar: evidence": "หลักฐานชัดเจน",
        "the anonymous bar: witnesses": "ใครเห็นเหตุการณ์",
        "confidential is an official secret": "ความลับทางราชการ",
        "copies masked": "ปิดชื่อผู้ร้องเรียน",
        "tracking token": "รหัสติดตาม",
    },
    "en": {
        "where it goes": "anti-corruption centre",
        "checked in secret": "in secret",
        "identity concealed": "kept secret",
        "photos cleaned": "GPS",
        "anonymous allowed": "anonymous",
        "the anonymous bar: evidence": "clear evidence",
        "the anonymous bar: witnesses": "who saw",
        "confidential is an official secret": "official secret",
        "copies masked": "name masked",
        "tracking token": "tracking token",
    },
}


def _first_screens(chat: Chat, lang: str) -> list[str]:
    """Follow, start a report and accept the introduction, as a newcomer would; the text
    of every message shown until the bot asks how the person wants to report."""
    shown = [texts_of([m]) for m in chat.follow()]
    shown += [texts_of([m]) for m in chat.say(START[lang])]
    for _ in range(4):
        data = [a.get("data", "") for a in chat.quick_replies()]
        if any("identity_mode" in d for d in data):
            return shown
        if any("s=language" in d for d in data):
            reply = chat.choose(LANGUAGE_CHIP[lang])
        else:
            reply = chat.choose("s=intro")
        shown += [texts_of([m]) for m in reply]
    raise AssertionError(f"never reached the choice of anonymous or confidential: {shown}")


def _before_source(text: str, lang: str) -> str:
    return text.split(SOURCE[lang])[0]


@pytest.mark.parametrize("lang", ["th", "en"])
def test_first_screens_cite_no_clause_before_the_source_line(chat: Chat, lang: str) -> None:
    screens = _first_screens(chat, lang)
    for text in screens:
        body = _before_source(text, lang)
        assert "ข้อ 8." not in body and not re.search(r"\b8\.\d", body), body
        if SOURCE[lang] in text:
            # The source is the last line and names the rule, not just a number.
            last = text.strip().splitlines()[-1]
            assert last.startswith(SOURCE[lang]), text
            assert "นโยบายต่อต้านการรับสินบน" in last or "anti-bribery" in last
    assert sum(SOURCE[lang] in text for text in screens) >= 2


@pytest.mark.parametrize("lang", ["th", "en"])
def test_first_screens_warn_of_no_punishment(chat: Chat, lang: str) -> None:
    words = "\n".join(_first_screens(chat, lang)).lower()
    assert [w for w in FEAR[lang] if w.lower() in words] == []


@pytest.mark.parametrize("lang", ["th", "en"])
def test_first_screens_keep_every_truth(chat: Chat, lang: str) -> None:
    words = "\n".join(_first_screens(chat, lang))
    missing = [name for name, needle in TRUTHS[lang].items() if needle not in words]
    assert missing == []


@pytest.mark.parametrize("lang", ["th", "en"])
def test_introduction_says_where_then_safety_then_what_makes_anonymous_count(
    lang: str,
) -> None:
    intro = t(lang, "step.intro")
    where = intro.index(TRUTHS[lang]["where it goes"])
    safe = intro.index(TRUTHS[lang]["identity concealed"])
    counts = intro.index(TRUTHS[lang]["the anonymous bar: evidence"])
    assert where < safe < counts < intro.index(SOURCE[lang])


@pytest.mark.parametrize("lang", ["th", "en"])
def test_review_step_tells_calmly_of_reward_and_of_false_reports(lang: str) -> None:
    reporter = Reporter()
    fill_until_review(reporter, lang=lang)
    assert reporter.step == "review"
    card = texts_of(reporter.replies)
    assert t(lang, "review.truthful") in card
    reward, false = ("ประกาศเกียรติคุณ", "ไม่จริง") if lang == "th" else ("commendation", "false")
    assert reward in card and false in card
