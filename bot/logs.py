"""Logging failures without their messages: an exception's text may quote what a reporter
wrote (validation errors repeat their input), so only its type and stack frames are kept."""

from __future__ import annotations

import logging
import traceback


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s: %s\n%s", what, type(exc).__name__, frames.rstrip())
