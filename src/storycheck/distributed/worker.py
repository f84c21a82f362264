"""`storycheck worker`: a Celery worker process that also hosts a check engine.

One process holds, on one PostgreSQL database:

* a `WorkerPool` (the same engine as the single-process mode) whose pair filter lets through
  only the pairs this worker owns (`PairOwnership`);
* a `BatchStateManager` the engine reports to, so a finished batch is completed (and the next
  one promoted) through the one writer of batch state, exactly as in the server;
* a batch-sync thread that makes the engine's running set equal the database's in_progress
  batches every `sync_interval` seconds and at once when `storycheck.sync_batches` arrives;
* a Celery worker (`solo` pool: the broadcast task runs in this very process) consuming the
  broadcast queue.

The parts are built by `storycheck.runtime.build_runtime`, as in the server and the standalone
engine; the engine writes this worker's id on every item lease it takes.

SIGTERM or SIGINT: Celery finishes its warm shutdown, then the engine stops (requests in
flight finish and are recorded, other leased items go back to pending), the pairs are handed
back and the worker leaves the heartbeat list. A worker killed outright loses nothing: once its
heartbeat is older than the pair lease, the server and the other workers return its items and
free its pairs at once (`distributed/liveness.py`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING

import click

from storycheck.config import Config
from storycheck.distributed.ownership import OwnershipOptions, PairOwnership, default_worker_id
from storycheck.periodic import Periodic
from storycheck.runtime import build_runtime

if TYPE_CHECKING:
    from storycheck.distributed.dispatcher import Dispatcher

log = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 1.0


class WorkerRuntime:
    """Engine + ownership + batch sync of one worker process (Celery aside)."""

    def __init__(
        self,
        config: Config,
        *,
        worker_id: str | None = None,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
        ownership: OwnershipOptions | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.config = config
        self.worker_id = worker_id or default_worker_id()
        self.sync_interval = sync_interval
        self.runtime = build_runtime(
            config,
            broadcast=dispatcher,
            pair_filter=lambda candidates: self.ownership.allowed(candidates),
            lease_owner=self.worker_id,
        )
        self.db = self.runtime.db
        self.state = self.runtime.state
        pool = self.runtime.pool
        assert pool is not None
        self.pool = pool
        self.ownership = PairOwnership(self.db, self.worker_id, ownership)
        self.ownership.attach(self.pool)
        self._sync = Periodic("batch-sync").every(sync_interval, self.sync_now, what="batch sync")
        self._running: set[str] = set()
        from storycheck.alerts.delivery import AlertDeliverer, AlertOptions

        alert_options = AlertOptions.from_env()  # workers deliver alerts too, under leases
        self.alerts = (
            AlertDeliverer(self.db, self.runtime.secrets, alert_options)
            if alert_options.enabled
            else None
        )

    def start(self) -> None:
        """Join the workers (heartbeat, first pair share), start the engine and the sync."""
        self.ownership.start()
        self.runtime.start()
        try:
            self.sync_now()
        except Exception:
            log.exception("first batch sync failed; retrying in the background")
        self._sync.start()
        if self.alerts is not None:
            self.alerts.start()
        log.info(
            "storycheck worker %s started: %d pair(s) held, batches %s",
            self.worker_id,
            len(self.ownership.owned()),
            sorted(self._running) or "none",
        )

    def wake(self, reason: str = "") -> None:
        """Sync with the database now (the broadcast task calls this)."""
        log.debug("sync requested: %s", reason)
        self._sync.wake()

    def sync_now(self) -> None:
        """Make the engine's running set equal the database's in_progress batches."""
        running = set(self.state.running_batch_ids())
        self.pool.sync(running)
        if running != self._running:
            log.info("running batches: %s", sorted(running) or "none")
            self._running = running

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the engine, hand the pairs back, leave."""
        self._sync.stop(timeout=5)
        if self.alerts is not None:
            self.alerts.stop()
        self.runtime.stop_engine(timeout)
        self.ownership.stop(release=True)  # only once the engine stopped sending
        self.runtime.close()
        log.info("storycheck worker %s stopped", self.worker_id)


