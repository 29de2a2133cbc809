"""SQLite's writers take turns through a file lock beside the database.

SQLite lets one writer in at a time and leaves the others to its busy handler, which
sleeps 1, 2, 5 … up to 100 ms between tries: a writer that missed the lock a few times
sleeps through many chances while another process takes it again and again, so a webhook
could wait for hundreds of milliseconds for a lock that was free most of that time (see
bench/RESULTS.md). A waiter on a file lock is woken by the kernel as soon as the lock is
free. Every write transaction (``Database.transaction``) of every Krasip process on one
database file takes its turn here first, so SQLite's own lock is then almost never
contended; the rare writers outside one (migrations, the shredder's checkpoint, a
retention rewrite) still meet SQLite's lock and its busy handler.

A short turn (``hold_collections``: the webhook's and the sender's, which bound their
wait) also holds Python's automatic garbage collection until it ends. A full collection
took 91–167 ms in a web worker, and one that began inside a turn, in any thread of the
process, kept every writer of every process waiting that long (temporary timing inside
the web workers, bench/RESULTS.md, fifth round); after the turn the same collection
stalls this process alone.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_Job = Callable[[], None]


class TurnTimeout(Exception):
    """The turn did not come within the wait."""


class _Handle:
    """This thread's own open file description: flock locks belong to one, so threads
    (and forked processes) must not share it."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.depth = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # the thread ended: its descriptor goes with it
        if self.pid == os.getpid():
            self.close()


class _Collections:
    """Automatic collection held while any thread of this process holds a short turn."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.stopped = False  # whether we, not someone else, switched it off

    def hold(self) -> None:
        with self.lock:
            self.holders += 1
            if self.holders == 1 and gc.isenabled():
                gc.disable()
                self.stopped = True

    def release(self) -> None:
        with self.lock:
            # At least 0: a forked child may leave the turn its parent took.
            self.holders = max(0, self.holders - 1)
            if self.holders == 0 and self.stopped:
                self.stopped = False
                gc.enable()  # a collection now due runs at the next allocation, outside

    def forked(self) -> None:
        # A child forked inside a turn holds none: it must not keep collections off for good.
        self.lock = threading.Lock()
        self.holders = 0
        if self.stopped:
            self.stopped = False
            gc.enable()


_COLLECTIONS = _Collections()
os.register_at_fork(after_in_child=_COLLECTIONS.forked)


class _Quiet:
    """Cleared while a thread of this process holds a short turn (one at a time: the turn
    is exclusive). The web process's send loop waits for it before running what its
    sockets woke it for: each time the turn's holder let go of the interpreter for SQLite,
    the loop took it, and the turn, which every writer of every process waits for, lasted
    longer. The loop waits at most ``LONGEST``: a send is never held up longer."""

    LONGEST = 0.005

    def __init__(self) -> None:
        self.free = threading.Event()
        self.free.set()

    def wait(self) -> None:
        if not self.free.is_set():
            self.free.wait(self.LONGEST)

    def forked(self) -> None:
        self.free = threading.Event()
        self.free.set()


QUIET = _Quiet()
os.register_at_fork(after_in_child=QUIET.forked)


class WriterTurns:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._waiters = _Waiters()

    def close(self) -> None:
        """The threads kept to wait for turns end (the database is disposed)."""
        self._waiters.close()

    def _handle(self) -> _Handle:
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None or handle.pid != os.getpid() or handle.fd < 0:
            handle = self._local.handle = _Handle(self.path)
        return handle

    def held(self) -> bool:
        """Whether this thread holds its turn now."""
        handle: _Handle | None = getattr(self._local, "handle", None)
        return handle is not None and handle.pid == os.getpid() and handle.depth > 0

    @contextmanager
    def turn(self, wait: float, *, hold_collections: bool = False) -> Iterator[float]:
        """Hold the turn for the block; yields the seconds of ``wait`` left. Raises
        :class:`TurnTimeout` when the turn did not come within ``wait`` seconds. Nested
        turns in one thread share the outer one. With ``hold_collections``, no automatic
        garbage collection starts in this process until the turn ends."""
        handle = self._handle()
        if handle.depth:
            handle.depth += 1
            try:
                yield wait
            finally:
                handle.depth -= 1
            return
        started = time.monotonic()
        if _take_now(handle):
            left = wait  # unchanged, so SQLite's busy timeout need not be set again
        elif _wait_for(handle, wait, self._waiters):
            left = max(0.0, wait - (time.monotonic() - started))
        else:
            self._local.handle = None  # the descriptor now belongs to its waiting thread
            raise TurnTimeout(f"no write turn within {wait:.3f} s")
        handle.depth = 1
        if hold_collections:
            _COLLECTIONS.hold()
            QUIET.free.clear()
        try:
            yield left
        finally:
            handle.depth = 0
            try:
                fcntl.flock(handle.fd, fcntl.LOCK_UN)
            finally:
                if hold_collections:
                    QUIET.free.set()
                    _COLLECTIONS.release()


def _take_now(handle: _Handle) -> bool:
    try:
        fcntl.flock(handle.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _Waiters:
    """Threads that wait in the kernel for a turn, kept for the next wait. A thread started
    for every turn that was not free cost 82–98 µs of CPU, against 45–52 µs to hand the
    wait to a kept one (`python -m bench.micro`), and under load three events in five
    waited (RESULTS, twenty-first round). As many are kept as ever waited at once, until
    the database is disposed."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: list[tuple[threading.Thread, queue.SimpleQueue[_Job | None]]] = []
        self.closed = False

    def run(self, job: _Job) -> None:
        if self.pid != os.getpid():
            self._reset()  # a forked child: its parent's threads do not exist here
        with self.lock:
            self.closed = False
            kept = self.idle.pop() if self.idle else None
        if kept is None:
            jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._serve, args=(jobs,), name="krasip-write-turn", daemon=True
            )
            thread.start()
            kept = (thread, jobs)
        kept[1].put(job)

    def _serve(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - that wait times out; the thread stays
                log.warning("waiting for a write turn failed (%s)", type(exc).__name__)
            with self.lock:
                if self.closed:
                    return
                self.idle.append((threading.current_thread(), jobs))

    def close(self) -> None:
        """The idle threads end, and are gone when this returns; one still waiting in the
        kernel ends once it has its turn."""
        if self.pid != os.getpid():
            return
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for _, jobs in idle:
            jobs.put(None)
        for thread, _ in idle:
            thread.join(timeout=5)


def _wait_for(handle: _Handle, wait: float, waiters: _Waiters) -> bool:
    # flock has no timeout: a kept thread waits in the kernel, and if it gets the turn too
    # late it gives it straight back and closes the descriptor.
    got = threading.Event()
    guard = threading.Lock()
    abandoned = False

    def wait_in_kernel() -> None:
        fcntl.flock(handle.fd, fcntl.LOCK_EX)
        with guard:
            if not abandoned:
                got.set()
                return
        fcntl.flock(handle.fd, fcntl.LOCK_UN)
        handle.close()

    waiters.run(wait_in_kernel)
    if got.wait(wait):
        return True
    with guard:
        if got.is_set():
            return True
        abandoned = True
    return False
