"""gunicorn settings for ``bench.instructions``: the web worker counts when it is told to.

valgrind's remote control does not reach a process that gunicorn forked, so the worker
takes two signals instead and calls callgrind's own client requests (a small library
``bench.instructions`` compiles, named in KRASIP_CALLGRIND_LIB): START zeroes the counts
and starts counting, DUMP writes what was counted; each then writes a line to
KRASIP_CALLGRIND_DONE. Under valgrind the clock runs many times faster against the work,
so the batched delivery records (Krasip's and the floors', every 100 ms) wait
KRASIP_CALLGRIND_CLOCK times as long, to batch as many events as they do under load.
Everything else is the repository's own ``gunicorn.conf.py``.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
from pathlib import Path
from typing import Any

START = signal.SIGRTMIN + 1
DUMP = signal.SIGRTMIN + 2

_repository = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))


def post_worker_init(worker: Any) -> None:
    library = ctypes.CDLL(os.environ["KRASIP_CALLGRIND_LIB"])
    done = Path(os.environ["KRASIP_CALLGRIND_DONE"])

    def answer(call: Any, word: str) -> Any:
        def handler(_signum: int, _frame: Any) -> None:
            call()
            with done.open("a") as out:
                out.write(word + "\n")

        return handler

    scale = float(os.environ.get("KRASIP_CALLGRIND_CLOCK", "1"))
    if (outbox := sys.modules.get("bot.outbox")) is not None:
        outbox.Dispatcher.FLUSH_DELAY *= scale
    if (floor := sys.modules.get("bench.floor_bot")) is not None:
        floor.FLUSH_DELAY *= scale
    signal.signal(START, answer(library.krasip_count_start, "start"))
    signal.signal(DUMP, answer(library.krasip_count_dump, "dump"))
    _repository["post_worker_init"](worker)