def run_worker(
    config: Config,
    *,
    worker_id: str | None = None,
    sync_interval: float = DEFAULT_SYNC_INTERVAL,
    loglevel: str = "INFO",
) -> int:
    """Run a worker until SIGTERM/SIGINT; return the exit code."""
    from celery import signals

    from storycheck.distributed.celery_app import make_celery, set_sync_handler
    from storycheck.distributed.dispatcher import Dispatcher

    if not config.broker_url:
        raise click.ClickException("storycheck worker needs STORYCHECK_BROKER_URL (redis://…)")
    if config.is_sqlite:
        log.warning(
            "storycheck worker on SQLite: only workers on this machine can share the file; "
            "use PostgreSQL (STORYCHECK_DATABASE_URL=postgresql+psycopg://…) to scale out"
        )
    app = make_celery(config.broker_url)
    stop_signals: list[str] = []

    def on_shutting_down(sig: str = "", **_: object) -> None:
        stop_signals.append(sig)

    signals.worker_shutting_down.connect(on_shutting_down, weak=False)
    # Until Celery installs its own handlers, a signal stops the start-up cleanly.
    early = _stop_early_on_signals()
    runtime: WorkerRuntime | None = None
    code = 0
    try:
        runtime = WorkerRuntime(
            config,
            worker_id=worker_id,
            sync_interval=sync_interval,
            ownership=OwnershipOptions.from_env(),
            dispatcher=Dispatcher(app),
        )
        set_sync_handler(runtime.wake)
        runtime.start()
        worker = app.Worker(
            hostname=f"storycheck-{os.getpid()}@{socket.gethostname()}",
            pool_cls="solo",
            concurrency=1,
            loglevel=loglevel,
            without_mingle=True,
            without_gossip=True,
            without_heartbeat=True,
            quiet=True,
        )
        if loglevel.upper() != "DEBUG":
            # One line per received broadcast is noise; our own sync logs what changed.
            for name in ("celery.worker.strategy", "celery.app.trace"):
                logging.getLogger(name).setLevel(logging.WARNING)
        worker.start()  # returns after a warm shutdown (SIGTERM / SIGINT)
        code = int(worker.exitcode or 0)
        if stop_signals and code == 1:
            code = 0  # Celery exits 1 after SIGINT; for us SIGINT and SIGTERM are a clean stop
    except _EarlyStop:
        log.info("signal during start-up: stopping")
    finally:
        early.restore()
        set_sync_handler(None)
        signals.worker_shutting_down.disconnect(on_shutting_down)
        if runtime is not None:
            runtime.stop()
    return code


class _EarlyStop(SystemExit):
    """SIGTERM/SIGINT arrived before Celery took over signal handling (a clean stop: Celery
    itself treats a SystemExit during its start as a warm shutdown)."""

    def __init__(self) -> None:
        super().__init__(0)


class _EarlySignals:
    def __init__(self) -> None:
        self.previous: dict[int, object] = {}

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            if signal.getsignal(signum) is _raise_early_stop:
                signal.signal(signum, handler)  # type: ignore[arg-type]


def _raise_early_stop(_signum: int, _frame: object) -> None:
    raise _EarlyStop()


def _stop_early_on_signals() -> _EarlySignals:
    early = _EarlySignals()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            early.previous[signum] = signal.signal(signum, _raise_early_stop)
    return early


@click.command("worker")
@click.option(
    "--worker-id", default=None, help="Name in the worker list (default host:pid:random)."
)
@click.option(
    "--sync-interval",
    default=DEFAULT_SYNC_INTERVAL,
    type=float,
    show_default=True,
    help="Seconds between polls of the running batches (broadcasts also wake it).",
)
def worker(worker_id: str | None, sync_interval: float) -> None:
    """Run a Celery worker with a check engine (distributed mode, see README "Scale-out")."""
    from storycheck.option_variables import option_families

    config = Config.from_env()
    option_families(config)  # a bad STORYCHECK_ENGINE_/ALERTS_/PAIR_ value stops it here
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    code = run_worker(config, worker_id=worker_id, sync_interval=sync_interval, loglevel=str(level))
    raise SystemExit(code)
