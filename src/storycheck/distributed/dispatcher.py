"""The server side of the distributed mode: tell every worker when the running set changes.

`Dispatcher` is the `PoolListener` the server's `BatchStateManager` gets instead of a local
`WorkerPool` when `STORYCHECK_BROKER_URL` is set. It never carries batch state: after every
commit that starts or stops a batch it publishes one `storycheck.sync_batches` broadcast and
each worker re-reads the running batches from the database. Publishing happens on a background
thread (bursts coalesce into one message), so an API request never waits for Redis, and a
broker outage only delays workers until their next one-second poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from celery import Celery

from storycheck.distributed.celery_app import broadcast_sync, make_celery

log = logging.getLogger(__name__)


class Dispatcher:
    """Broadcasts `storycheck.sync_batches` after every register/unregister (and on changes
    the reconciler finds)."""

    def __init__(self, app: Celery, *, expires: float = 30.0) -> None:
        self.app = app
        self.expires = expires
        self.sent = 0
        self._reasons: list[str] = []
        self._known: set[str] | None = None
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storycheck-dispatch", daemon=True)
        self._thread.start()

    @classmethod
    def for_broker(cls, broker_url: str) -> Dispatcher:
        """A dispatcher with its own Celery app on `broker_url`."""
        return cls(make_celery(broker_url))

    # ------------------------------------------------------------------ PoolListener

    def register_batch(self, batch_id: str) -> None:
        """A batch started: every worker should run it."""
        self.notify(f"started {batch_id}")

    def unregister_batch(self, batch_id: str) -> None:
        """A batch stopped (paused, done, deleted): every worker should drop it."""
        self.notify(f"stopped {batch_id}")

    def sync(self, running_ids: Iterable[str]) -> None:
        """The reconciler's view: broadcast only when it differs from the last one seen."""
        wanted = set(running_ids)
        with self._lock:
            changed = wanted != self._known
            self._known = wanted
        if changed:
            self.notify("reconcile")

    # ------------------------------------------------------------------ sending

    def notify(self, reason: str) -> None:
        """Queue one broadcast (coalesced with any other still unsent)."""
        with self._lock:
            self._reasons.append(reason)
        self._pending.set()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is pending, then stop the thread."""
        self._closed.set()
        self._pending.set()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            self._pending.wait()
            self._pending.clear()
            with self._lock:
                reasons, self._reasons = self._reasons, []
            if reasons:
                self._send(reasons)
            if self._closed.is_set():
                return

    def _send(self, reasons: list[str]) -> None:
        reason = ", ".join(reasons[:5]) + (f" (+{len(reasons) - 5})" if len(reasons) > 5 else "")
        try:
            broadcast_sync(self.app, reason, expires=self.expires)
            self.sent += 1
        except Exception as exc:  # workers still poll the database every second
            log.warning("could not broadcast sync_batches (%s): %s", reason, exc)


__all__ = ["Dispatcher"]
