"""One start-up wiring for every process that runs batches: `build_runtime(config)`.

The server (`app.create_app`), the standalone engine (`engine.run_standalone`) and the Celery
worker (`distributed.worker`) need the same parts, built the same way:

* the database, migrated, and the key that opens its secrets;
* the batch state manager (`BatchStateManager`), the one writer of batch state;
* where checks run in this process, the engine (`WorkerPool`), attached to the state manager
  so it reports finished batches; in distributed mode optionally restricted to this worker's
  pairs (`pair_filter`) and writing its worker id on the item leases it takes (`lease_owner`);
* the listeners the state manager tells about the running set after each commit: the
  engine, a broadcast to the workers (`Dispatcher`), or both (a worker that completes a
  batch tells the other workers too).

`Maintenance` is the periodic upkeep that goes with it: reconcile (and, in distributed mode
on the server, free dead workers' leases), and the minute-by-minute housekeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.keys import open_secret_box
from storycheck.migrate import upgrade
from storycheck.periodic import Periodic

if TYPE_CHECKING:
    from storycheck.engine.pool import WorkerPool

log = logging.getLogger(__name__)


class Listener(Protocol):
    """What the state manager tells after each commit that changes the running set."""

    def register_batch(self, batch_id: str) -> None:
        """A batch started."""

    def unregister_batch(self, batch_id: str) -> None:
        """A batch stopped (paused, done, deleted)."""

    def sync(self, running_ids: set[str]) -> None:
        """The reconciler's view of the running set."""


class Broadcast(Listener, Protocol):
    """A listener with a connection to close (the distributed mode's `Dispatcher`)."""

    def close(self, timeout: float = 2.0) -> None:
        """Send what is pending and stop."""


class FanOut:
    """One listener that forwards to several (a worker's own engine and the broadcast)."""

    def __init__(self, *listeners: Listener) -> None:
        self.listeners = listeners

    def register_batch(self, batch_id: str) -> None:
        """Forward to every listener."""
        for listener in self.listeners:
            listener.register_batch(batch_id)

    def unregister_batch(self, batch_id: str) -> None:
        """Forward to every listener."""
        for listener in self.listeners:
            listener.unregister_batch(batch_id)

    def sync(self, running_ids: set[str]) -> None:
        """Forward to every listener."""
        for listener in self.listeners:
            listener.sync(running_ids)


@dataclass
class Runtime:
    """The parts of a process that runs batches; see the module docstring."""

    config: Config
    db: Database
    secrets: SecretBox
    state: BatchStateManager
    pool: WorkerPool | None = None
    broadcast: Broadcast | None = None

    def start(self) -> None:
        """Start the engine thread (when this process runs checks)."""
        if self.pool is not None:
            self.pool.start()

    def stop(self, timeout: float = 5.0) -> None:
        """`stop_engine`, then `close`."""
        self.stop_engine(timeout)
        self.close()

    def stop_engine(self, timeout: float = 5.0) -> None:
        """Stop the engine: no new requests; those in flight finish (bounded by `timeout`) and
        are recorded; every other lease goes back to pending."""
        if self.pool is not None:
            self.pool.stop(timeout=timeout)

    def close(self) -> None:
        """Close the broadcast and release the database (after `stop_engine`)."""
        if self.broadcast is not None:
            self.broadcast.close()
        self.db.dispose()


def build_runtime(
    config: Config,
    *,
    engine: bool = True,
    broadcast: Broadcast | None = None,
    pair_filter: Callable[[set[str]], set[str]] | None = None,
    lease_owner: str | None = None,
) -> Runtime:
    """Open and migrate the database, open the key, and wire the state manager to the engine
    (`engine=True`) and/or the `broadcast`. Nothing runs until `Runtime.start()`."""
    db = Database(config.database_url)
    upgrade(db.engine)
    secrets = open_secret_box(config, db)
    pool: WorkerPool | None = None
    if engine:
        from storycheck.engine.pool import WorkerPool  # the CLI's read commands skip the engine

        pool = WorkerPool(
            db=db, config=config, secrets=secrets, pair_filter=pair_filter, lease_owner=lease_owner
        )
    listeners: list[Listener] = [x for x in (pool, broadcast) if x is not None]
    listener: Listener | None = (
        None if not listeners else listeners[0] if len(listeners) == 1 else FanOut(*listeners)
    )
    state = BatchStateManager(db, listener)
    if pool is not None:
        pool.attach(state)
    return Runtime(config, db, secrets, state, pool, broadcast)


class Maintenance:
    """Periodic upkeep in one daemon thread.

    Every `interval` seconds the state manager reconciles the engine with the database (and
    `reaper`, when given, frees the leases of dead workers first); every
    `housekeeping_interval` seconds `housekeeping` runs (expired stories, stalled batches,
    the daily-target auto-trigger).
    """

    def __init__(
        self,
        state: BatchStateManager,
        interval: float,
        *,
        housekeeping: Callable[[], object] | None = None,
        housekeeping_interval: float = 60.0,
        reaper: Callable[[], object] | None = None,
    ) -> None:
        self.state = state
        self.interval = interval
        ticker = Periodic("maintenance")
        if reaper is not None:
            ticker.every(interval, reaper, what="dead-worker watch")
        ticker.every(interval, state.reconcile, what="reconcile")
        if housekeeping is not None:
            # First run at the first reconcile, then every housekeeping interval.
            ticker.every(
                max(housekeeping_interval, interval),
                housekeeping,
                what="housekeeping",
                first_after=interval,
            )
        self._ticker = ticker

    def start(self) -> None:
        """Begin periodic work."""
        self._ticker.start()

    def wake(self) -> None:
        """Run every job now."""
        self._ticker.wake()

    def stop(self) -> None:
        """Stop after the current run."""
        self._ticker.stop(timeout=5)


__all__ = ["FanOut", "Maintenance", "Runtime", "build_runtime"]
