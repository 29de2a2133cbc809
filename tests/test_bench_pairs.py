"""`python -m bench --pairs N`: the targets' comparisons as alternated pairs of short runs,
so a change in the machine's speed between two runs weighs on both sides of a ratio."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from bench.run import comparisons, pair_figures

ROOT = Path(__file__).resolve().parents[1]


def _args(
    latency: str, pairs: int = 3, no_echo: bool = False, floor: bool = False
) -> argparse.Namespace:
    return argparse.Namespace(latency=latency, pairs=pairs, no_echo=no_echo, floor=floor)


def test_the_pairs_are_the_comparisons_the_targets_state() -> None:
    assert comparisons(_args("0,100")) == [
        (("krasip", 0), ("echo", 0)),
        (("krasip", 100), ("krasip", 0)),
    ]
    assert comparisons(_args("0,100", no_echo=True)) == [(("krasip", 100), ("krasip", 0))]
    assert comparisons(_args("0")) == [(("krasip", 0), ("echo", 0))]
    assert comparisons(_args("0,100", pairs=0)) == []
    # With the floor, the ceilings the ratio targets sit against are paired too.
    assert comparisons(_args("0,100", floor=True)) == [
        (("krasip", 0), ("echo", 0)),
        (("sealed", 0), ("echo", 0)),
        (("replay", 0), ("echo", 0)),
        (("krasip", 100), ("krasip", 0)),
    ]
    assert comparisons(_args("0", no_echo=True, floor=True)) == []


def _run(events_per_s: float, web: float) -> dict[str, object]:
    return {
        "events_per_s": events_per_s,
        "cpu_ms_per_event": {"web": web},
        "errors": 0,
        "replies_missing": 0,
    }


def test_each_pair_gives_its_own_ratio_and_the_median_ignores_an_empty_run() -> None:
    figures = pair_figures(
        [
            (_run(300, 3.0), _run(400, 2.0)),
            (_run(450, 2.5), _run(500, 1.8)),
            (_run(200, 4.0), _run(0, 0)),  # the other bot answered nothing
        ]
    )
    assert figures["ratios"] == [0.75, 0.9, None]
    assert figures["median"] == 0.825
    assert figures["events_per_s"] == [[300, 400], [450, 500], [200, 0]]
    assert figures["web_cpu_ms_per_event"][0] == [3.0, 2.0]


def test_a_pair_count_or_length_that_cannot_be_measured_is_refused_before_any_run() -> None:
    for wrong, said in (("--pairs=-1", "--pairs must be 0 or more"),
                        ("--pair-duration=0", "--pair-duration must be more than 0")):  # fmt: skip
        done = subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench", "--database", "sqlite", wrong],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2
        assert said in done.stderr
        assert "krasip at" not in done.stderr  # no run started


def test_the_benchmark_alternates_the_bots_of_a_pair(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench", "--database", "sqlite", "--latency", "0",
         "--reporters", "10", "--duration", "1", "--warmup", "0.5",
         "--pairs", "2", "--pair-duration", "1", "--json", str(out),
         "--markdown", str(tmp_path / "figures.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    order = re.findall(r"pair (\d) of 2, (\w+) at 0 ms", done.stderr)
    assert order == [("1", "krasip"), ("1", "echo"), ("2", "echo"), ("2", "krasip")]
    figures = json.loads(out.read_text())
    (pairs,) = figures["pairs"]
    # Each process's CPU per event, and of it what the kernel spent for it (counted in
    # clock ticks: a short run may show none).
    kernel = [
        (r["kernel_ms_per_event"]["web"], r["cpu_ms_per_event"]["web"]) for r in figures["runs"]
    ]
    assert all(0 <= spent < cpu for spent, cpu in kernel) and any(spent > 0 for spent, _ in kernel)
    assert "in brackets, the kernel's" in (tmp_path / "figures.md").read_text()
    assert pairs["measured"] == ["krasip", 0] and pairs["against"] == ["echo", 0]
    assert pairs["errors"] == 0
    for ratio, (krasip, echo) in zip(pairs["ratios"], pairs["events_per_s"], strict=True):
        assert krasip > 0 and echo > 0
        assert ratio == round(krasip / echo, 3)
    assert "krasip at 0 ms | echo at 0 ms | 2 |" in done.stdout
