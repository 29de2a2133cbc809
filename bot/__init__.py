"""Krasip's web process: the LINE webhook (and, in time, the staff console)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask

from bot.config import Settings, load_settings
from bot.runtime import build_runtime, utc_now


def create_app(
    test_config: Mapping[str, Any] | Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Flask:
    """The app factory (``gunicorn 'bot:create_app()'``).

    ``test_config`` is a ready ``Settings`` or overrides for the settings read from the
    environment; a missing secret outside development stops the start with a clear error.
    """
    settings = (
        test_config if isinstance(test_config, Settings) else load_settings(overrides=test_config)
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        KRASIP_SETTINGS=settings,
    )
    runtime = build_runtime(settings, clock)
    app.extensions["krasip"] = runtime

    from bot import console, webhook

    app.register_blueprint(webhook.bp)
    console.init_app(app)
    # Outermost, so LINE's requests skip Flask and the console's middleware.
    hsts = None if settings.development else console.HSTS
    app.wsgi_app = webhook.Webhook(runtime, app.wsgi_app, hsts=hsts)  # type: ignore[method-assign]
    return app
