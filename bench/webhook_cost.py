"""`python -m bench.webhook_cost`: what one event costs the web process, in CPU.

No gunicorn and no concurrency: complete conversations (the load generator's scripts,
then a status lookup with the receipt's token) go one event at a time through the Flask
test client into the real webhook, and the replies go out through the real sender to the
benchmark's LINE platform (its own process, answering at once). Each event waits for its
reply before the next is sent. Prints, per event, the CPU this process spent (the webhook
transaction, the send and its bookkeeping: every thread) and the webhook's own wall time.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from bench.load import LOOKUP, SCRIPTS, TOKEN_RE, build_event, sign
from bench.run import free_port
from bot import create_app
from bot.config import load_settings
from store import migrate
from store.keys import generate_keys

SECRET = "bench-channel-secret-0123456789ab"  # noqa: S105 - a throwaway bench channel
ACCESS_TOKEN = "bench-access-token"  # noqa: S105


class Platform:
    """The benchmark's LINE platform in a subprocess, so its CPU is not counted here."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.line_platform", "--port", port,
             "--channel-secret", SECRET, "--access-token", ACCESS_TOKEN],
        )  # fmt: skip
        self.http = requests.Session()
        for _ in range(100):
            try:
                self.http.get(self.url + "/_emulator/config", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def reply_tokens(self, user_id: str, count: int) -> list[str]:
        tokens = [secrets.token_hex(16) for _ in range(count)]
        self.http.post(
            self.url + "/_bench/reply_tokens", json={"tokens": [[t, user_id] for t in tokens]}
        ).raise_for_status()
        return tokens

    def wait(self, token: str) -> list[dict[str, Any]]:
        response = self.http.get(self.url + "/_bench/wait", params={"token": token, "timeout": 10})
        if response.status_code != 200:
            raise RuntimeError("a reply did not arrive")
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="krasip-webhook-cost-"))
    material = generate_keys(folder / "keys", "benchmark passphrase only")
    url = args.database or f"sqlite:///{folder / 'krasip.sqlite3'}"
    platform = Platform()
    settings = load_settings(
        environ={},
        overrides={
            "env": "development",
            "instance_path": folder,
            "keys": material,
            "line_channel_secret": SECRET,
            "line_channel_access_token": ACCESS_TOKEN,
            "line_api_base_url": platform.url,
            "line_data_api_base_url": platform.url,
        },
    )
    settings = replace(settings, database_url=url)
    migrate.upgrade(url)
    client = create_app(settings).test_client()

    def step(user_id: str, kind: str, value: str, token: str) -> tuple[float, list[dict]]:
        event = build_event(user_id, kind, value, token)
        body = json.dumps({"destination": "U0", "events": [event]}, ensure_ascii=False).encode()
        started = time.perf_counter()
        response = client.post(
            "/callback",
            data=body,
            headers={"X-Line-Signature": sign(SECRET, body), "Content-Type": "application/json"},
        )
        webhook = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}")
        return webhook, platform.wait(token)

    cpu_per_event, webhook_ms = [], []
    try:
        for number in range(args.rounds):
            events, cpu = 0, 0.0
            for conversation in range(args.conversations):
                user_id = "U" + secrets.token_hex(16)
                script = SCRIPTS[(number + conversation) % len(SCRIPTS)]
                tokens = platform.reply_tokens(user_id, len(script) + 1)
                steps = [*script, (LOOKUP, "")]
                messages: list[dict] = []
                for index, (kind, value) in enumerate(steps):
                    if kind == LOOKUP:
                        found = (TOKEN_RE.fullmatch(m.get("text", "")) for m in messages)
                        value = next(m.group(0) for m in found if m)
                        kind = "text"
                    before = time.process_time()
                    webhook, messages = step(user_id, kind, value, tokens[index])
                    cpu += time.process_time() - before
                    webhook_ms.append(webhook * 1000)
                    events += 1
            cpu_per_event.append(cpu / events * 1000)
    finally:
        platform.stop()
    webhook_ms.sort()
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "events": len(webhook_ms),
                "cpu_ms_per_event": [round(x, 2) for x in cpu_per_event],
                "median_cpu_ms_per_event": round(statistics.median(cpu_per_event), 2),
                "webhook_ms_p50": round(webhook_ms[len(webhook_ms) // 2], 2),
                "webhook_ms_p99": round(webhook_ms[int(len(webhook_ms) * 0.99)], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
