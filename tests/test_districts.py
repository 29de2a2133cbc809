"""The 50 district offices, and matching what reporters type."""

from __future__ import annotations

import pytest

from handlers.districts import BY_CODE, DISTRICTS, match


def test_all_fifty_districts_are_packaged() -> None:
    assert len(DISTRICTS) == 50
    assert len({d.code for d in DISTRICTS}) == 50
    assert BY_CODE["1004"].name_th == "บางรัก" and BY_CODE["1004"].name_en == "Bang Rak"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("บางรัก", "1004"),
        ("เขตบางรัก", "1004"),
        ("เขต บางรัก", "1004"),
        ("สำนักงานเขตห้วยขวาง", "1017"),
        ("ราษฎรบูรณะ", "1024"),  # the silencer left out
        ("Bang Rak", "1004"),
        ("bangrak", "1004"),
        ("Bang-Rak", "1004"),
        ("Khet Bang Rak", "1004"),
        ("Bang Rak District", "1004"),
        ("Huaykwang", "1017"),
        ("Huai Khwang", "1017"),
        ("Ratchathewi", "1037"),
        ("Rajathevi", "1037"),
        ("Pathumwan", "1007"),
        ("Pathum Wan", "1007"),
        ("Jatujak", "1030"),
        ("Klongtoey", "1033"),
        ("Sathorn", "1028"),
        ("Donmuang", "1036"),
        ("Bangrek", "1004"),  # a typo
    ],
)
def test_thai_and_english_spellings_match_one_district(typed: str, code: str) -> None:
    assert [d.code for d in match(typed)] == [code]


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("Bangkok", {"1016", "1020"}),
        ("บางกอก", {"1016", "1020"}),
        ("Khlong", {"1018", "1033", "1046"}),
    ],
)
def test_an_ambiguous_name_returns_the_candidates(typed: str, codes: set[str]) -> None:
    assert {d.code for d in match(typed)} == codes


@pytest.mark.parametrize("typed", ["", "   ", "Springfield", "xyz", "เขต"])
def test_no_match_returns_nothing(typed: str) -> None:
    assert match(typed) == []


def test_every_district_matches_its_own_names() -> None:
    for district in DISTRICTS:
        assert match(district.name_th) == [district]
        assert match(district.name_en) == [district]
        assert match(district.name_en.upper().replace(" ", "")) == [district]
