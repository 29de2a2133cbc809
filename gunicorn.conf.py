"""Gunicorn settings for the web process (the Procfile passes ``-c gunicorn.conf.py``).

Deploy without a gap (README, "Under faults"): ``kill -USR2 <master>`` starts a new master
with the new code beside the old one; once its workers log "ready", ``kill -TERM <old
master>`` lets the old workers finish, record what they sent, and exit.
"""

from typing import Any


def post_worker_init(worker: Any) -> None:
    from bot.runtime import keep_start_up_out_of_collections

    keep_start_up_out_of_collections(worker.wsgi)
    # The app is loaded: this worker answers from now on. A deploy waits for this line.
    worker.log.info("Worker ready (pid: %s)", worker.pid)
