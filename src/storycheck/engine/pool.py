"""WorkerPool: the in-process check engine, driven by the batch state manager.

Wiring (what `storycheck.runtime.build_runtime` does for the server, the standalone engine
and the worker)::

    pool = WorkerPool(db=db, config=config, secrets=secret_box)
    state = BatchStateManager(db, pool); pool.attach(state)
    pool.start()                                  # background thread with an asyncio loop
    state.reconcile(release_all_leases=True)      # startup: leases back, pool.sync(running)
    ...                                           # state.reconcile() every few seconds
    pool.stop(timeout=5.0)                        # stop claiming; finish or return leases

The state manager tells the pool, after each commit, which batches run (`register_batch`,
`unregister_batch`, `sync`); the pool calls `state.complete_if_finished(batch_id)` when every
item of a running batch is final. The pool never writes batch status itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.engine import lending
from storycheck.engine.checker import Checker, InstagramChecker
from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import Kind, Pacer
from storycheck.engine.recorder import Recorder
from storycheck.engine.scheduler import Completer, Scheduler
from storycheck.proxies.identity import rotation_saver

log = logging.getLogger(__name__)


class WorkerPool:
    """Runs in-progress batches on a background asyncio loop; see the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        config: Config,
        secrets: SecretBox,
        checker: Checker | None = None,
        options: EngineOptions | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.time,
        pair_filter: Callable[[set[str]], set[str]] | None = None,
        lease_owner: str | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.options = options or EngineOptions.from_env(extra=config.extra)
        self.scheduler = Scheduler(
            recorder=Recorder(db, lease_owner=lease_owner),
            checker=checker
            or InstagramChecker(
                base_url=config.instagram_url, save_rotated=rotation_saver(db, secrets)
            ),
            secrets=secrets,
            options=self.options,
            pacer=pacer,
            clock=clock,
            pair_filter=pair_filter,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._stopped = threading.Event()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<WorkerPool {state} batches={sorted(self.running_ids())}>"

    # ------------------------------------------------------------------ wiring

    def attach(self, state: Completer) -> None:
        """Give the pool the state manager it reports finished batches to."""
        self.scheduler.completer = state

    @property
    def is_running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the engine thread; returns once it accepts registrations."""
        if self._thread is not None:
            raise RuntimeError("the worker pool is already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._main = loop.create_task(self.scheduler.run(ready=ready.set))
                loop.run_until_complete(self._main)
            except asyncio.CancelledError:
                pass
            except BaseException as exc:  # reported to start() or logged
                failure.append(exc)
                log.exception("the check engine stopped with an error")
            finally:
                ready.set()
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
                    self._stopped.set()

        self._thread = threading.Thread(target=run, name="storycheck-engine", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            raise RuntimeError("the check engine failed to start") from failure[0]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop gracefully: no new claims or requests; requests in flight finish (bounded by
        `timeout`) and are recorded; every other lease goes back to pending."""
        thread, loop, main = self._thread, self._loop, self._main
        if thread is None or loop is None:
            self.scheduler.close()
            return
        if thread.is_alive() and main is not None and not loop.is_closed():
            try:
                future = asyncio.run_coroutine_threadsafe(self.scheduler.shutdown(timeout), loop)
                future.result(timeout=timeout + 10)
            except Exception:
                log.exception("engine shutdown did not finish cleanly")
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(main.cancel)
        thread.join(timeout=timeout + 10)
        self._thread = None
        self.scheduler.close()

    # ------------------------------------------------------------------ PoolListener

    def register_batch(self, batch_id: str) -> None:
        """Start running `batch_id` (called after the commit that made it in_progress)."""
        self.scheduler.register(batch_id)

    def unregister_batch(self, batch_id: str) -> None:
        """Stop `batch_id`: once this returns, no request of it starts. Requests already in
        flight finish and are recorded (nothing is written if the batch was deleted)."""
        self.scheduler.unregister(batch_id)

    def sync(self, running_ids: Iterable[str]) -> None:
        """Make the running set equal `running_ids` (the reconciler's view of the database)."""
        wanted = set(running_ids)
        current = self.scheduler.running_ids()
        for batch_id in current - wanted:
            self.scheduler.unregister(batch_id)
        for batch_id in wanted - current:
            self.scheduler.register(batch_id)

    def running_ids(self) -> set[str]:
        """The batches the pool runs now."""
        return self.scheduler.running_ids()

    # ------------------------------------------------------------------ pair filter hooks

    # How long an API change of pairs or settings waits for the engine to apply it.
    APPLY_WAIT_SECONDS = 5.0

    def refresh_pairs(self, wait: float = 0.0) -> None:
        """Re-read pairs and settings and re-apply `pair_filter` soon (a pair or a setting was
        changed, or the worker's share of the pairs).

        With `wait`, return once a re-read that began after this call has been applied (or
        after `wait` seconds): a pair disabled through the API then sends nothing more once the
        API has answered. Never call it with `wait` from the engine's own loop.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        applied: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            loop.call_soon_threadsafe(self.scheduler.refresh_soon, applied)
        except RuntimeError:
            return  # the loop is shutting down
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                applied.result(timeout=wait)

    @property
    def refreshes(self) -> int:
        """How many times the engine has re-read and applied its pairs and settings.

        Settings or pairs saved before this was read are in force once it has grown by two:
        the refresh running when it was read may have loaded the old ones.
        """
        sync = self.scheduler.sync
        return 0 if sync is None else sync.refreshes

    def pairs_in_use(self, timeout: float = 5.0) -> set[str]:
        """Pairs the engine may use or still has a request on; empty when it does not run."""
        loop = self._loop
        if not self.is_running or loop is None or loop.is_closed():
            return set()
        answer: concurrent.futures.Future[set[str]] = concurrent.futures.Future()

        def ask() -> None:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                answer.set_result(self.scheduler.engaged_pairs())

        try:
            loop.call_soon_threadsafe(ask)
        except RuntimeError:  # the loop closed meanwhile
            return set()
        return answer.result(timeout=timeout)

    # ------------------------------------------------------------------ loans (pair tests)

    def lend_pair(
        self, proxy_id: str, kind: Kind, *, wait: float
    ) -> concurrent.futures.Future[lending.LoanAnswer]:
        """Take one `kind` slot of the pair's pacing budget for a request outside the batches,
        waiting up to `wait` seconds for it (see `engine.lending`); any thread.

        A granted loan must be ended with `return_pair`. Raises RuntimeError when the engine
        does not run.
        """
        loop = self._loop
        if not self.is_running or loop is None or loop.is_closed():
            raise RuntimeError("the check engine does not run")
        scheduler = self.scheduler
        return asyncio.run_coroutine_threadsafe(
            lending.lend(scheduler, proxy_id, kind, wait=wait, clock=scheduler.clock), loop
        )

    def return_pair(self, proxy_id: str, kind: Kind, *, sent: bool) -> None:
        """End a loan of `lend_pair`: the request counts in the pair's window from now."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        scheduler = self.scheduler

        def give_back() -> None:
            lending.give_back(scheduler, proxy_id, kind, scheduler.clock(), sent=sent)

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(give_back)

    def request_stats(self, batch_id: str) -> tuple[int, int]:
        """(requests started, requests in flight) of one batch; for tests and the dashboard."""
        return self.scheduler.request_stats(batch_id)
