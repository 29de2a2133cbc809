"""`python -m bench.shredding` prints what a shredding pass costs by the vault's size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import shredding


def test_the_benchmark_times_each_size_and_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shredding.json"
    report = shredding.main(["--keys", "300,3000", "--json", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["database"] == "sqlite"
    assert [size["keys"] for size in report["sizes"]] == [300, 3000]
    for size in report["sizes"]:
        assert size["that pass finished"] is True
        assert size["pass after one key destroyed, ms"] > 0
        assert size["pass with nothing destroyed since, ms"] > 0
        assert size["longest wait of a writer meanwhile, ms"] > 0
        assert size["writes that gave up after the webhook's wait"] == 0
    printed = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["keys"] for line in printed] == [300, 3000]
