"""`python -m bench`: Krasip against a bare line-bot-sdk echo bot, under identical conditions.

For every LINE latency asked for, it starts a fresh emulator (its own process), then
(1) Krasip under gunicorn plus one `krasip worker`, and (2) the echo bot under the same
gunicorn settings, and drives both with the same simulated reporters (see bench.load).
With ``--floor``, (3) bench.floor_bot too: the leanest bot that keeps its events, and
(4) the same keeping them as Krasip's design keeps them at rest ("sealed"), and (5) the
sealed floor answering with Krasip's own replies to the same conversation ("replay", with
the status lookups Krasip gets), so LINE's platform and the reporters work for it as for
Krasip: the most a bot that keeps what Krasip keeps and sends what it sends could make.
With ``--cases N`` it first seeds N synthetic cases and times token lookups against them.
With ``--pairs N`` it also runs each comparison the targets state (Krasip against the echo
bot at the first latency; Krasip at the last latency against itself at the first; with
``--floor``, the sealed floor and the replay against the echo bot at the first latency) as N
short pairs measured back to back, in the order A B, B A, A B …, so that a change in the
machine's speed between two bots' runs weighs on both sides: each pair's ratio and the
median are printed.
Figures are printed as a table and as JSON (``--json`` writes them to a file too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import requests

from bench import free_port
from bench.load import LoadResult, run_load

ROOT = Path(__file__).resolve().parents[1]
CHANNEL_SECRET = "bench-channel-secret-0123456789abcdef"  # noqa: S105 - emulator only
ACCESS_TOKEN = "bench-access-token"  # noqa: S105 - emulator only
BENCH_DB = "krasip_bench"
APPS = {
    "krasip": "bot:create_app()",
    "echo": "bench.echo_bot:app",
    "floor": "bench.floor_bot:app",
    "sealed": "bench.floor_bot:app",  # with FLOOR_SEALED=1: the floor keeping Krasip's promises
    "replay": "bench.floor_bot:app",  # sealed, with FLOOR_REPLIES: sending Krasip's replies
}
CONVERSING = ("krasip", "replay")  # bots whose reporters send the receipt's token back


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 2)


# --- processes -------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class Fleet:
    """Every process the benchmark starts; stopped (process groups) whatever happens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[Proc] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Proc:
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=ROOT,
            )  # fmt: skip
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs = []


def wait_http(url: str, fleet: Fleet, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in fleet.procs:
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{proc.name} exited early:\n{tail}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout}s")


Processes = list[psutil.Process] | Callable[[], list[psutil.Process]]


