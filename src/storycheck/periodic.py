"""One helper for background upkeep: jobs that run every N seconds in a daemon thread.

Used by the server's maintenance (reconcile, dead-worker watch, housekeeping), pair ownership
(heartbeat and lease renewal, hand-back), the worker's batch sync, alert delivery and the
standalone engine. Each job runs `interval` seconds after its previous run ended (a slow
database never makes a job run back to back), `wake()` runs every job now, a failing run is
logged and retried at the next interval, and `stop()` ends the thread after the current run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Job:
    what: str
    interval: float
    run: Callable[[], object]
    first_after: float
    due: float = 0.0


class Periodic:
    """Jobs at their own intervals, run one after the other in one daemon thread."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self._jobs: list[_Job] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def every(
        self,
        interval: float,
        run: Callable[[], object],
        *,
        what: str,
        first_after: float | None = None,
    ) -> Periodic:
        """Run `run` every `interval` seconds (first after `first_after`, default `interval`);
        `what` names it in the log line of a failed run. Returns self, to chain."""
        if interval <= 0:
            raise ValueError(f"{what}: the interval must be positive")
        start = interval if first_after is None else first_after
        self._jobs.append(_Job(what, interval, run, start))
        return self

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Periodic:
        """Start the thread; returns self."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        now = self.clock()
        for job in self._jobs:
            job.due = now + job.first_after
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Run every job now (then at its interval again)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread after the run in progress (waits up to `timeout`)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.is_set()
            self._wake.clear()
            for job in self._jobs:
                if self._stop.is_set():
                    return
                if woken or self.clock() >= job.due:
                    self._run(job)
                    job.due = self.clock() + job.interval
            if not self._jobs:
                self._wake.wait()
                continue
            delay = min(job.due for job in self._jobs) - self.clock()
            if delay > 0:
                self._wake.wait(delay)

    def _run(self, job: _Job) -> None:
        try:
            job.run()
        except Exception:  # the next run retries
            log.exception("%s failed; retrying in %.3g s", job.what, job.interval)


__all__ = ["Periodic"]
