"""Run the emulator on its own: ``python -m emulator --port 8099 ...``."""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import run_simple

from . import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Local fake of the LINE Messaging API"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--channel-secret", default=os.environ.get("LINE_CHANNEL_SECRET"))
    parser.add_argument("--access-token", default=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN"))
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="where to POST webhook events, e.g. http://127.0.0.1:5000/callback",
    )
    parser.add_argument("--reply-token-ttl", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.channel_secret or not args.access_token:
        parser.error(
            "--channel-secret and --access-token are required "
            "(or LINE_CHANNEL_SECRET / LINE_CHANNEL_ACCESS_TOKEN)"
        )
    app = create_app(
        channel_secret=args.channel_secret,
        access_token=args.access_token,
        webhook_url=args.webhook_url,
        reply_token_ttl=args.reply_token_ttl,
    )
    print(
        f"LINE emulator: chat page at http://{args.host}:{args.port}/ "
        f"-> webhook {args.webhook_url or '(none yet)'}",
        flush=True,
    )
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
