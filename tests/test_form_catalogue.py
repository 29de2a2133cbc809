"""The text catalogue: same keys and placeholders in Thai and English, every key the form
needs exists, button labels fit LINE, and no user-facing text hides in the code."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from handlers.form import CATEGORIES, STEPS
from handlers.model import CASE_OUTCOMES, CASE_STATUSES
from handlers.texts import CATALOGUES, en, t, th

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
THAI = re.compile(r"[\u0e00-\u0e7f]")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_thai_and_english_have_the_same_keys() -> None:
    assert set(th.TEXTS) == set(en.TEXTS)


def test_thai_and_english_have_the_same_placeholders() -> None:
    different = [
        key
        for key in th.TEXTS
        if _placeholders(th.TEXTS[key]) != _placeholders(en.TEXTS.get(key, ""))
    ]
    assert different == []


@pytest.mark.parametrize("lang", ["th", "en"])
def test_quick_reply_labels_fit_in_twenty_characters(lang: str) -> None:
    too_long = {
        key: value
        for key, value in CATALOGUES[lang].items()
        if key.startswith("btn.") and len(value.encode("utf-16-le")) // 2 > 20
    }
    assert too_long == {}


def test_every_step_prompt_and_choice_has_texts() -> None:
    for step in STEPS:
        for key in (step.prompt_key, step.summary_key, step.error_key):
            if key:
                assert key in th.TEXTS, key
        for choice in step.choices:
            assert choice.button_key in th.TEXTS and choice.label_key in th.TEXTS
        if step.edit:
            assert f"btn.edit.{step.edit}" in th.TEXTS


def test_every_category_status_and_outcome_has_plain_words() -> None:
    for category in CATEGORIES:
        assert t("th", f"cat.{category}") and t("en", f"cat.{category}")
    for status in CASE_STATUSES:
        assert t("en", f"status_name.{status}") and t("en", f"status_detail.{status}")
    for outcome in CASE_OUTCOMES:
        assert t("th", f"status_name.closed.{outcome}") and t("th", f"outcome_detail.{outcome}")


def test_thai_texts_quote_seed_003() -> None:
    assert "ไม่รับไว้พิจารณา" in th.TEXTS["step.anonymous_bar"]
    assert "ประกาศเกียรติคุณ" in th.TEXTS["review.truthful"]
    assert "ปิดชื่อผู้ร้องเรียน" in th.TEXTS["step.identity_mode"]


def test_unknown_language_falls_back_to_thai() -> None:
    assert t("fr", "btn.cancel") == "ยกเลิก"


def _string_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # Exception messages are for developers, not reporters.
    raised = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.Raise) for n in ast.walk(node)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings | raised
    ]


@pytest.mark.parametrize(
    "module",
    sorted(
        str(p.relative_to(HANDLERS))
        for p in [*HANDLERS.glob("*.py"), *HANDLERS.glob("steps/*.py")]
        # redaction.py holds patterns that find identifying words; none is ever shown.
        if p.name not in ("model.py", "redaction.py")
    ),
)
def test_no_user_facing_text_outside_the_catalogue(module: str) -> None:
    # Thai letters or English sentences in code would be text the catalogue misses.
    sentences = [
        s
        for s in _string_literals(HANDLERS / module)
        if THAI.search(s) or re.search(r"[A-Za-z]+ [a-z]+ [a-z]+", s)
    ]
    assert sentences == []
