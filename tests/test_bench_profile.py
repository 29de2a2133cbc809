"""The webhook's profile (`python -m bench.webhook_cost --profile`) is what issue 12's
profiles in bench/profile come from: it must keep running the real path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_webhook_profile_runs_and_counts_the_statements_on_the_drivers_path(
    tmp_path: Path,
) -> None:
    out = tmp_path / "profile.txt"
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.webhook_cost", "--rounds", "1", "--conversations", "1",
         "--profile", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = out.read_text()
    per_event = re.search(r"## SQL statements: ([\d.]+) per event", report)
    assert per_event is not None and float(per_event.group(1)) > 1
    # The hot statements reach the driver through store.hot, counted there.
    assert re.search(r"\d\.\d{3}  INSERT INTO processed_event", report)
    assert "hot.py" in report


def test_the_webhook_cost_can_be_measured_on_a_seeded_register() -> None:
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.webhook_cost", "--rounds", "1", "--conversations", "1",
         "--cases", "40"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "seeded 40 cases" in done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["events"] > 0
    assert set(figures["median_cpu_ms_by_kind"]) == {"step", "receipt", "lookup"}
    assert all(cpu > 0 for cpu in figures["median_cpu_ms_by_kind"].values())


def test_the_profile_summary_splits_own_time_by_place_and_by_the_caller_of_ours() -> None:
    from bench.spy_summary import summarise

    raw = "\n".join(
        [
            "thread (1): MainThread;Webhook.answer (bot/webhook.py:97);"
            "Database._unit (store/db.py:206);Connection.begin (sqlalchemy/engine/base.py:846) 30",
            "thread (1): MainThread;Webhook.answer (bot/webhook.py:97);"
            "execute (store/hot.py:291) 10",
            "thread (2): krasip-send-loop;LineGateway._send_async (bot/line.py:192);"
            "ClientSession._request (aiohttp/client.py:558) 20",
            "thread (2): krasip-send-loop;Thread.run (threading.py:971) 40",
        ]
    )
    out = summarise(raw, rate=100, events=10, top=10, callers=("sqlalchemy",))
    own = out.split("## own time by where the code lives (all threads)\n", 1)[1]
    places = [line.split()[-1] for line in own.split("\n\n", 1)[0].splitlines()]
    assert places == ["threading.py", "sqlalchemy", "aiohttp", "store/hot.py"]
    # 30 samples at 100 per second over 10 events: 30 ms per event.
    assert " 30.0 % 30.000 ms/event  sqlalchemy" in own
    callers = out.split("## own time in sqlalchemy, by the innermost Krasip frame calling it\n")[1]
    assert callers.splitlines()[0].endswith("Database._unit (store/db.py:206)")
    assert len(callers.strip().splitlines()) == 1, "only the samples in sqlalchemy"