class Monitor(threading.Thread):
    """Samples RSS and CPU of every process (gunicorn: master and each worker) twice a
    second. A group in ``extra`` given as a function is looked up again at every sample:
    a PostgreSQL backend a bot opens during the run counts from its start, and one that
    ends before the run does counts up to its last sample."""

    def __init__(self, roots: dict[str, int], extra: dict[str, Processes]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.extra = extra
        self.peak_rss: dict[str, int] = {}
        # (user + system, system) seconds: the kernel's share is printed too.
        self.cpu_start: dict[str, tuple[float, float]] = {}
        self.cpu_seen: dict[str, tuple[float, float]] = {}
        self.cpu_end: dict[str, tuple[float, float]] = {}
        self.stopped = threading.Event()

    def _processes(self) -> dict[str, psutil.Process]:
        found = {}
        for name, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                found[name] = root
                for n, child in enumerate(sorted(root.children(), key=lambda p: p.pid)):
                    found[f"{name}.worker{n + 1}"] = child
            except psutil.NoSuchProcess:
                continue
        for name, group in self.extra.items():
            for proc in group() if callable(group) else group:
                found[f"{name}.{proc.pid}"] = proc
        return found

    def _cpu(self) -> dict[str, tuple[float, float]]:
        times = {}
        for name, proc in self._processes().items():
            try:
                cpu = proc.cpu_times()
                times[name] = (cpu.user + cpu.system, cpu.system)
            except psutil.NoSuchProcess:
                continue
        return times

    def begin(self) -> None:
        self.cpu_start = self._cpu()
        self.start()

    def run(self) -> None:
        while not self.stopped.is_set():
            for name, proc in self._processes().items():
                try:
                    rss = proc.memory_info().rss
                    cpu = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
                self.cpu_seen[name] = (cpu.user + cpu.system, cpu.system)
            self.stopped.wait(0.5)

    def end(self) -> None:
        self.stopped.set()
        self.join()
        self.cpu_end = {**self.cpu_seen, **self._cpu()}

    def figures(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in sorted(self.cpu_end):
            (cpu, system), (cpu_0, system_0) = self.cpu_end[name], self.cpu_start.get(name, (0, 0))
            out[name] = {
                "cpu_s": round(cpu - cpu_0, 2),
                "system_s": round(system - system_0, 2),
                "peak_rss_mb": round(self.peak_rss.get(name, 0) / 2**20, 1),
            }
        return out


def postgres_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        if (proc.info.get("name") or "").startswith("postgres"):
            found.append(proc)
    return found


# --- databases -------------------------------------------------------------------------


def prepare_database(spec: str, folder: Path, name: str = BENCH_DB) -> str:
    """SQLite in the run's folder, or a fresh database ``name`` on the given server."""
    if spec == "sqlite":
        return f"sqlite:///{folder / 'krasip.sqlite3'}"
    from sqlalchemy import create_engine, text

    admin = create_engine(spec, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    parts = urlsplit(spec)
    return urlunsplit(parts._replace(path="/" + name))


def unusable(spec: str) -> str | None:
    """Why the benchmark could not make its database from ``spec``; None: it can. Asked
    before the first run, so a wrong URL loses no other database's figures."""
    if spec == "sqlite":
        return None
    if not spec.startswith("postgresql"):
        return "neither sqlite nor a PostgreSQL URL"
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    admin = create_engine(spec, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            may_create = connection.execute(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot connect ({redacted(reason)})"
    finally:
        admin.dispose()
    if not may_create:
        return "its user lacks the CREATEDB right the benchmark needs to make its own database"
    return None


def redacted(text: str) -> str:
    """``text`` with the password of any database URL in it hidden."""
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def drop_database(spec: str, name: str = BENCH_DB) -> None:
    if spec == "sqlite":
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(spec, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


# --- one run ---------------------------------------------------------------------------


@dataclass
class Options:
    workers: int
    threads: int
    reporters: int
    duration: float
    warmup: float
    sender_threads: int | None
    folder: Path
    database_url: str
    keys: Any
    postgres: bool
    lookups: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    replies: Path | None = None  # Krasip's replies for the replay floor (bench.replies)


def bot_env(target: str, opts: Options, line_url: str) -> dict[str, str]:
    """The environment ``target``'s web process (and Krasip's worker) runs with."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KRASIP_ENV": "development",
        "KRASIP_INSTANCE": str(opts.folder / "instance"),
        "DATABASE_URL": opts.database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_url,
        "LINE_DATA_API_BASE_URL": line_url,
        "KRASIP_IDENTITY_PUBLIC_KEY": opts.keys.identity_public,
        "KRASIP_DATA_KEYS": opts.keys.data_keys,
        "KRASIP_LOOKUP_PEPPER": opts.keys.pepper,
        **({"KRASIP_SENDER_THREADS": str(opts.sender_threads)} if opts.sender_threads else {}),
        **opts.extra_env,
        **({"FLOOR_SEALED": "1"} if target in ("sealed", "replay") else {}),
        **({"FLOOR_REPLIES": str(opts.replies)} if target == "replay" else {}),
    }


def gunicorn_command(target: str, opts: Options, bot_port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        APPS[target],
        "--workers", str(opts.workers), "--threads", str(opts.threads),
        "--bind", f"127.0.0.1:{bot_port}", "--backlog", "2048", "--log-level", "warning",
    ]  # fmt: skip


KRASIP_WORKER = [sys.executable, "-c", "from bot.cli import main; main()", "worker"]


def start_platform(fleet: Fleet, name: str, port: int, env: dict[str, str]) -> Proc:
    """The benchmark's LINE platform (bench.line_platform) on ``port``, once it answers."""
    line = fleet.start(
        name,
        [sys.executable, "-m", "bench.line_platform", "--port", str(port),
         "--channel-secret", CHANNEL_SECRET, "--access-token", ACCESS_TOKEN],
        env,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/_emulator/config", fleet)
    return line


def measure(
    target: str, latency_ms: int, opts: Options, rate: float | None = None
) -> dict[str, Any]:
    """Start a fresh emulator and ``target`` (a key of ``APPS``), drive it, measure;
    with ``rate``, the reporters are paced to that many events per second together."""
    if target == "replay" and opts.replies is None:
        raise ValueError("the replay floor needs Krasip's replies (bench.replies)")
    fleet = Fleet(opts.folder)
    line_port, bot_port = free_port(), free_port()
    line_url = f"http://127.0.0.1:{line_port}"
    bot_url = f"http://127.0.0.1:{bot_port}"
    env = bot_env(target, opts, line_url)
    gunicorn = gunicorn_command(target, opts, bot_port)
    try:
        line = start_platform(fleet, f"line-{target}-{latency_ms}", line_port, env)
        requests.post(line_url + "/_emulator/config", json={"latency_ms": latency_ms}, timeout=5)
        web = fleet.start(f"{target}-web-{latency_ms}", gunicorn, env)
        roots = {"emulator": line.popen.pid, "web": web.popen.pid}
        if target == "krasip":
            worker = fleet.start(f"krasip-worker-{latency_ms}", KRASIP_WORKER, env)
            roots["worker"] = worker.popen.pid
        wait_http(bot_url + "/healthz", fleet)
        extra: dict[str, Processes] = {"postgres": postgres_processes} if opts.postgres else {}
        extra["loadgen"] = [psutil.Process()]
        monitor = Monitor(roots, extra)
        monitor.begin()
        result = run_load(
            bot_url=bot_url + "/callback",
            line_url=line_url,
            channel_secret=CHANNEL_SECRET,
            reporters=opts.reporters,
            duration=opts.duration + opts.warmup,
            lookups=opts.lookups and target in CONVERSING,
            rate=rate,
        )
        monitor.end()
        deliveries = requests.get(line_url + "/_bench/deliveries", timeout=60).json()["deliveries"]
        return summarise(target, latency_ms, result, deliveries, monitor, opts, rate)
    finally:
        fleet.stop()


def summarise(
    target: str,
    latency_ms: int,
    result: LoadResult,
    deliveries: list[dict[str, Any]],
    monitor: Monitor,
    opts: Options,
    rate: float | None = None,
) -> dict[str, Any]:
    begin = result.started + opts.warmup
    end = result.started + opts.warmup + opts.duration
    window = [s for s in result.samples if begin <= s.sent < end]
    answered = {d["token"]: d for d in deliveries if d["token"] and d["status"] == 200}
    webhook = [s.webhook_ms for s in window if s.status == 200]
    to_reply = [
        (answered[s.reply_token]["answered"] - s.sent) * 1000
        for s in window
        if s.reply_token in answered
    ]
    lookup = [s.webhook_ms for s in window if s.kind == "lookup" and s.status == 200]
    processes = monitor.figures()
    web_workers = [v for k, v in processes.items() if k.startswith("web.worker")]
    # CPU per event over the whole run (warm-up included, as the processes' CPU is), by
    # the part of the machine it was spent in.
    handled = sum(1 for s in result.samples if s.status == 200)
    parts: dict[str, float] = {}
    kernel: dict[str, float] = {}
    for name, figures in processes.items():
        part = name.split(".")[0]
        parts[part] = parts.get(part, 0.0) + figures["cpu_s"]
        kernel[part] = kernel.get(part, 0.0) + figures["system_s"]
    return {
        "target": target,
        "latency_ms": latency_ms,
        "paced_events_per_s": rate,
        "cpu_ms_per_event": {
            part: round(cpu * 1000 / handled, 2) if handled else None
            for part, cpu in sorted(parts.items())
        },
        # Of it, what the kernel spent for the process (system time: sockets, files, locks).
        "kernel_ms_per_event": {
            part: round(cpu * 1000 / handled, 2) if handled else None
            for part, cpu in sorted(kernel.items())
        },
        "events": len(webhook),
        "events_per_s": round(len(webhook) / opts.duration, 1),
        "conversations_per_s": round(
            sum(1 for s in window if s.kind == "receipt" and s.status == 200) / opts.duration, 2
        ),
        "webhook_ms": {"p50": percentile(webhook, 50), "p99": percentile(webhook, 99)},
        "event_to_reply_ms": {"p50": percentile(to_reply, 50), "p99": percentile(to_reply, 99)},
        "lookup_webhook_ms": {"p50": percentile(lookup, 50), "p99": percentile(lookup, 99)},
        "replies_missing": sum(1 for s in window if s.status == 200 and not s.replied),
        "pushes": sum(1 for d in deliveries if d["path"].endswith("/push")),
        "errors": len(result.errors),
        "error_kinds": sorted(set(result.errors))[:5],
        "peak_rss_mb_per_web_worker": max((w["peak_rss_mb"] for w in web_workers), default=None),
        "processes": processes,
    }


# --- lookups against a large register ---------------------------------------------------


def time_lookups(database_url: str, keys: Any, sample_tokens: list[str]) -> dict[str, Any]:
    """Token lookup as the bot does it (find by token, then the status read), in-process."""
    from store import repo
    from store.db import Database

    keyring = keys.keyring()
    database = Database(database_url)
    timings = []
    try:
        for token in sample_tokens:
            started = time.perf_counter()
            with database.transaction() as session:
                case = repo.find_token_case(session, keyring, token)
                assert case is not None
                repo.unread_staff_messages(session, keyring, case)
                repo.public_note(keyring, case)
            timings.append((time.perf_counter() - started) * 1000)
        console = time_console_first_page(database, keys)
    finally:
        database.dispose()
    return {
        "lookups": len(timings),
        "token_lookup_ms": {"p50": percentile(timings, 50), "p99": percentile(timings, 99)},
        "console_first_page_ms": console,
    }


def time_console_first_page(database: Any, keys: Any) -> dict[str, Any] | str:
    """The console's case list, first page: the query alone, and the whole page as a
    signed-in staff member gets it (Flask app in-process, no network)."""
    try:
        from bot.console import bp  # noqa: F401 - only asks whether the console exists
        from store import staff
    except ImportError:
        return "not measured: the console's case list does not exist"
    query = []
    for _ in range(50):
        started = time.perf_counter()
        with database.transaction() as session:
            staff.list_cases(session, staff.CaseFilter(), now=datetime.now(UTC))
        query.append((time.perf_counter() - started) * 1000)
    figures: dict[str, Any] = {
        "query_p50": percentile(query, 50),
        "query_p99": percentile(query, 99),
    }
    figures.update(time_console_page(database.url, keys))
    return figures


def time_console_page(database_url: str, keys: Any) -> dict[str, Any]:
    import secrets as random_secrets

    from bot import create_app
    from bot.config import load_settings
    from store import staff

    settings = load_settings(
        environ={**os.environ, "KRASIP_ENV": "development", "DATABASE_URL": database_url},
        overrides={"keys": keys, "send_after_commit": False},
    )
    app = create_app(settings)
    runtime = app.extensions["krasip"]
    now = datetime.now(UTC)
    with runtime.db.transaction() as session:
        user = staff.create_user(
            session, username="bench." + random_secrets.token_hex(4), display_name="Bench",
            role="staff", password=random_secrets.token_urlsafe(16), now=now,
        )  # fmt: skip
        # A real session, as a log-in (password, then TOTP) leaves it.
        session_id = staff.start_session(session, user, now)
    client = app.test_client()
    timings = []
    try:
        for _ in range(30):
            with client.session_transaction() as cookie:
                cookie["sid"] = session_id
            started = time.perf_counter()
            resp = client.get("/console/cases")
            timings.append((time.perf_counter() - started) * 1000)
            if resp.status_code != 200:
                return {"page": f"not measured: /console/cases answered {resp.status_code}"}
    finally:
        runtime.close()
    return {
        "page_p50": percentile(timings, 50),
        "page_p99": percentile(timings, 99),
        "what": "GET /console/cases as a signed-in staff member, first page, no filter",
    }


# --- the command -----------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "memory_gb": str(round(psutil.virtual_memory().total / 2**30)),
    }


def table(runs: list[dict[str, Any]]) -> str:
    header = (
        "| database | LINE latency | bot | load | events/s | webhook p50/p99 ms "
        "| event→reply p50/p99 ms | web CPU ms/event | peak RSS/web worker MB "
        "| ratio to echo |"
    )
    lines = [header, "|" + "---|" * 10]
    echo = {
        (r["database"], r["latency_ms"]): r
        for r in runs
        if r["target"] == "echo" and not r.get("paced_events_per_s")
    }
    for run in runs:
        base = echo.get((run["database"], run["latency_ms"]))
        paced = run.get("paced_events_per_s")
        ratio = (
            f"{run['events_per_s'] / base['events_per_s']:.2f}×"
            if run["target"] != "echo" and base and base["events_per_s"] and not paced
            else ""
        )
        load = f"paced {paced:g}/s" if paced else "closed loop"
        lines.append(
            f"| {run['database']} | {run['latency_ms']} ms | {run['target']} | {load} "
            f"| {run['events_per_s']} "
            f"| {run['webhook_ms']['p50']} / {run['webhook_ms']['p99']} "
            f"| {run['event_to_reply_ms']['p50']} / {run['event_to_reply_ms']['p99']} "
            f"| {run['cpu_ms_per_event'].get('web')} "
            f"| {run['peak_rss_mb_per_web_worker']} | {ratio} |"
        )
    return "\n".join(lines)


def seed(database_url: str, keys: Any, count: int, folder: Path) -> tuple[list[str], float]:
    """Seed ``count`` synthetic cases; returns a sample of their tokens and the seconds."""
    from bot.cli import demo_vocabulary
    from bot.runtime import utc_now
    from store.db import Database
    from store.demo import seed_cases

    database = Database(database_url)
    vocabulary = demo_vocabulary()
    started = time.perf_counter()
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        print(f"\rseeding {done}/{count}", end="", file=sys.stderr, flush=True)

    try:
        summary = seed_cases(
            database, keys.keyring(), vocabulary, count=count, now=utc_now(),
            seed=1, keep_tokens=1000, progress=progress,
        )  # fmt: skip
    finally:
        database.dispose()
    seconds = round(time.perf_counter() - started, 1)
    print(f"\rseeded {count} cases in {seconds}s", file=sys.stderr)
    warned = catch_up_deadlines(database_url, keys, folder)
    print(f"deadline warnings of the seeded history recorded: {warned}", file=sys.stderr)
    started = time.perf_counter()
    destroyed, purged = catch_up_retention(database_url, keys, folder)
    print(
        f"retention caught up: {destroyed} identities destroyed, {purged} cases purged, "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    after_bulk_load(database_url)
    return summary.sample_tokens, seconds


def _runtime(database_url: str, keys: Any, folder: Path) -> Any:
    from bot.config import load_settings
    from bot.runtime import build_runtime

    settings = load_settings(
        environ={}, overrides={"env": "development", "instance_path": folder, "keys": keys}
    )
    return build_runtime(replace(settings, database_url=database_url))


def catch_up_deadlines(database_url: str, keys: Any, folder: Path) -> int:
    """Record the seeded history's deadline warnings, as a live register sent them long
    ago; otherwise the first run's worker would spend half a minute of CPU on them."""
    from bot.notifications import Notifier

    runtime = _runtime(database_url, keys, folder)
    try:
        return Notifier(runtime).check_deadlines()
    finally:
        runtime.close()


def catch_up_retention(database_url: str, keys: Any, folder: Path) -> tuple[int, int]:
    """Run retention over the seeded years once, as a live register did long ago; otherwise
    each run's fresh worker would go on with the catch-up (26,000 cases: minutes of
    batches) while the bots are measured."""
    from bot import worker

    worker.RETENTION_PAUSE_MAX = 0.0  # nothing else runs yet: no one to leave a turn to
    runtime = _runtime(database_url, keys, folder)
    try:
        return worker.run_retention(runtime)
    finally:
        runtime.close()


def after_bulk_load(database_url: str) -> None:
    """Measure a register in its steady state, not while the database digests a bulk load:
    PostgreSQL's autovacuum would otherwise vacuum and analyse 100,000 new rows during the
    first runs, on the same two cores."""
    from sqlalchemy import create_engine, text

    if database_url.startswith("sqlite"):
        statements = ["PRAGMA wal_checkpoint(TRUNCATE)"]
    else:
        statements = ["VACUUM ANALYZE"]
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def bench_database(spec: str, args: argparse.Namespace, report: dict[str, Any]) -> None:
    from bench.replies import record as record_replies
    from store import migrate
    from store.keys import generate_keys

    folder = Path(tempfile.mkdtemp(prefix="krasip-bench-"))
    postgres = spec != "sqlite"
    label = "postgresql" if postgres else "sqlite"
    database_url = prepare_database(spec, folder)
    try:
        keys = generate_keys(folder / "keys", "bench custodian passphrase")
        migrate.upgrade(database_url)
        sample: list[str] = []
        if args.cases:
            sample, seconds = seed(database_url, keys, args.cases, folder)
            report["seed"][label] = {"cases": args.cases, "seconds": seconds}
        opts = Options(
            workers=args.workers, threads=args.threads, reporters=args.reporters,
            duration=args.duration, warmup=args.warmup, sender_threads=args.sender_threads,
            folder=folder, database_url=database_url, keys=keys, postgres=postgres,
        )  # fmt: skip
        if args.floor:
            print(f"{label}: recording Krasip's replies for the replay floor ...", file=sys.stderr)
            opts = replace(opts, replies=folder / "replies.json")
            opts.replies.write_text(json.dumps(record_replies(), ensure_ascii=False))
        for latency in [int(x) for x in args.latency.split(",") if x.strip()]:
            targets = (
                ["krasip"]
                + ([] if args.no_echo else ["echo"])
                + (["floor", "sealed", "replay"] if args.floor else [])
            )
            for target in targets:
                print(f"{label}: {target} at {latency} ms LINE latency ...", file=sys.stderr)
                run = measure(target, latency, opts)
                run["database"] = label
                report["runs"].append(run)
            for rate in [float(x) for x in args.paced.split(",") if x.strip()]:
                # The echo bot paced too, where it can keep the rate (it waits for LINE in
                # the request): its tail is the harness's own at that rate.
                paced = ("krasip",) if args.no_echo or latency else ("krasip", "echo")
                for target in paced:
                    print(
                        f"{label}: {target} at {latency} ms, paced {rate:g}/s ...", file=sys.stderr
                    )
                    run = measure(target, latency, opts, rate)
                    run["database"] = label
                    report["runs"].append(run)
        for first, second in comparisons(args):
            report["pairs"].append(
                alternate(
                    label, first, second, args.pairs, replace(opts, duration=args.pair_duration)
                )
            )
        if sample:
            report["lookups"][label] = {"cases": args.cases, **time_lookups(
                database_url, keys, sample
            )}  # fmt: skip
    finally:
        drop_database(spec)


Side = tuple[str, int]  # a bot and the LINE latency it runs at


def comparisons(args: argparse.Namespace) -> list[tuple[Side, Side]]:
    """The comparisons issue 12's targets state, as (measured, against)."""
    if not args.pairs:
        return []
    latencies = [int(x) for x in args.latency.split(",") if x.strip()]
    first, last = latencies[0], latencies[-1]
    found = [] if args.no_echo else [(("krasip", first), ("echo", first))]
    if args.floor and not args.no_echo:
        # What the ratio targets sit against: a bot keeping what Krasip keeps, with no form.
        found.append((("sealed", first), ("echo", first)))
        found.append((("replay", first), ("echo", first)))
    if last != first:
        found.append((("krasip", last), ("krasip", first)))
    return found


def alternate(label: str, first: Side, second: Side, count: int, opts: Options) -> dict[str, Any]:
    """``count`` pairs of closed-loop runs back to back, first A then B, then B then A, and
    so on, so a spell of the machine falls on both sides of a pair as often as not."""
    pairs = []
    for i in range(count):
        order = (first, second) if i % 2 == 0 else (second, first)
        runs = {}
        for target, latency in order:
            print(
                f"{label}: pair {i + 1} of {count}, {target} at {latency} ms ...", file=sys.stderr
            )
            runs[(target, latency)] = measure(target, latency, opts)
        pairs.append((runs[first], runs[second]))
    return {"database": label, "measured": list(first), "against": list(second),
            **pair_figures(pairs)}  # fmt: skip


def pair_figures(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Each pair's throughput ratio (measured over against) and the median of them."""
    ratios = [
        round(a["events_per_s"] / b["events_per_s"], 3) if b["events_per_s"] else None
        for a, b in pairs
    ]
    known = [r for r in ratios if r is not None]
    return {
        "ratios": ratios,
        "median": round(statistics.median(known), 3) if known else None,
        "events_per_s": [[a["events_per_s"], b["events_per_s"]] for a, b in pairs],
        "web_cpu_ms_per_event": [
            [a["cpu_ms_per_event"].get("web"), b["cpu_ms_per_event"].get("web")] for a, b in pairs
        ],
        "errors": sum(a["errors"] + b["errors"] for a, b in pairs),
        "replies_missing": sum(a["replies_missing"] + b["replies_missing"] for a, b in pairs),
    }


def pairs_table(pairs: list[dict[str, Any]]) -> str:
    lines = [
        "| database | measured | against | pairs | ratio of each pair, in order | median "
        "| events/s of each pair | web CPU ms/event of each pair |",
        "|" + "---|" * 8,
    ]
    for p in pairs:
        (bot, latency), (base, base_latency) = p["measured"], p["against"]
        ratios = ", ".join("—" if r is None else f"{r:.2f}×" for r in p["ratios"])
        median = "—" if p["median"] is None else f"**{p['median']:.2f}×**"
        rates = ", ".join(f"{a} / {b}" for a, b in p["events_per_s"])
        cpu = ", ".join(f"{a} / {b}" for a, b in p["web_cpu_ms_per_event"])
        lines.append(
            f"| {p['database']} | {bot} at {latency} ms | {base} at {base_latency} ms "
            f"| {len(p['ratios'])} | {ratios} | {median} | {rates} | {cpu} |"
        )
    return "\n".join(lines)


def _run_label(run: dict[str, Any]) -> str:
    paced = f", paced {run['paced_events_per_s']:g}/s" if run["paced_events_per_s"] else ""
    return f"{run['database']}, {run['latency_ms']} ms, {run['target']}{paced}"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {report['when']} with `{report['command']}`.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}.",
        f"Settings: {json.dumps(report['settings'])}",
        "",
        table(report["runs"]),
        "",
    ]
    if report["pairs"]:
        lines += ["Alternated pairs (A B, B A, …; each run closed loop):", "",
                  pairs_table(report["pairs"]), ""]  # fmt: skip
    for label, lookups in report["lookups"].items():
        lines.append(f"With {lookups['cases']:,} cases on {label}: token lookup p50/p99 "
                     f"{lookups['token_lookup_ms']['p50']} / {lookups['token_lookup_ms']['p99']} "
                     f"ms over {lookups['lookups']} lookups; console first page: "
                     f"{json.dumps(lookups['console_first_page_ms'])}")  # fmt: skip
    lines.append("")
    lines.append(
        "CPU ms per event handled, by process (warm-up included; in brackets, the kernel's):"
    )
    lines.append("")
    for run in report["runs"]:
        kernel = run.get("kernel_ms_per_event", {})
        parts = ", ".join(
            f"{part} {ms} ({kernel.get(part)})" for part, ms in run["cpu_ms_per_event"].items()
        )
        lines.append(f"- {_run_label(run)}: {parts}")
    lines.append("")
    lines.append("Per process (CPU seconds during the run, peak RSS):")
    lines.append("")
    for run in report["runs"]:
        procs = ", ".join(
            f"{name} {v['cpu_s']} s / {v['peak_rss_mb']} MB" for name, v in run["processes"].items()
        )
        lines.append(f"- {_run_label(run)}: {procs}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--database", action="append", help="'sqlite' or a PostgreSQL URL; repeat for both"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn web workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--latency", default="0,100", help="LINE API latencies in ms")
    parser.add_argument("--reporters", type=int, default=100, help="simultaneous reporters")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument(
        "--sender-threads", type=int, help="KRASIP_SENDER_THREADS (default: Krasip's own)"
    )
    parser.add_argument(
        "--paced",
        default="",
        help="also run Krasip paced at these events/s, at each latency (and the echo bot at 0 ms)",
    )
    parser.add_argument("--cases", type=int, default=0, help="seed this many cases first")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo bot baseline")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run bench.floor_bot closed loop: one durable write per event and nothing "
        "else, then the same sealed as Krasip seals its rows (keyed hashes, vault keys), "
        "then sealed and answering with Krasip's own replies (replay)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="also measure Krasip against the echo bot (first latency), Krasip at the last "
        "latency against the first and, with --floor, the sealed floor and the replay against "
        "the echo bot, as this many alternated pairs of short runs",
    )
    parser.add_argument(
        "--pair-duration", type=float, default=10, help="measured seconds per run of a pair"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--markdown", type=Path, help="also write them as Markdown (RESULTS.md)")
    args = parser.parse_args(argv)
    if args.pairs < 0:
        parser.error("--pairs must be 0 or more")
    if args.pair_duration <= 0:
        parser.error("--pair-duration must be more than 0 seconds")
    for spec in args.database or []:
        why = unusable(spec)
        if why:
            parser.error(f"--database {redacted(spec)}: {why}")
    given = " ".join(argv if argv is not None else sys.argv[1:])
    # A database URL may carry a password: never write it into the results.
    command = "python -m bench " + redacted(given)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "settings": {
            "gunicorn": f"--workers {args.workers} --threads {args.threads}",
            "reporters": args.reporters,
            "duration_s": args.duration,
            "KRASIP_SENDER_THREADS": args.sender_threads or "default",
        },
        "seed": {},
        "runs": [],
        "pairs": [],
        "lookups": {},
    }
    for spec in args.database or ["sqlite"]:
        bench_database(spec, args, report)
    print(table(report["runs"]))
    if report["pairs"]:
        print(pairs_table(report["pairs"]))
    for label, lookups in report["lookups"].items():
        print(f"lookups ({label}):", json.dumps(lookups, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(report))


if __name__ == "__main__":
    main()
