"""A web worker keeps what start-up made out of Python's garbage collections
(gunicorn.conf.py): a full collection walked it for 91–167 ms, stalling that worker's
requests (bench/RESULTS.md). The hook runs in every gunicorn started from this folder,
the benchmark's echo bot too, which must stay as the SDK shows it."""

from __future__ import annotations

import gc
import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Bot

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def post_worker_init() -> Iterator[Callable[[Any], None]]:
    hook = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"]
    gc.unfreeze()
    yield hook
    gc.unfreeze()  # the rest of the test run collects as before


def _worker(app: Flask) -> SimpleNamespace:
    return SimpleNamespace(wsgi=app, pid=os.getpid(), log=logging.getLogger("gunicorn.error"))


def test_a_krasip_web_worker_freezes_what_start_up_made(
    bot: Bot, post_worker_init: Callable[[Any], None], caplog: pytest.LogCaptureFixture
) -> None:
    assert gc.get_freeze_count() == 0
    with caplog.at_level(logging.INFO, logger="gunicorn.error"):
        post_worker_init(_worker(bot.app))
    assert gc.get_freeze_count() > 10_000
    # A deploy waits for this line (README, "Under faults").
    assert "Worker ready" in caplog.text


def test_another_app_started_from_this_folder_is_left_as_it_is() -> None:
    """In a fresh interpreter, as in the echo bot's worker: nothing frozen, and none of
    Krasip's modules loaded (they would add ~30 MB and collection work to its baseline)."""
    script = (
        "import gc, logging, os, runpy, sys, types\n"
        "from flask import Flask\n"
        f"hook = runpy.run_path({str(ROOT / 'gunicorn.conf.py')!r})['post_worker_init']\n"
        "hook(types.SimpleNamespace(wsgi=Flask('echo'), pid=os.getpid(),"
        " log=logging.getLogger('gunicorn.error')))\n"
        "print(gc.get_freeze_count(), sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('bot', 'store', 'handlers')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "0 []"
