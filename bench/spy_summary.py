"""`python -m bench.spy_summary RAW [--events N]`: summarise a py-spy raw profile of one
web worker under the benchmark's load.

Record it with ``py-spy record -p PID -d 12 -r 200 -f raw -t -F -g -o RAW`` (``-g``: only
samples holding the interpreter, so a sample is CPU spent in Python; ``-t``: threads
named). Prints each thread's share of the samples and, for each busy thread, the frames
most often on its stack; with ``--events N`` (events the worker handled while sampled)
also milliseconds per event at the sampling rate.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_SITE = re.compile(r"\s+\(/.*?site-packages/")


def _thread(name: str) -> str:
    # "thread (1234): MainThread" -> "MainThread"; short-lived unnamed threads pooled.
    label = name.split(":", 1)[1].strip() if ":" in name else "unnamed threads"
    return label or "unnamed threads"


def summarise(raw: str, *, rate: float, events: int | None, top: int) -> str:
    per_thread: Counter[str] = Counter()
    frames: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        first, *rest = stack.split(";")
        thread = _thread(first)
        per_thread[thread] += n
        for frame in {_SITE.sub(" (", f) for f in rest}:  # inclusive: once per stack
            frames[thread][frame] += n
    total = sum(per_thread.values())

    def amount(n: int) -> str:
        share = f"{100 * n / total:5.1f} %"
        if events:
            return f"{share} {1000 * n / rate / events:6.3f} ms/event"
        return share

    out = [f"samples: {total}" + (f", events: {events}, rate: {rate:g}/s" if events else "")]
    out.append("")
    out.append("## threads")
    for thread, n in per_thread.most_common():
        out.append(f"{amount(n)}  {thread}")
    for thread, n in per_thread.most_common():
        if n < total / 50:
            continue
        out.append("")
        out.append(f"## {thread}: frames most often on the stack (inclusive)")
        # Frames under (nearly) every sample of the thread are its roots: not listed.
        ranked = frames[thread].most_common()
        roots = 0.97 * ranked[0][1] if ranked else 0
        busy = [(f, k) for f, k in ranked if k < roots]
        for frame, k in busy[:top]:
            out.append(f"{amount(k)}  {frame[:140]}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spy_summary", description=__doc__)
    parser.add_argument("raw", type=Path, help="py-spy's raw output (-f raw)")
    parser.add_argument("--events", type=int, help="events the worker handled while sampled")
    parser.add_argument("--rate", type=float, default=200, help="py-spy's -r (samples/s)")
    parser.add_argument("--top", type=int, default=45, help="frames listed per thread")
    args = parser.parse_args(argv)
    print(summarise(args.raw.read_text(), rate=args.rate, events=args.events, top=args.top), end="")


if __name__ == "__main__":
    main()
