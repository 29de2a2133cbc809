"""Gunicorn settings for the web process (the Procfile passes ``-c gunicorn.conf.py``).

Deploy without a gap (README, "Under faults"): ``kill -USR2 <master>`` starts a new master
with the new code beside the old one; once its workers log "ready", ``kill -TERM <old
master>`` lets the old workers finish, record what they sent, and exit.
"""

from typing import Any


def post_worker_init(worker: Any) -> None:
    if "krasip" in getattr(worker.wsgi, "extensions", {}):
        # Imported only for Krasip's app: the benchmark's echo bot is started from this
        # folder too, and must stay as the SDK shows it.
        from bot.runtime import keep_start_up_out_of_collections

        keep_start_up_out_of_collections()
    # The app is loaded: this worker answers from now on. A deploy waits for this line.
    worker.log.info("Worker ready (pid: %s)", worker.pid)
