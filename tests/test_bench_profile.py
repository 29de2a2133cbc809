"""The webhook's profile (`python -m bench.webhook_cost --profile`) is what issue 12's
profiles in bench/profile come from: it must keep running the real path."""

from __future__ import annotations

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
