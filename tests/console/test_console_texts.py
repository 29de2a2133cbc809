"""The console catalogue: Thai and English have the same keys and placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.console import texts

TEMPLATES = Path(texts.__file__).with_name("templates") / "console"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_thai_and_english_have_the_same_keys_and_placeholders() -> None:
    assert set(texts.TH) == set(texts.EN)
    for key in texts.TH:
        assert _fields(texts.TH[key]) == _fields(texts.EN[key]), key


def test_every_key_a_template_uses_exists() -> None:
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_.]+)["']\s*[,)]""", path.read_text()))
    assert used and used <= set(texts.TH), used - set(texts.TH)


def test_years_are_buddhist_era_in_thai() -> None:
    assert texts.show_year("th", 2023) == "พ.ศ. 2566"
    assert texts.show_year("en", 2023) == "2023"
