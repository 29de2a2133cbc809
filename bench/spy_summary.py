"""`python -m bench.spy_summary RAW [--events N]`: summarise a py-spy raw profile of one
web worker under the benchmark's load.

Record it with ``py-spy record -p PID -d 12 -r 200 -f raw -t -F -g -o RAW`` (``-g``: only
samples holding the interpreter, so a sample is CPU spent in Python; ``-t``: threads
named). Prints each thread's share of the samples and, for each busy thread, the frames
most often on its stack; with ``--events N`` (events the worker handled while sampled)
also milliseconds per event at the sampling rate. Last, every thread's own time (the
frame at the top of each sample) by where its code lives: a package, or a module of
Krasip's or of the standard library; a flat list there means no one part dominates.
``--callers PLACE`` splits one place's own time (``sqlalchemy``) by the innermost frame of
Krasip's code on the stack under it: which of our calls pays for it.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_SITE = re.compile(r"\s+\(/.*?site-packages/")
_FILE = re.compile(r"\(([^()]*?):\d+\)$")
_OURS = ("bot/", "store/", "handlers/", "bench/", "emulator/")


def _thread(name: str) -> str:
    # "thread (1234): MainThread" -> "MainThread"; short-lived unnamed threads pooled.
    label = name.split(":", 1)[1].strip() if ":" in name else "unnamed threads"
    return label or "unnamed threads"


def summarise(
    raw: str, *, rate: float, events: int | None, top: int, callers: tuple[str, ...] = ()
) -> str:
    per_thread: Counter[str] = Counter()
    frames: defaultdict[str, Counter[str]] = defaultdict(Counter)
    own: Counter[str] = Counter()
    under: defaultdict[str, Counter[str]] = defaultdict(Counter)
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
        if rest:
            place = _where(rest[-1])
            own[place] += n
            if place in callers:
                ours = [f for f in rest if _where(f).startswith(_OURS)]
                under[place][_SITE.sub(" (", ours[-1]) if ours else "(no Krasip frame)"] += n
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
    out.append("")
    out.append("## own time by where the code lives (all threads)")
    for place, n in own.most_common(top):
        out.append(f"{amount(n)}  {place}")
    for place in callers:
        out.append("")
        out.append(f"## own time in {place}, by the innermost Krasip frame calling it")
        for frame, n in under[place].most_common(top):
            out.append(f"{amount(n)}  {frame[:140]}")
    return "\n".join(out) + "\n"


def _where(frame: str) -> str:
    """Where a frame's code lives: Krasip's module, else its package, else its file (py-spy
    names files from their folder on ``sys.path``: ``aiohttp/client.py``, ``threading.py``)."""
    found = _FILE.search(frame)
    if found is None:
        return frame.strip() or "unknown"
    path = found.group(1)
    if path.startswith(_OURS):
        return path
    return path.split("/", 1)[0] if "/" in path else path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spy_summary", description=__doc__)
    parser.add_argument("raw", type=Path, help="py-spy's raw output (-f raw)")
    parser.add_argument("--events", type=int, help="events the worker handled while sampled")
    parser.add_argument("--rate", type=float, default=200, help="py-spy's -r (samples/s)")
    parser.add_argument("--top", type=int, default=45, help="frames listed per thread")
    parser.add_argument(
        "--callers",
        action="append",
        default=[],
        metavar="PLACE",
        help="also split this place's own time (e.g. sqlalchemy) by the Krasip code calling it",
    )
    args = parser.parse_args(argv)
    summary = summarise(
        args.raw.read_text(),
        rate=args.rate,
        events=args.events,
        top=args.top,
        callers=tuple(args.callers),
    )
    print(summary, end="")


if __name__ == "__main__":
    main()
