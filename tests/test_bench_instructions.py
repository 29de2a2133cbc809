"""`python -m bench.instructions` counts a web worker's instructions per event under
callgrind: the counts must cover exactly the conversations driven, and be real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.instructions import Counts, markdown, read_totals, summarise
from bench.load import SCRIPTS

ROOT = Path(__file__).resolve().parents[1]

DUMP = """# callgrind format
version: 1
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 1000

fn=(1) main
5 900 300 200 4 30 10 2 20 5

totals: 1000 400 200 5 40 10 3 25
"""


def test_a_dumps_totals_are_read_by_the_names_on_its_events_line(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.1"
    dump.write_text(DUMP)
    # callgrind leaves a count it never saw (here DLmw) off the end of the line.
    assert read_totals(dump) == {
        "Ir": 1000, "Dr": 400, "Dw": 200, "I1mr": 5, "D1mr": 40, "D1mw": 10,
        "ILmr": 3, "DLmr": 25, "DLmw": 0,
    }  # fmt: skip
    dump.write_text(DUMP.replace("totals:", "summary:", 1).rsplit("summary:", 1)[0])
    with pytest.raises(ValueError, match="no totals"):
        read_totals(dump)


def test_per_event_figures_and_the_idle_share_come_from_the_counts() -> None:
    busy = Counts(
        events=10,
        seconds=4.0,
        totals={"Ir": 50_000, "Dr": 20_000, "Dw": 5_000, "I1mr": 0, "D1mr": 700,
                "D1mw": 300, "ILmr": 100, "DLmr": 200, "DLmw": 50},
    )  # fmt: skip
    quiet = Counts(events=0, seconds=2.0, totals={**busy.totals, "Ir": 1_000})
    row = summarise("krasip", busy, quiet)
    assert row["ir_per_event"] == 5_000
    # Less 4 s of what the idle worker did by the clock (500 a second).
    assert row["work_ir_per_event"] == 4_800
    assert row["data_refs_per_event"] == 2_500
    assert row["d1_misses_per_event"] == 100
    assert row["ll_misses_per_event"] == 35
    assert row["idle_ir_per_s"] == 500
    assert row["idle_share"] == pytest.approx(500 * 4.0 / 50_000)
    echo = {**row, "bot": "echo", "ir_per_event": 2_500, "work_ir_per_event": 2_400}
    table = markdown([row, echo], "python -m bench.instructions")
    assert "| krasip | 10 | 5,000 | 4,800 |" in table
    assert table.splitlines()[4].endswith("| 2.00× |")


def test_krasip_and_the_echo_bot_are_counted_over_the_same_conversations(
    tmp_path: Path,
) -> None:
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed: apt-get install valgrind", pytrace=False)
    out = tmp_path / "counts.json"
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.instructions", "--bots", "krasip,echo",
         "--warmup", "1", "--conversations", "2", "--idle", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["bot"]: row for row in json.loads(out.read_text())["bots"]}
    # The counted window holds exactly the second and third conversations: the two
    # scripts once each, and Krasip's reporters send the receipt's token back.
    steps = sum(len(script) for script in SCRIPTS)
    assert rows["echo"]["events"] == steps
    assert rows["krasip"]["events"] == steps + 2
    for row in rows.values():
        # A real count: an event costs the interpreter millions of instructions, and
        # the window was counted, not the worker's start-up.
        assert 500_000 < row["ir_per_event"] < 50_000_000
        assert 0 < row["work_ir_per_event"] <= row["ir_per_event"]
        assert row["totals"]["Ir"] == pytest.approx(row["ir_per_event"] * row["events"], rel=0.01)
        assert row["ll_misses_per_event"] > 0
    # Krasip keeps and seals what the echo bot only repeats.
    assert rows["krasip"]["work_ir_per_event"] > rows["echo"]["work_ir_per_event"]
    assert "| krasip |" in done.stdout and "| echo |" in done.stdout
