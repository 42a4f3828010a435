"""The owner thread: one thread runs every piece of engine state.

Other threads (console, control socket, the stick's reader, worker threads
running a blocking Circle API call) never touch engine state; they hand the
owner a callable with `call_soon_threadsafe`, and Future completions are posted
back the same way (`when_done`).  Each callable runs guarded: an exception is
reported through `on_error` and the loop goes on, so one failing service in
one cycle never ends logging.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("pwtui.engine")
DRAIN_S = 0.05  # the longest the owner runs queued callables without looking at its timers

Callback = Callable[[], object]


class Owner:
    """A queue of callables plus timers, run on one thread."""

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Callback]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, str, Callback]] = []
        self._seq = itertools.count()
        self._on_error = on_error
        self._thread: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="engine-call")

    # --- from any thread ------------------------------------------------------------------

    def call_soon_threadsafe(self, fn: Callback, name: str = "") -> None:
        self._queue.put((name or getattr(fn, "__qualname__", "call"), fn))

    def when_done(self, fut: Future[Any], fn: Callable[[Future[Any]], object], name: str = "") -> None:
        """Run `fn(fut)` on the owner thread once `fut` completes."""
        fut.add_done_callback(lambda f: self.call_soon_threadsafe(lambda: fn(f), name))

    def in_worker(
        self, blocking: Callable[[], Any], then: Callable[[Future[Any]], object], name: str = ""
    ) -> None:
        """Run a blocking Circle API call on a worker thread; `then(future)` runs on the owner.

        The worker touches only the Circle API, never engine state."""
        self.when_done(self._workers.submit(blocking), then, name)

    # --- owner thread only ---------------------------------------------------------------------

    def call_later(self, delay: float, fn: Callback, name: str = "") -> None:
        self.call_at(time.monotonic() + max(0.0, delay), fn, name)

    def call_at(self, when: float, fn: Callback, name: str = "") -> None:
        heapq.heappush(
            self._timers, (when, next(self._seq), name or getattr(fn, "__qualname__", "timer"), fn)
        )

    def on_owner_thread(self) -> bool:
        return self._thread is None or self._thread is threading.current_thread()

    def _guarded(self, name: str, fn: Callback) -> None:
        try:
            fn()
        except Exception as exc:
            log.exception("%s failed", name)
            if self._on_error is not None:
                try:
                    self._on_error(name, exc)
                except Exception:
                    log.exception("error handler failed")

    def _due_timers(self, now: float) -> list[tuple[str, Callback]]:
        due = []
        while self._timers and self._timers[0][0] <= now:
            _, _, name, fn = heapq.heappop(self._timers)
            due.append((name, fn))
        return due

    def run_once(self, max_wait: float) -> None:
        """Run due timers, then queued callables, waiting at most `max_wait` for one."""
        for name, fn in self._due_timers(time.monotonic()):
            self._guarded(name, fn)
        wait = max_wait
        if self._timers:
            wait = max(0.0, min(wait, self._timers[0][0] - time.monotonic()))
        try:
            name, fn = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return
        self._guarded(name, fn)
        # drain what else is queued, but look at timers (and the stop flag) at least every
        # DRAIN_S: replies that keep coming must not starve a slot's tick or a stop
        until = time.monotonic() + DRAIN_S
        while time.monotonic() < until:
            try:
                name, fn = self._queue.get_nowait()
            except queue.Empty:
                return
            self._guarded(name, fn)

    def run(self, stop: threading.Event, tick: float = 0.1) -> None:
        self._thread = threading.current_thread()
        while not stop.is_set():
            self.run_once(tick)

    def run_until_idle(self, timeout: float = 5.0) -> None:
        """For tests: run until nothing is queued and no timer is due (or `timeout` passes)."""
        self._thread = threading.current_thread()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            due = self._due_timers(time.monotonic())
            for name, fn in due:
                self._guarded(name, fn)
            try:
                name, fn = self._queue.get_nowait()
            except queue.Empty:
                if not due:
                    return
                continue
            self._guarded(name, fn)

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
