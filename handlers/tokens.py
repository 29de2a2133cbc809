"""Tracking tokens: 80 random bits written as 16 Crockford base32 symbols, ``XXXX-XXXX-XXXX-XXXX``.

The shell draws the random bytes (``secrets``); this module only formats them and
recognises what a reporter types back, tolerantly: people copy tokens from screenshots,
retype them on phones and paste them inside sentences.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOKEN_BYTES = 10
TOKEN_SYMBOLS = 16
GROUP = 4

# Crockford's confusables: letters a human may type for a digit. U is simply invalid.
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_]+")
# Inside a longer message we only trust the grouped, dashed form: four plain words in a
# sentence ("they took cash from") must never be mistaken for a token.
_GROUPED = re.compile(
    r"(?<![0-9A-Za-z])([0-9A-Za-z]{4})\s*-\s*([0-9A-Za-z]{4})\s*-\s*"
    r"([0-9A-Za-z]{4})\s*-\s*([0-9A-Za-z]{4})(?![0-9A-Za-z])"
)
_VALID = frozenset(ALPHABET)


def format_token(raw: bytes) -> str:
    """Write 10 random bytes (80 bits) as 16 base32 symbols in four groups of four."""
    if len(raw) != TOKEN_BYTES:
        raise ValueError(f"a token is {TOKEN_BYTES} bytes, got {len(raw)}")
    number = int.from_bytes(raw, "big")
    symbols = [ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(TOKEN_SYMBOLS))]
    return _grouped("".join(symbols))


def parse(text: str) -> str | None:
    """Recognise a token in what a reporter sent; return it canonical or ``None``.

    The whole message may be the token in any case, with or without spaces, dashes and
    line breaks, and with O/I/L typed for 0/1. A token inside a longer message is
    accepted only in its grouped ``XXXX-XXXX-XXXX-XXXX`` form, and only if exactly one
    distinct token is there.
    """
    if not text:
        return None
    whole = _canonical(_SEPARATORS.sub("", text))
    if whole is not None:
        return whole
    found = {
        token
        for match in _GROUPED.finditer(text)
        if (token := _canonical("".join(match.groups()))) is not None
    }
    if len(found) == 1:
        return found.pop()
    return None


def _canonical(compact: str) -> str | None:
    if len(compact) != TOKEN_SYMBOLS:
        return None
    symbols = compact.upper().translate(_CONFUSABLES)
    if not all(ch in _VALID for ch in symbols):
        return None
    return _grouped(symbols)


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP] for i in range(0, TOKEN_SYMBOLS, GROUP))
