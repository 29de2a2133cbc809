"""`python -m bench.worker_memory`: peak RSS and job times of one `krasip worker` pass.

Seeds a register like ``python -m bench --cases N`` (the seeded history's deadline
warnings recorded, as a live register sent them long ago), then runs every periodic job
of the worker once in a fresh process built like `krasip worker`, and prints the process's
peak RSS after each job and each job's wall and CPU time. ``--before DIR`` measures the
code in DIR too (e.g. ``git archive HEAD | tar -x -C DIR``) on the same database.

    python -m bench.worker_memory --database sqlite --cases 100000 --keep
    python -m bench.worker_memory --seeded /tmp/krasip-worker-XXXX --before /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "krasip_bench_worker"  # not bench.run's database: both may run on one server

# Runs in the measured process, with the tree under test first on sys.path. It builds
# the runtime as `krasip worker` does and calls each job of Worker.run_once in its order.
CHILD = r"""
import json, os, time
from bot.cli import _settings
from bot.runtime import build_runtime
from bot.worker import Worker

def peak():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)

worker = Worker(build_runtime(_settings()))

def audit_walk():
    from store import audit
    with worker.rt.db.reading() as session:
        return audit.verify(session, worker.rt.db.audit).count

out = {"code": __import__("bot").__file__, "started_mb": peak(), "jobs": {}}
jobs = [
    ("media", worker.fetch_media),
    ("deadlines", worker.notifier.check_deadlines),
    ("staff_notices", worker.notifier.send_gathered_activity),
    ("digests", worker.notifier.send_digests),
    ("cleaning", worker.cleaning),
    ("audit_checkpoint", worker.checkpoints.run),
    ("retention", worker.retention),
    ("delivery", worker.delivery),
    ("deadlines_again", worker.notifier.check_deadlines),
    # The daily checkpoint's walk of the whole audit log, whether or not one is due now.
    ("audit_walk", audit_walk),
]
only = os.environ.get("BENCH_JOBS")
for name, job in [(n, j) for n, j in jobs if not only or n in only.split(",")]:
    wall, cpu = time.perf_counter(), time.process_time()
    done = job()
    out["jobs"][name] = {
        "done": done if isinstance(done, int) else str(done),
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": peak(),
    }
out["peak_rss_mb"] = peak()
print(json.dumps(out))
"""


def seed_register(spec: str, cases: int) -> Path:
    """A folder holding the keys, the database URL and (SQLite) the database, seeded."""
    from bench.run import prepare_database, seed
    from store import migrate
    from store.keys import generate_keys

    folder = Path(tempfile.mkdtemp(prefix="krasip-worker-"))
    database_url = prepare_database(spec, folder, BENCH_DB)
    generate_keys(folder / "keys", "bench custodian passphrase")
    (folder / "database_url").write_text(database_url)
    migrate.upgrade(database_url)
    if cases:
        seed(database_url, load_keys(folder), cases, folder)
    return folder


def load_keys(folder: Path) -> Any:
    from store.keys import read_folder

    return read_folder(folder / "keys")


def measure(folder: Path, code: Path, jobs: str = "") -> dict[str, Any]:
    keys = load_keys(folder)
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "KRASIP_ENV": "development",
        "KRASIP_INSTANCE": str(folder / "instance"),
        "DATABASE_URL": (folder / "database_url").read_text(),
        "LINE_CHANNEL_SECRET": "bench-channel-secret-0123456789abcdef",
        "LINE_CHANNEL_ACCESS_TOKEN": "bench-access-token",
        # Nothing should be sent; if something is, it fails fast and stays queued.
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "LINE_DATA_API_BASE_URL": "http://127.0.0.1:9",
        "KRASIP_IDENTITY_PUBLIC_KEY": keys.identity_public,
        "KRASIP_DATA_KEYS": keys.data_keys,
        "KRASIP_LOOKUP_PEPPER": keys.pepper,
        "BENCH_JOBS": jobs,
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=code, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        # Reported, not raised: the other passes' figures are still worth having.
        print(f"the worker pass failed:\n{done.stderr[-4000:]}", file=sys.stderr)
        return {"failed": done.stderr.strip().splitlines()[-1][:300]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_memory", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--database", help="'sqlite' or a PostgreSQL URL (needs CREATEDB)")
    where.add_argument("--seeded", type=Path, help="a folder an earlier --keep run left")
    parser.add_argument("--cases", type=int, default=100_000, help="cases to seed")
    parser.add_argument("--before", type=Path, help="also measure the code in this tree")
    parser.add_argument("--keep", action="store_true", help="keep the seeded register")
    args = parser.parse_args(argv)
    folder = args.seeded or seed_register(args.database, args.cases)
    url = (folder / "database_url").read_text()
    label = "sqlite" if url.startswith("sqlite") else "postgresql"
    report: dict[str, Any] = {"database": label, "folder": str(folder)}
    try:
        if not args.seeded:
            # The seeded history holds cases closed long ago: the first retention run
            # catches up on all of them at once (as on the day retention is deployed);
            # measured on its own so that both passes below see a register in its
            # steady state.
            print(f"{label}: first retention run ...", file=sys.stderr)
            report["retention_catch_up"] = measure(folder, ROOT, "retention")
        for name, code in (("before", args.before), ("after", ROOT)):
            if code is not None:
                print(f"{label}: worker pass, {name} ({code}) ...", file=sys.stderr)
                report[name] = measure(folder, code.resolve())
    finally:
        if not (args.keep or args.seeded):
            drop(url)
    print(json.dumps(report, indent=2))
    for name in ("retention_catch_up", "before", "after"):
        if name in report and "jobs" in report[name]:
            jobs = report[name]["jobs"]
            times = ", ".join(f"{j} {v['wall_s']} s" for j, v in jobs.items())
            print(f"{label} {name}: peak RSS {report[name]['peak_rss_mb']} MB; {times}")


def drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(re.sub(rf"/{BENCH_DB}$", "/postgres", url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
    admin.dispose()


if __name__ == "__main__":
    main()
