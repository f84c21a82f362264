"""The asyncio core of the check engine: start requests within the caps, route their ends.

(About 500 lines: the event loop's shared state stays in one class; every decision lives in
the modules listed below.)

One `Scheduler` runs on the pool's event loop. It owns the event loop's shared state (the
batch runs, their held items and queues, the in-flight counts) under one invariant: an item
is held by exactly one of queue / request / record queue until it is recorded or released.
Every decision is delegated:

* `claims.Claims` — batches joining and leaving, claims, releases, the finish check;
* `planner.Planner` — what to send next, through which pair (round-robin over batches);
* `routing.AnswerRouter` — where an answer's items go, through `outcomes.decide` (pure),
  `health`, `effects.PairEffects` and `pairbook.PairBook`;
* `recording.RecordQueue` — final outcomes group-committed, looked-up ids saved at once;
* `sync.BackgroundSync` — flush of counters/health/usage/logs, pair and settings refresh,
  lease renewal;
* `recorder.Recorder` — every statement, on one database thread.

What stays here: the loop's lifecycle (run, graceful shutdown), the cross-thread API, the
dispatch loop, and a request's start and end bookkeeping.

Thread-safety: `register`/`unregister` come from other threads. The set of batches allowed to
start requests is guarded by `gate`; a request checks it (under the lock) immediately before
it is sent, so once `unregister` returns no new request of that batch can start.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from storycheck.crypto import SecretBox
from storycheck.engine.checker import Checker, CheckOutcome
from storycheck.engine.claims import Claims
from storycheck.engine.effects import PairEffects
from storycheck.engine.errors import Transient
from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import INF, Pacer
from storycheck.engine.pairbook import PairBook
from storycheck.engine.pairs import Pair
from storycheck.engine.planner import BatchRun, Planner, Request
from storycheck.engine.recorder import Recorder
from storycheck.engine.recording import RecordQueue
from storycheck.engine.routing import AnswerRouter
from storycheck.engine.sync import BackgroundSync
from storycheck.engine.types import ItemOutcome, LeasedItem, LogRow

log = logging.getLogger(__name__)
T = TypeVar("T")


class Completer(Protocol):
    """The part of `BatchStateManager` the engine calls when a batch may be finished."""

    def complete_if_finished(self, batch_id: str) -> bool:
        """Mark the batch done when every item is final."""


class Scheduler:
    """Runs the running batches through the pair pool; see the module docstring."""

    def __init__(
        self,
        *,
        recorder: Recorder,
        checker: Checker,
        secrets: SecretBox,
        options: EngineOptions,
        completer: Completer | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        pair_filter: Callable[[set[str]], set[str]] | None = None,
    ) -> None:
        self.recorder = recorder
        self.checker = checker
        self.options = options
        self.completer = completer
        self.clock = clock
        self.rng = rng or random.Random()
        self.book = PairBook(secrets=secrets, options=options, pacer=pacer, rng=self.rng)
        # Shared with other threads (guarded by `gate`).
        self.gate = threading.Lock()
        self.active: set[str] = set()
        # Loop-only state.
        self.runs: dict[str, BatchRun] = {}
        self.planner = Planner(self.book, self.runs, options.partial_wait)
        self.logs: list[LogRow] = []
        self.effects = PairEffects(self.book, self._log_row)
        self.claims = Claims(self)
        self.router = AnswerRouter(self)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.finished: asyncio.Event | None = None
        self.db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-db")
        # Looked-up ids are saved on their own thread: queued behind outcome commits and
        # flushes they were lost by a crash (a repeated lookup costs the scarcest budget).
        self.id_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-ids")
        # Distributed mode: only the pairs this filter lets through are used (the worker's
        # share, see storycheck.distributed.ownership); `sending` counts requests per pair.
        self.pair_filter = pair_filter
        self.sending: Counter[str] = Counter()
        self._doc_id_keyword = _takes_doc_id(checker)
        # Created on the loop (`run`): they own asyncio events.
        self.queue: RecordQueue | None = None
        self.sync: BackgroundSync | None = None

    # ------------------------------------------------------------------ views

    @property
    def usable(self) -> list[Pair]:
        """The pairs that may be used at all right now."""
        return self.book.usable

    @property
    def pairs(self) -> dict[str, Pair]:
        """Every pair the engine knows."""
        return self.book.pairs

    @property
    def loaded(self) -> bool:
        """True once pairs and settings were read."""
        return self.book.loaded

    # ------------------------------------------------------------------ cross-thread API

    def register(self, batch_id: str) -> None:
        """Let `batch_id` run (called from any thread, after the commit that started it)."""
        with self.gate:
            self.active.add(batch_id)
        self._call_soon(self.claims.on_register, batch_id)

    def unregister(self, batch_id: str) -> None:
        """Stop `batch_id` at once: no request of it starts after this returns."""
        with self.gate:
            self.active.discard(batch_id)
        self._call_soon(self.claims.on_unregister, batch_id)

    def running_ids(self) -> set[str]:
        """The batches currently allowed to run."""
        with self.gate:
            return set(self.active)

    def request_stats(self, batch_id: str) -> tuple[int, int]:
        """(requests started, requests in flight) for one batch, as of now."""
        with self.gate:
            run = self.runs.get(batch_id)
            return (run.requests_started, run.requests_in_flight) if run else (0, 0)

    def refresh_soon(self, applied: concurrent.futures.Future[None] | None = None) -> None:
        """Re-read pairs (and apply `pair_filter`) at the next maintenance tick (loop only);
        `applied` is resolved once they are (at once when the engine has not read them yet)."""
        if self.sync is not None:
            self.sync.refresh_soon(applied)
        elif applied is not None:
            applied.set_result(None)  # its first refresh will read the change

    def engaged_pairs(self) -> set[str]:
        """Pairs the engine may use or still has a request on (loop only)."""
        return set(self.book.pairs) | {pid for pid, count in self.sending.items() if count}

    def _call_soon(self, callback: Callable[[str], None], batch_id: str) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(callback, batch_id)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until `shutdown`; `ready` is called once the loop accepts registrations."""
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        queue = self.queue = RecordQueue(
            recorder=self.recorder,
            db=self.db,
            save_db=self.db_ids,
            clock=self.clock,
            retention_hours=lambda: self.book.settings.story_retention_hours,
            group=self.options.record_group,
            recorded=self._recorded,
        )
        sync = self.sync = BackgroundSync(
            host=self,
            book=self.book,
            recorder=self.recorder,
            db=self.db,
            options=self.options,
            clock=self.clock,
            pair_filter=self.pair_filter,
            wake=self.wake_up,
        )
        for batch_id in self.running_ids():
            self.claims.on_register(batch_id)
        if ready is not None:
            ready()
        background: list[asyncio.Task[None]] = []
        try:
            try:
                await sync.refresh(initial=True)
            except Exception:
                if self.stopping:
                    return  # closed before its first reading: its database thread may be gone
                raise
            background = [
                asyncio.create_task(sync.run(), name="engine-maintain"),
                asyncio.create_task(queue.run(), name="engine-record"),
            ]
            await self._dispatch_loop()
            await self.finished.wait()  # `shutdown` runs on this loop and sets it when done
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    async def shutdown(self, timeout: float) -> None:
        """Stop claiming and sending; let requests in flight finish (bounded); return leases."""
        self.stopping = True
        self.wake_up()
        deadline = time.monotonic() + max(0.0, timeout * 0.6)
        requests = [t for t in self.tasks if t.get_name().startswith("request")]
        if requests:
            _, late = await asyncio.wait(requests, timeout=max(0.0, deadline - time.monotonic()))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        # Claims and releases are short database jobs: cancelling one that is queued in the
        # database thread would strand its items in flight, so let them finish instead.
        while others := [t for t in self.tasks if not t.done()]:
            await asyncio.gather(*others, return_exceptions=True)
        if self.queue is not None:
            with contextlib.suppress(Exception):
                await self.queue.drain()
            with contextlib.suppress(Exception):
                await self.queue.save_pending()
        leftovers = [item for run in self.runs.values() for item in run.held.values()]
        if leftovers:
            try:
                await self.db(self.recorder.release, leftovers, now=self.clock())
            except Exception:
                log.exception("could not return %d leases at shutdown", len(leftovers))
        if self.sync is not None:
            with contextlib.suppress(Exception):
                await self.sync.flush()
        try:
            await self.checker.aclose()
        finally:
            if self.finished is not None:
                self.finished.set()

    def close(self) -> None:
        """Release the database threads (a loop still running stops its maintenance)."""
        self.stopping = True
        self.db_executor.shutdown(wait=True)
        self.id_executor.shutdown(wait=True)

    async def db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a recorder call on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_executor, lambda: function(*args, **kwargs))

    async def db_ids(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a call on the thread that saves looked-up ids."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.id_executor, lambda: function(*args, **kwargs))

    def wake_up(self) -> None:
        """Look at the queues again now (loop only)."""
        if self.wake is not None:
            self.wake.set()

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run `coro` as an engine task (awaited at shutdown, failures logged)."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine task %s failed", task.get_name(), exc_info=task.exception())

    def log_line(
        self,
        batch_id: str,
        event_type: str,
        message: str,
        *,
        profile_id: str | None = None,
        proxy_id: str | None = None,
    ) -> None:
        """Add a batch log line (written by the next flush)."""
        self.logs.append(LogRow(batch_id, event_type, message, self.clock(), profile_id, proxy_id))

    # ------------------------------------------------------------------ dispatch

    async def _dispatch_loop(self) -> None:
        assert self.wake is not None
        while not self.stopping:
            self.wake.clear()
            now = self.clock()
            self.claims.top_up(now)
            next_at = self._dispatch(now)
            delay = min(max(0.0, next_at - self.clock()), 0.5)
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)

    def _dispatch(self, now: float) -> float:
        """Start every request that may start now; return when to look again."""
        next_at = INF
        if self.stopping or not self.loaded:
            return next_at
        while self.book.global_limits.slot_free:
            request, next_at = self.planner.next_request(now, self.options.max_claim)
            if request is None:
                break
            self._start(request, now)
        if self.planner.starved and self.sync is not None:
            self.sync.soon()
        if not self.usable:
            self._log_idle()
        return next_at

    def _log_idle(self) -> None:
        for run in self.runs.values():
            if (run.lookups or run.ready) and not run.idle_logged:
                run.idle_logged = True
                self.log_line(run.id, "INFO", "No usable proxy+session pair: waiting for one")

    def _log_row(self, batch_id: str, event_type: str, message: str, proxy_id: str | None) -> None:
        self.log_line(batch_id, event_type, message, proxy_id=proxy_id)

    def _start(self, request: Request, now: float) -> None:
        pair = request.pair
        book = self.book
        pair.busy = True
        pair.last_start = now
        self.sending[pair.proxy_id] += 1
        book.pacer.acquire(pair.proxy_id, request.kind, now)
        book.ledger.consume(pair.proxy_id, request.kind, now)
        book.global_limits.in_flight += 1
        book.global_limits.take_checks(
            len(request.items)
            if request.kind == "lookup"
            else sum(not i.resolved_now for i in request.items),
            now,
        )
        for batch_id in {item.batch_id for item in request.items}:
            run = self.runs.get(batch_id)
            if run is None:
                continue
            if request.kind == "lookup":
                run.lookups_in_flight += 1
            if batch_id not in pair.batches:
                pair.batches.add(batch_id)
                self.log_line(
                    batch_id,
                    "PAIR_ASSIGNED",
                    f"Pair {pair.label} joined the batch",
                    proxy_id=pair.proxy_id,
                )
        self.spawn(self._execute(request), f"request-{pair.proxy_id[:8]}")

    def _admit(self, request: Request) -> list[LeasedItem]:
        """The request's items whose batch may still run (the others are released)."""
        with self.gate:
            live = [item for item in request.items if item.batch_id in self.active]
            for batch_id in {item.batch_id for item in live}:
                run = self.runs.get(batch_id)
                if run is not None:
                    run.requests_started += 1
                    run.requests_in_flight += 1
        live_ids = {item.id for item in live}
        dropped = [item for item in request.items if item.id not in live_ids]
        for batch_id in {item.batch_id for item in dropped}:
            run = self.runs.get(batch_id)
            if run is not None:
                self.claims.release(run, [i for i in dropped if i.batch_id == batch_id])
        return live

    async def _send(self, request: Request, live: list[LeasedItem]) -> CheckOutcome:
        pair = request.pair
        assert pair.identity is not None
        pair.health.begin_request(self.clock())
        doc_id = self.book.settings.dense_doc_id if request.dense else ""
        # Until every checker takes `dense_doc_id`, the old boolean keyword still works.
        form: dict[str, Any] = (
            {"dense_doc_id": doc_id or None} if self._doc_id_keyword else {"dense": bool(doc_id)}
        )
        try:
            return await self.checker.check(
                pair.identity,
                request.kind,
                live,
                timeout=float(self.book.settings.proxy_test_timeout),
                **form,
            )
        except asyncio.CancelledError:
            raise  # shutdown: the items are returned with every other lease
        except Exception as exc:  # a checker bug must not lose the items
            log.exception("checker failed")
            return CheckOutcome(failure=Transient(f"checker error: {type(exc).__name__}"))

    async def _execute(self, request: Request) -> None:
        pair = request.pair
        live = self._admit(request)
        outcome: CheckOutcome | None = None
        try:
            if live and pair.identity is None:
                # The pair lost its identity (secrets changed) between dispatch and send.
                self.router.requeue(live)
                live = []
            if live:
                outcome = await self._send(request, live)
        finally:
            self._request_ended(request, live, outcome)

    def _request_ended(
        self, request: Request, live: list[LeasedItem], outcome: CheckOutcome | None
    ) -> None:
        pair = request.pair
        now = self.clock()
        self.book.pacer.complete(pair.proxy_id, request.kind, now, sent=bool(live))
        pair.busy = False
        self.sending[pair.proxy_id] -= 1
        if self.sending[pair.proxy_id] <= 0:
            del self.sending[pair.proxy_id]
        self.book.global_limits.in_flight -= 1
        batch_ids = {item.batch_id for item in request.items}
        with self.gate:
            for batch_id in {item.batch_id for item in live}:
                run = self.runs.get(batch_id)
                if run is not None:
                    run.requests_in_flight -= 1
        for batch_id in batch_ids:
            run = self.runs.get(batch_id)
            if run is not None and request.kind == "lookup":
                run.lookups_in_flight -= 1
        if live and outcome is not None:  # None: cancelled at shutdown
            self.router.handle(request, live, outcome, now)
        for batch_id in batch_ids:
            run = self.runs.get(batch_id)
            if run is not None:
                self.claims.forget_if_idle(run)
        self.wake_up()

    # ------------------------------------------------------------------ recording

    def record(self, finals: list[ItemOutcome]) -> None:
        """Hand final outcomes to the record queue."""
        assert self.queue is not None
        self.queue.add(finals)

    def _recorded(self, finals: Sequence[ItemOutcome]) -> None:
        """Outcomes were handled by the record queue: their items are no longer held."""
        touched: set[str] = set()
        for final in finals:
            run = self.runs.get(final.item.batch_id)
            if run is not None:
                run.drop(final.item)
                touched.add(run.id)
        for batch_id in touched:
            run = self.runs.get(batch_id)
            if run is not None:
                self.claims.forget_if_idle(run)
        self.wake_up()

    # ------------------------------------------------------------------ sync host

    def take_logs(self) -> list[LogRow]:
        """Hand the collected batch log rows to the flush."""
        logs, self.logs = self.logs, []
        return logs

    def keep_logs(self, logs: Sequence[LogRow]) -> None:
        """Take back log rows a failed flush could not write."""
        self.logs = [*logs, *self.logs]

    def lease_tokens(self) -> set[str]:
        """Lease tokens of every item held now (renewed by the sync)."""
        return {token for run in self.runs.values() for token in run.tokens}

    def pairs_changed(self, gone: Sequence[Pair]) -> None:
        """Pairs were re-read: close what belongs to removed ones, react to the usable set."""
        for pair in gone:
            if not pair.busy:
                self.spawn(self.checker.forget_pair(pair.proxy_id), f"forget-{pair.proxy_id[:8]}")
        if self.usable:
            for run in self.runs.values():
                run.idle_logged = False
        elif self.pair_filter is not None:
            self.claims.release_waiting()


def _takes_doc_id(checker: Checker) -> bool:
    """True when the checker's `check` has the `dense_doc_id` keyword (CONTRACTS.md)."""
    try:
        return "dense_doc_id" in inspect.signature(checker.check).parameters
    except (TypeError, ValueError):
        return False


__all__ = ["BatchRun", "Completer", "Request", "Scheduler"]
