"""Refresh the committed screenshots: ``python -m tests.console.screenshots``.

The browser tests write their screenshots to build/screenshots/; this runs the console
tests with docs/screenshots/ as the folder instead, so the committed images change only
when someone means them to. Extra arguments go to pytest (e.g. ``-k statistics``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    os.environ["KRASIP_SCREENSHOTS"] = str(ROOT / "docs" / "screenshots")
    return int(pytest.main(["-q", str(ROOT / "tests" / "console"), *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
