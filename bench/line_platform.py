"""The LINE emulator in its own process, plus three routes only the benchmark needs.

``/_bench/reply_tokens`` registers reply tokens for events the load generator sends
straight to the bot (so the emulator spends no CPU relaying them); ``/_bench/wait``
long-polls until the reply to one event has arrived, so a simulated reporter answers as
soon as the bot's reply reached LINE; ``/_bench/deliveries`` lists every reply and push
with when it arrived and when it was answered.

Run: ``python -m bench.line_platform --port 8099 --channel-secret S --access-token T``.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

import emulator
import emulator.app as emulator_app

SENDS = ("/v2/bot/message/reply", "/v2/bot/message/push")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


def create_app(channel_secret: str, access_token: str) -> Flask:
    emulator_app.MAX_LOG = 10**7  # keep every request: the run is short
    app = emulator.create_app(channel_secret=channel_secret, access_token=access_token)
    state = app.extensions["emulator"]
    arrived = threading.Condition()
    deliveries: list[dict[str, Any]] = []
    by_token: dict[str, dict[str, Any]] = {}

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
            with arrived:
                deliveries.append(entry)
                if entry["token"] and resp.status_code == 200:
                    by_token[entry["token"]] = entry
                arrived.notify_all()
        return resp

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
        deadline = time.time() + float(request.args.get("timeout", 30))
        with arrived:
            while token not in by_token:
                left = deadline - time.time()
                if left <= 0:
                    return jsonify({"arrived": False}), 408
                arrived.wait(left)
            entry = by_token[token]
        return jsonify({"arrived": True, "messages": entry["messages"]})

    @app.get("/_bench/deliveries")
    def list_deliveries() -> Any:
        with arrived:
            items = [{k: v for k, v in e.items() if k != "messages"} for e in deliveries]
        return jsonify({"deliveries": items})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.line_platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--channel-secret", required=True)
    parser.add_argument("--access-token", required=True)
    args = parser.parse_args(argv)
    app = create_app(args.channel_secret, args.access_token)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=_Quiet)
    server.serve_forever()


if __name__ == "__main__":
    main()
