"""The LINE emulator in its own process, plus four routes only the benchmark needs.

``/_bench/reply_tokens`` registers reply tokens for events the load generator sends
straight to the bot (so the emulator spends no CPU relaying them); ``/_bench/stream``
sends every reply down one long response as it arrives, so a simulated reporter answers
as soon as the bot's reply reached LINE without a request of its own (``/_bench/wait``
long-polls for one reply); ``/_bench/deliveries`` lists every reply and push with when it
arrived and when it was answered.

Run: ``python -m bench.line_platform --port 8099 --channel-secret S --access-token T``.
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, jsonify, request
from gunicorn.app.base import BaseApplication

import emulator
import emulator.app as emulator_app

SENDS = ("/v2/bot/message/reply", "/v2/bot/message/push")


def create_app(channel_secret: str, access_token: str) -> Flask:
    emulator_app.MAX_LOG = 10**7  # keep every request: the run is short
    app = emulator.create_app(channel_secret=channel_secret, access_token=access_token)
    state = app.extensions["emulator"]
    lock = threading.Lock()
    deliveries: list[dict[str, Any]] = []
    by_token: dict[str, dict[str, Any]] = {}
    # One event per awaited reply: a delivery wakes its own reporter, not all of them.
    waiting: dict[str, threading.Event] = {}
    streams: list[queue.SimpleQueue[bytes]] = []

    @app.after_request
    def record(resp: Any) -> Any:
        if request.path in SENDS:
            body = request.get_json(silent=True) or {}
            entry = {
                "path": request.path,
                "token": body.get("replyToken"),
                "to": body.get("to"),
                "status": resp.status_code,
                "arrived": g.get("started", time.time()),
                "answered": time.time(),
                "messages": body.get("messages") or [],
            }
            waiter, line = None, b""
            with lock:
                deliveries.append(entry)
                if entry["token"] and resp.status_code == 200:
                    by_token[entry["token"]] = entry
                    waiter = waiting.pop(entry["token"], None)
                    if streams:
                        line = json.dumps(
                            {"token": entry["token"], "messages": entry["messages"]}
                        ).encode()
                        for stream in streams:
                            stream.put(line + b"\n")
            if waiter is not None:
                waiter.set()
        return resp

    @app.get("/_bench/stream")
    def stream() -> Any:
        """Every reply as it arrives, one JSON line each, for as long as the client reads."""
        feed: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        with lock:
            streams.append(feed)

        def lines() -> Iterator[bytes]:
            try:
                yield b"\n"  # the client knows it is subscribed
                while True:
                    yield feed.get()
            finally:
                with lock:
                    streams.remove(feed)

        return Response(lines(), mimetype="application/x-ndjson")

    @app.post("/_bench/reply_tokens")
    def reply_tokens() -> Any:
        pairs = (request.get_json(silent=True) or {}).get("tokens") or []
        now = state.clock()
        with state.lock:
            for token, chat_id in pairs:
                state.reply_tokens[token] = {"chat": chat_id, "issued": now, "used": False}
        return jsonify({"registered": len(pairs)})

    @app.get("/_bench/wait")
    def wait() -> Any:
        token = request.args.get("token", "")
        with lock:
            entry = by_token.get(token)
            waiter = waiting.setdefault(token, threading.Event()) if entry is None else None
        if waiter is not None:
            waiter.wait(float(request.args.get("timeout", 30)))
            with lock:
                waiting.pop(token, None)
                entry = by_token.get(token)
        if entry is None:
            return jsonify({"arrived": False}), 408
        return jsonify({"arrived": True, "messages": entry["messages"]})

    @app.get("/_bench/deliveries")
    def list_deliveries() -> Any:
        with lock:
            items = [{k: v for k, v in e.items() if k != "messages"} for e in deliveries]
        return jsonify({"deliveries": items})

    return app


class _Server(BaseApplication):  # type: ignore[misc]
    """One gunicorn process with a thread pool: LINE's state lives in this process's memory,
    and kept-alive connections cost far less CPU here than in Werkzeug's development
    server, which starts a thread per connection and parses headers with the email module.
    The platform stands in for LINE's servers, which would not share the bot's CPU."""

    def __init__(self, app: Flask, bind: str, threads: int) -> None:
        self.app, self.options = (
            app,
            {
                "bind": bind,
                "workers": 1,
                "worker_class": "gthread",
                "threads": threads,
                "keepalive": 75,
                # A reply stream waits for its next line for ever: nothing is left to drain
                # when the benchmark stops the platform, so it need not wait for one.
                "graceful_timeout": 1,
                "backlog": 2048,
                "loglevel": "warning",
                "accesslog": None,
            },
        )
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.line_platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--channel-secret", required=True)
    parser.add_argument("--access-token", required=True)
    parser.add_argument("--threads", type=int, default=400, help="requests served at once")
    args = parser.parse_args(argv)
    app = create_app(args.channel_secret, args.access_token)
    _Server(app, f"{args.host}:{args.port}", args.threads).run()


if __name__ == "__main__":
    main()
