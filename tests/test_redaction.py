"""The heuristic that flags passages which may identify a reporter (issue 14, item 15)."""

from __future__ import annotations

from handlers import redaction


def _flags(text: str) -> dict[str, tuple[str, ...]]:
    return {p.text: p.reasons for p in redaction.passages({"description": text})}


def test_thai_first_person_workplace_phone_and_relatives_are_flagged() -> None:
    found = _flags("ดิฉันขายข้าวแกง ปากซอยสีลม 9 ทุกวัน เจ้าหน้าที่มาเก็บเงิน โทร 0812345678 ได้ ลูกสาวก็เห็น")
    assert found["ดิฉันขายข้าวแกง"] == ("first_person", "workplace")
    assert found["ปากซอยสีลม 9 ทุกวัน"] == ("workplace",)  # a number does not split it
    assert found["เจ้าหน้าที่มาเก็บเงิน"] == ()
    assert "contact" in found["โทร 0812345678 ได้"]
    assert found["ลูกสาวก็เห็น"] == ("relative",)


def test_english_sentences_are_flagged_the_same_way() -> None:
    found = _flags("I sell noodles at Soi Silom 9. The officer takes 500 baht. My wife saw it.")
    assert found["I sell noodles at Soi Silom 9."] == ("first_person", "workplace")
    assert found["The officer takes 500 baht."] == ()
    assert found["My wife saw it."] == ("first_person", "relative")
    assert _flags("Call 081-234-5678 or mail me at a@b.co")[
        "Call 081-234-5678 or mail me at a@b.co"
    ]


def test_words_that_only_contain_a_kin_term_are_not_relatives() -> None:
    assert _flags("แม่ค้าในตลาดอย่างน้อยสามคน")["แม่ค้าในตลาดอย่างน้อยสามคน"] == ("workplace",)


def test_masking_replaces_exactly_the_chosen_passages_and_typed_phrases() -> None:
    content = {"description": "ดิฉันขายข้าวแกง เจ้าหน้าที่มาเก็บเงิน", "where": "ร้านป้าแดง"}
    masked, count = redaction.mask(content, ["description#0"], ["ป้าแดง"], "[X]")
    assert masked == {"description": "[X] เจ้าหน้าที่มาเก็บเงิน", "where": "ร้าน[X]"}
    assert count == 2
