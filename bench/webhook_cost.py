"""`python -m bench.webhook_cost`: what one webhook event costs inside the web process.

No network and no load generator: a signed event goes through the Flask test client into
the real webhook, one transaction per event, on SQLite (or `--database URL`). The reply is
left in the outbox (sending is measured by `python -m bench`). Prints milliseconds per
event: the figure README quotes for the webhook transaction.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from bot import create_app
from bot.config import load_settings
from store import migrate
from store.keys import generate_keys

SECRET = "bench-channel-secret-0123456789ab"  # noqa: S105 - a throwaway bench channel


def _signed(user_id: str, text: str) -> tuple[bytes, str]:
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
        "message": {"type": "text", "id": "1", "text": text, "quoteToken": "q"},
    }
    body = json.dumps({"destination": "U0", "events": [event]}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    return body, signature.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="events per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="krasip-webhook-cost-"))
    material = generate_keys(folder / "keys", "benchmark passphrase only")
    url = args.database or f"sqlite:///{folder / 'krasip.sqlite3'}"
    settings = load_settings(
        environ={},
        overrides={
            "env": "development",
            "instance_path": folder,
            "keys": material,
            "line_channel_secret": SECRET,
        },
    )
    settings = replace(settings, database_url=url, send_after_commit=False)
    migrate.upgrade(url)
    client = create_app(settings).test_client()

    per_event = []
    for _ in range(args.rounds):
        # Each event is a new reporter's first step: event record, conversation lock,
        # the form's first question, encrypted state, an outbox row.
        requests = [_signed("U" + uuid.uuid4().hex, "ร้องเรียน") for _ in range(args.events)]
        started = time.perf_counter()
        for body, signature in requests:
            response = client.post(
                "/callback",
                data=body,
                headers={"X-Line-Signature": signature, "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.status_code
        per_event.append((time.perf_counter() - started) / args.events * 1000)
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "events_per_round": args.events,
                "ms_per_event": [round(x, 2) for x in per_event],
                "median_ms_per_event": round(statistics.median(per_event), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
