"""Serve any WSGI app from a background thread (the emulator, or the bot in tests)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # One line per request drowns test output; errors still go to stderr.
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class EmulatorServer:
    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host,
            self.port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler if self.quiet else None,
        )
        self._thread = threading.Thread(
            # A short poll keeps stop() quick; tests start and stop many servers.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wsgi-{self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
