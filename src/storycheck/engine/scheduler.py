"""The asyncio core of the check engine: claim items, pick pairs, send, classify, record.

One `Scheduler` runs on the pool's event loop. Per running batch it keeps a small buffer of
leased items in two queues — items that need a username lookup, and items whose user id is
known and wait for a story query — topped up by claims. The dispatch loop repeatedly:

1. walks the running batches round-robin (fairness between concurrent batches);
2. for the batch's most valuable work (a full story group, else a lookup, else a partial story
   group that has waited long enough), takes the pair that is free soonest for that request
   kind (pacing windows, min interval, health, one request in flight per pair);
3. starts the request, within the global caps (`max_threads` in flight, checks per minute).

Answers are classified (`errors.classify`); final item outcomes go to the recorder, which
commits several requests' outcomes together (each request's outcomes stay atomic). Pair
usage, counters, health changes and logs are persisted by a background flush; pairs and
settings are re-read every few seconds so user changes apply while batches run.

Thread-safety: `register`/`unregister` come from other threads. The set of batches allowed to
start requests is guarded by `gate`; a request checks it (under the lock) immediately before
it is sent, so once `unregister` returns no new request of that batch can start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from storycheck.crypto import SecretBox
from storycheck.engine.checker import Checker, CheckOutcome, ItemAnswer, WorkItem
from storycheck.engine.client import DENSE_IDS_PER_REQUEST
from storycheck.engine.errors import Classification, IgError, Transient, classify
from storycheck.engine.health import (
    CHALLENGE,
    INVALID,
    HealthPolicy,
    PairEvent,
    PairHealthState,
)
from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import (
    INF,
    GlobalLimits,
    InMemoryPacer,
    Kind,
    Pacer,
    PacingLimits,
    UsageLedger,
    minute_of,
    restored_times,
)
from storycheck.engine.pairs import Pair, build_identity, identity_fields, label_of
from storycheck.engine.recorder import (
    COMPLETED,
    FAILED,
    NOT_FOUND_ERROR,
    EngineSettings,
    ItemOutcome,
    LogRow,
    PairRow,
    PairWrite,
    PersistJob,
    Recorder,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class Completer(Protocol):
    """The part of `BatchStateManager` the engine calls when a batch may be finished."""

    def complete_if_finished(self, batch_id: str) -> bool:
        """Mark the batch done when every item is final."""


@dataclass
class BatchRun:
    """What the engine holds for one running batch."""

    id: str
    lookups: deque[WorkItem] = field(default_factory=deque)
    ready: deque[WorkItem] = field(default_factory=deque)
    held: dict[str, WorkItem] = field(default_factory=dict)
    tokens: Counter[str] = field(default_factory=Counter)
    claiming: set[bool] = field(default_factory=set)
    exhausted: dict[bool, bool] = field(default_factory=lambda: {True: False, False: False})
    lookups_in_flight: int = 0
    closing: bool = False
    finishing: bool = False
    rechecks: int = 0
    claim_after: float = 0.0
    started_logged: bool = False
    idle_logged: bool = False
    requests_started: int = 0
    requests_in_flight: int = 0

    def hold(self, items: Iterable[WorkItem]) -> None:
        for item in items:
            self.held[item.id] = item
            self.tokens[item.lease_token] += 1

    def drop(self, item: WorkItem) -> None:
        if self.held.pop(item.id, None) is not None:
            self.tokens[item.lease_token] -= 1
            if self.tokens[item.lease_token] <= 0:
                del self.tokens[item.lease_token]

    def looks_finished(self) -> bool:
        return (
            not self.closing
            and not self.held
            and not self.claiming
            and self.exhausted[True]
            and self.exhausted[False]
        )


@dataclass
class Request:
    """One request being dispatched."""

    pair: Pair
    kind: Kind
    items: list[WorkItem]
    dense: bool


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
        self.secrets = secrets
        self.options = options
        self.completer = completer
        self.clock = clock
        self.rng = rng or random.Random()
        self.settings = EngineSettings()
        self.limits = PacingLimits(
            window_seconds=options.window_seconds, margin=options.pacing_margin
        )
        self.pacer: Pacer = pacer or InMemoryPacer(self.limits)
        self.ledger = UsageLedger()
        self.global_limits = GlobalLimits()
        self.policy = self._policy()
        # Shared with other threads (guarded by `gate`).
        self.gate = threading.Lock()
        self.active: set[str] = set()
        # Loop-only state.
        self.runs: dict[str, BatchRun] = {}
        self.order: list[str] = []
        self.cursor = 0
        self.pairs: dict[str, Pair] = {}
        self.usable: list[Pair] = []
        self.dense_ok = options.dense
        self.dense_retry_at = INF
        self.dense_size = DENSE_IDS_PER_REQUEST
        self.v1_size = self.settings.reel_ids_per_request
        self.logs: list[LogRow] = []
        self.session_status: dict[str, tuple[str, str | None]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.records: list[list[ItemOutcome]] = []
        self.stopping = False
        self.loaded = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.record_wake: asyncio.Event | None = None
        self.flush_wake: asyncio.Event | None = None
        self.finished: asyncio.Event | None = None
        self.db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-db")
        self.last_refresh = -INF
        self.last_renew = 0.0
        self.last_prune = 0.0
        # Distributed mode: only the pairs this filter lets through are used (the worker's
        # share, see storycheck.distributed.ownership); `sending` counts requests per pair.
        self.pair_filter = pair_filter
        self.sending: Counter[str] = Counter()

    # ------------------------------------------------------------------ cross-thread API

    def register(self, batch_id: str) -> None:
        """Let `batch_id` run (called from any thread, after the commit that started it)."""
        with self.gate:
            self.active.add(batch_id)
        self._call_soon(self._on_register, batch_id)

    def unregister(self, batch_id: str) -> None:
        """Stop `batch_id` at once: no request of it starts after this returns."""
        with self.gate:
            self.active.discard(batch_id)
        self._call_soon(self._on_unregister, batch_id)

    def running_ids(self) -> set[str]:
        """The batches currently allowed to run."""
        with self.gate:
            return set(self.active)

    def request_stats(self, batch_id: str) -> tuple[int, int]:
        """(requests started, requests in flight) for one batch, as of now."""
        with self.gate:
            run = self.runs.get(batch_id)
            return (run.requests_started, run.requests_in_flight) if run else (0, 0)

    def refresh_soon(self) -> None:
        """Re-read pairs (and apply `pair_filter`) at the next maintenance tick (loop only)."""
        self.last_refresh = -INF
        if self.flush_wake is not None:
            self.flush_wake.set()

    def engaged_pairs(self) -> set[str]:
        """Pairs the engine may use or still has a request on (loop only)."""
        return set(self.pairs) | {pair_id for pair_id, count in self.sending.items() if count}

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
        self.record_wake = asyncio.Event()
        self.flush_wake = asyncio.Event()
        self.finished = asyncio.Event()
        for batch_id in self.running_ids():
            self._on_register(batch_id)
        if ready is not None:
            ready()
        background: list[asyncio.Task[None]] = []
        try:
            await self._refresh(initial=True)
            background = [
                asyncio.create_task(self._maintain(), name="engine-maintain"),
                asyncio.create_task(self._record_loop(), name="engine-record"),
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
        self._wake()
        deadline = time.monotonic() + max(0.0, timeout * 0.6)
        requests = [t for t in self.tasks if t.get_name().startswith("request")]
        if requests:
            _, late = await asyncio.wait(
                requests, timeout=max(0.0, deadline - time.monotonic())
            )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        # Claims and releases are short database jobs: cancelling one that is queued in the
        # database thread would strand its items in flight, so let them finish instead.
        while others := [t for t in self.tasks if not t.done()]:
            await asyncio.gather(*others, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._drain_records()
        leftovers = [item for run in self.runs.values() for item in run.held.values()]
        if leftovers:
            try:
                await self._db(self.recorder.release, leftovers, now=self.clock())
            except Exception:
                log.exception("could not return %d leases at shutdown", len(leftovers))
        with contextlib.suppress(Exception):
            await self._flush()
        try:
            await self.checker.aclose()
        finally:
            if self.finished is not None:
                self.finished.set()

    def close(self) -> None:
        """Release the database thread."""
        self.db_executor.shutdown(wait=True)

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_executor, lambda: function(*args, **kwargs))

    def _wake(self) -> None:
        if self.wake is not None:
            self.wake.set()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------------ batches

    def _on_register(self, batch_id: str) -> None:
        if batch_id not in self.running_ids():
            return
        run = self.runs.get(batch_id)
        if run is None:
            run = BatchRun(batch_id)
            with self.gate:
                self.runs[batch_id] = run
            self.order.append(batch_id)
        run.closing = False
        run.finishing = False
        run.exhausted = {True: False, False: False}
        self._wake()

    def _on_unregister(self, batch_id: str) -> None:
        if batch_id in self.running_ids():
            return  # registered again meanwhile
        run = self.runs.get(batch_id)
        if run is None:
            return
        run.closing = True
        waiting = list(run.lookups) + list(run.ready)
        run.lookups.clear()
        run.ready.clear()
        self._release(run, waiting)
        self._forget_if_idle(run)

    def _forget_if_idle(self, run: BatchRun) -> None:
        if run.closing and not run.held and run.requests_in_flight == 0 and not run.claiming:
            with self.gate:
                self.runs.pop(run.id, None)
            if run.id in self.order:
                self.order.remove(run.id)

    def _release(self, run: BatchRun, items: Sequence[WorkItem]) -> None:
        if not items:
            return
        for item in items:
            run.drop(item)
        self._spawn(self._release_now(list(items)), f"release-{run.id[:8]}")
        self._forget_if_idle(run)

    async def _release_now(self, items: list[WorkItem]) -> None:
        try:
            await self._db(self.recorder.release, items, now=self.clock())
        except Exception:
            log.exception("could not return %d leases; they expire on their own", len(items))

    def _claim_targets(self, run: BatchRun) -> tuple[int, int]:
        usable = max(1, len(self.usable))
        lookups = max(16, 4 * usable)
        stories = min(
            self.options.max_claim * 2, max(2 * self._group_size(), 2 * usable * self._group_size())
        )
        return lookups, stories

    def _top_up(self, now: float) -> None:
        if self.stopping or not self.loaded:
            return
        if self.pair_filter is not None and not self.usable:
            return  # leased items would only wait here while other workers could check them
        for run in list(self.runs.values()):
            if run.closing or now < run.claim_after:
                continue
            lookup_target, stories_target = self._claim_targets(run)
            have_lookups = len(run.lookups) + run.lookups_in_flight
            if (
                not run.exhausted[False]
                and False not in run.claiming
                and have_lookups * 2 <= lookup_target
            ):
                self._claim(run, resolved=False, limit=lookup_target - have_lookups)
            if (
                not run.exhausted[True]
                and True not in run.claiming
                and len(run.ready) * 2 <= stories_target
            ):
                self._claim(run, resolved=True, limit=stories_target - len(run.ready))
            if run.looks_finished() and not run.finishing and self.completer is not None:
                run.finishing = True
                self._spawn(self._finish(run), f"finish-{run.id[:8]}")

    def _claim(self, run: BatchRun, *, resolved: bool, limit: int) -> None:
        run.claiming.add(resolved)
        self._spawn(
            self._claim_now(run, resolved, min(limit, self.options.max_claim)),
            f"claim-{run.id[:8]}",
        )

    async def _claim_now(self, run: BatchRun, resolved: bool, limit: int) -> None:
        now = self.clock()
        try:
            items = await self._db(
                self.recorder.claim,
                run.id,
                resolved=resolved,
                limit=limit,
                lease_seconds=self.options.lease_seconds,
                now=now,
            )
        except Exception:
            log.exception("claim for batch %s failed; retrying", run.id)
            run.claim_after = self.clock() + 1.0
            self._forget_if_idle(run)
            return
        finally:
            run.claiming.discard(resolved)
        if len(items) < limit:
            run.exhausted[resolved] = True
        if not items:
            self._forget_if_idle(run)
            self._wake()
            return
        run.hold(items)
        if run.closing or self.stopping:
            self._release(run, items)
            return
        now = self.clock()
        missing: list[ItemOutcome] = []
        for item in items:
            if item.last_error == NOT_FOUND_ERROR:
                missing.append(
                    ItemOutcome(
                        item=item,
                        status=FAILED,
                        processed_at=now,
                        error=NOT_FOUND_ERROR,
                        not_found=True,
                    )
                )
            elif item.ig_user_id:
                item.ready_since = now
                run.ready.append(item)
            else:
                run.lookups.append(item)
        if missing:
            self._record(missing)
        if not run.started_logged:
            run.started_logged = True
            form = "GraphQL" if self._dense() else "v1 reels_media"
            self._log(
                run.id,
                "INFO",
                f"Engine started checking: {len(self.usable)} usable pair(s), {form} story "
                f"queries with up to {self._group_size()} ids",
            )
        self._wake()

    async def _finish(self, run: BatchRun) -> None:
        assert self.completer is not None
        try:
            done = await self._db(self.completer.complete_if_finished, run.id)
        except Exception:
            log.exception("completion check of batch %s failed", run.id)
            done = False
        if done:
            await self._db(self.recorder.batch_end_log, run.id, now=self.clock())
            return
        # Items came back (expired leases returned by the reconciler): claim again shortly.
        run.finishing = False
        run.exhausted = {True: False, False: False}
        run.rechecks += 1
        delay = self.options.recheck_interval * 2 ** min(run.rechecks - 1, 4)
        run.claim_after = self.clock() + delay
        self._wake()

    def _log(
        self,
        batch_id: str,
        event_type: str,
        message: str,
        *,
        profile_id: str | None = None,
        proxy_id: str | None = None,
    ) -> None:
        self.logs.append(LogRow(batch_id, event_type, message, self.clock(), profile_id, proxy_id))

    # ------------------------------------------------------------------ dispatch

    async def _dispatch_loop(self) -> None:
        assert self.wake is not None
        while not self.stopping:
            self.wake.clear()
            now = self.clock()
            self._top_up(now)
            next_at = self._dispatch(now)
            delay = min(max(0.0, next_at - self.clock()), 0.5)
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)

    def _dense(self) -> bool:
        if not self.options.dense:
            return False
        if not self.dense_ok and self.clock() >= self.dense_retry_at:
            self.dense_ok = True
        return self.dense_ok

    def _group_size(self) -> int:
        return max(1, self.dense_size if self._dense() else self.v1_size)

    def _dispatch(self, now: float) -> float:
        """Start every request that may start now; return when to look again."""
        next_at = INF
        if self.stopping or not self.loaded:
            return next_at
        while self.global_limits.slot_free and self.order:
            started = False
            count = len(self.order)
            for offset in range(count):
                index = (self.cursor + offset) % count
                run = self.runs.get(self.order[index])
                if run is None or run.closing:
                    continue
                request, wake_at = self._choose(run, now)
                next_at = min(next_at, wake_at)
                if request is not None:
                    self._start(request, now)
                    self.cursor = (index + 1) % max(1, len(self.order))
                    started = True
                    break
            if not started:
                break
        return next_at

    def _choose(self, run: BatchRun, now: float) -> tuple[Request | None, float]:
        wake_at = INF
        size = self._group_size()
        wants: list[tuple[Kind, bool]] = []
        if len(run.ready) >= size:
            wants.append(("stories", False))
        # Backpressure: look up more ids only while the story queue is not overflowing.
        if run.lookups and len(run.ready) < self._claim_targets(run)[1]:
            wants.append(("lookup", False))
        if run.ready and len(run.ready) < size:
            lookups_done = not run.lookups and run.lookups_in_flight == 0 and run.exhausted[False]
            due_at = run.ready[0].ready_since + self.options.partial_wait
            if lookups_done or due_at <= now:
                wants.append(("stories", True))
            else:
                wake_at = min(wake_at, due_at)
        # `profiles_per_minute` counts each profile once: at its lookup, or at its story
        # query when its user id was already known.
        allowed, available_at = self.global_limits.checks_allowed(now)
        for kind, partial in wants:
            if allowed <= 0 and (kind == "lookup" or not _has_resolved_now(run.ready, size)):
                wake_at = min(wake_at, available_at)
                continue
            free, soonest = self._free_pairs(kind, now)
            wake_at = min(wake_at, soonest)
            for pair in free:
                items = self._take(run, kind, pair, size, partial)
                if kind == "stories":
                    items = self._within_check_budget(run, items, allowed)
                if items:
                    return Request(pair, kind, items, kind == "stories" and self._dense()), wake_at
        if not self.usable and (run.lookups or run.ready) and not run.idle_logged:
            run.idle_logged = True
            self._log(run.id, "INFO", "No usable proxy+session pair: waiting for one")
        return None, wake_at

    def _within_check_budget(
        self, run: BatchRun, items: list[WorkItem], allowed: int
    ) -> list[WorkItem]:
        """Keep the ids whose check is already counted plus at most `allowed` new ones."""
        kept: list[WorkItem] = []
        returned: list[WorkItem] = []
        for item in items:
            if item.resolved_now or allowed > 0:
                if not item.resolved_now:
                    allowed -= 1
                kept.append(item)
            else:
                returned.append(item)
        for item in reversed(returned):
            owner = self.runs.get(item.batch_id, run)
            owner.ready.appendleft(item)
        return kept

    def _free_pairs(self, kind: Kind, now: float) -> tuple[list[Pair], float]:
        """Pairs that may send a `kind` request now (longest idle first), and when the next
        busy one frees up."""
        free: list[Pair] = []
        soonest = INF
        for pair in self.usable:
            if pair.busy:
                continue
            at = max(self.pacer.next_free(pair.proxy_id, kind, now), pair.health.available_at(now))
            if at <= now:
                if self.ledger.allows(pair.proxy_id, kind, now):
                    free.append(pair)
                else:
                    soonest = min(soonest, now + 0.05)
                    if self.flush_wake is not None:
                        self.flush_wake.set()
            else:
                soonest = min(soonest, at)
        free.sort(key=lambda p: p.last_start)
        return free, soonest

    def _take(
        self, run: BatchRun, kind: Kind, pair: Pair, limit: int, partial: bool
    ) -> list[WorkItem]:
        """Pop the items of one request for `pair` (avoiding items that just failed on it)."""
        strict = len(self.usable) > 1
        queue = run.lookups if kind == "lookup" else run.ready
        want = 1 if kind == "lookup" else limit
        taken = _take_from(queue, pair.proxy_id, want, strict)
        if kind == "stories" and partial and len(taken) < want:
            # Fill a partial group with other batches' waiting ids: fewer, denser requests.
            for other_id in self.order:
                other = self.runs.get(other_id)
                if other is None or other is run or other.closing or not other.ready:
                    continue
                if len(other.ready) >= self._group_size():
                    continue
                taken.extend(_take_from(other.ready, pair.proxy_id, want - len(taken), strict))
                if len(taken) >= want:
                    break
        return taken

    def _start(self, request: Request, now: float) -> None:
        pair = request.pair
        pair.busy = True
        pair.last_start = now
        self.sending[pair.proxy_id] += 1
        self.pacer.acquire(pair.proxy_id, request.kind, now)
        self.ledger.consume(pair.proxy_id, request.kind, now)
        self.global_limits.in_flight += 1
        if request.kind == "lookup":
            self.global_limits.take_checks(len(request.items), now)
        else:
            self.global_limits.take_checks(sum(not i.resolved_now for i in request.items), now)
        for batch_id in {item.batch_id for item in request.items}:
            run = self.runs.get(batch_id)
            if run is None:
                continue
            if request.kind == "lookup":
                run.lookups_in_flight += 1
            if batch_id not in pair.batches:
                pair.batches.add(batch_id)
                self._log(
                    batch_id,
                    "PAIR_ASSIGNED",
                    f"Pair {pair.label} joined the batch",
                    proxy_id=pair.proxy_id,
                )
        self._spawn(self._execute(request), f"request-{pair.proxy_id[:8]}")

    async def _execute(self, request: Request) -> None:
        pair = request.pair
        with self.gate:
            live = [item for item in request.items if item.batch_id in self.active]
            for batch_id in {item.batch_id for item in live}:
                run = self.runs.get(batch_id)
                if run is not None:
                    run.requests_started += 1
                    run.requests_in_flight += 1
        counted = {item.batch_id for item in live}
        live_ids = {item.id for item in live}
        dropped = [item for item in request.items if item.id not in live_ids]
        outcome = CheckOutcome()
        cancelled = False
        try:
            for batch_id in {item.batch_id for item in dropped}:
                run = self.runs.get(batch_id)
                if run is not None:
                    self._release(run, [i for i in dropped if i.batch_id == batch_id])
            if live and pair.identity is None:
                # The pair lost its identity (secrets changed) between dispatch and send.
                self._requeue(live, self.clock())
                live = []
            if live:
                assert pair.identity is not None
                pair.health.begin_request(self.clock())
                try:
                    outcome = await self.checker.check(
                        pair.identity,
                        request.kind,
                        live,
                        dense_doc_id=None,  # engine-core passes settings.dense_doc_id
                        timeout=float(self.settings.proxy_test_timeout),
                    )
                except asyncio.CancelledError:
                    cancelled = True  # shutdown: the items are returned with every other lease
                    raise
                except Exception as exc:  # a checker bug must not lose the items
                    log.exception("checker failed")
                    outcome.failure = Transient(f"checker error: {type(exc).__name__}")
        finally:
            now = self.clock()
            self.pacer.complete(pair.proxy_id, request.kind, now, sent=bool(live))
            pair.busy = False
            self.sending[pair.proxy_id] -= 1
            if self.sending[pair.proxy_id] <= 0:
                del self.sending[pair.proxy_id]
            self.global_limits.in_flight -= 1
            with self.gate:
                for batch_id in counted:
                    run = self.runs.get(batch_id)
                    if run is not None:
                        run.requests_in_flight -= 1
            if request.kind == "lookup":
                for batch_id in {item.batch_id for item in request.items}:
                    run = self.runs.get(batch_id)
                    if run is not None:
                        run.lookups_in_flight -= 1
            if live and not cancelled:
                self._handle(request, live, outcome, now)
            for batch_id in {item.batch_id for item in request.items}:
                run = self.runs.get(batch_id)
                if run is not None:
                    self._forget_if_idle(run)
            self._wake()

    # ------------------------------------------------------------------ outcomes

    def _handle(
        self, request: Request, items: list[WorkItem], outcome: CheckOutcome, now: float
    ) -> None:
        pair = request.pair
        error = outcome.failure
        cls = classify(error)
        if cls is Classification.SUCCESS and any(i.id not in outcome.answers for i in items):
            error, cls = Transient("answer without every requested item"), Classification.TRANSIENT
        pair.health.record(cls, error, now, outcome.elapsed, self.policy, self.rng.random)
        processed_at = outcome.answered_at or now
        if cls is Classification.SUCCESS:
            finals: list[ItemOutcome] = []
            for item in items:
                answer = outcome.answers[item.id]
                if answer.not_found:
                    finals.append(
                        self._failed(item, pair, NOT_FOUND_ERROR, processed_at, not_found=True)
                    )
                elif request.kind == "lookup":
                    self._resolved(item, answer, now)
                else:
                    finals.append(self._completed(item, pair, answer, processed_at))
            self._record(finals)
            return
        assert error is not None
        if cls is Classification.NOT_FOUND:  # a checker that raised instead of answering
            self._record(
                [
                    self._failed(i, pair, NOT_FOUND_ERROR, processed_at, not_found=True)
                    for i in items
                ]
            )
            return
        if cls is Classification.TRANSIENT:
            self._transient(items, pair, error, processed_at)
            return
        if cls is Classification.TOO_MANY_IDS:
            if request.dense:
                self.dense_size = max(1, len(items) // 2)
            else:
                self.v1_size = max(1, len(items) // 2)
        elif cls is Classification.DENSE_UNAVAILABLE:
            self.dense_ok = False
            self.dense_retry_at = now + self.options.dense_retry_after
            for batch_id in {i.batch_id for i in items}:
                self._log(
                    batch_id,
                    "INFO",
                    f"GraphQL story query refused ({error.message}); using v1 reels_media",
                )
        elif cls is Classification.RATE_LIMITED:
            until = pair.health.cooldown_until or now
            for batch_id in {i.batch_id for i in items}:
                self._log(
                    batch_id,
                    "RATE_LIMITED",
                    f"Pair {pair.label} rate limited; cooling for {max(0.0, until - now):.0f}s, "
                    f"{len(items)} profile(s) go to another pair",
                    proxy_id=pair.proxy_id,
                )
        elif cls in (Classification.SESSION_INVALID, Classification.CHALLENGE):
            status = "invalid" if cls is Classification.SESSION_INVALID else "challenge"
            if pair.row.session_id:
                self.session_status[pair.row.session_id] = (status, pair.row.session_encrypted)
            self._refresh_usable()
            what = "logged out" if status == "invalid" else "challenged"
            for batch_id in {i.batch_id for i in items}:
                self._log(
                    batch_id,
                    "INFO",
                    f"Pair {pair.label} taken out: session {what} ({error.message})",
                    proxy_id=pair.proxy_id,
                )
        self._requeue(items, now)

    def _resolved(self, item: WorkItem, answer: ItemAnswer, now: float) -> None:
        item.ig_user_id = answer.ig_user_id
        item.is_private = answer.is_private
        item.resolved_now = True
        item.ready_since = now
        item.avoid_pair = None
        run = self.runs.get(item.batch_id)
        if run is None:
            return
        if run.closing or self.stopping:
            self._release(run, [item])
        else:
            run.ready.append(item)

    def _transient(self, items: list[WorkItem], pair: Pair, error: IgError, at: float) -> None:
        finals: list[ItemOutcome] = []
        retry: list[WorkItem] = []
        for item in items:
            item.attempts += 1
            item.last_error = error.message
            if item.attempts >= self.settings.max_attempts:
                finals.append(self._failed(item, pair, error.message, at))
            else:
                item.avoid_pair = pair.proxy_id
                retry.append(item)
        if retry:
            for batch_id in {i.batch_id for i in retry}:
                mine = [i for i in retry if i.batch_id == batch_id]
                self._log(
                    batch_id,
                    "RETRY",
                    f"{len(mine)} profile(s) retry on another pair after '{error.message}' on "
                    f"{pair.label} (attempt {mine[0].attempts + 1} of {self.settings.max_attempts})",
                    proxy_id=pair.proxy_id,
                )
            self._requeue(retry, self.clock())
        self._record(finals)

    def _requeue(self, items: Sequence[WorkItem], now: float) -> None:
        for item in reversed(items):
            run = self.runs.get(item.batch_id)
            if run is None or item.id not in run.held:
                continue
            if run.closing or self.stopping:
                self._release(run, [item])
            elif item.ig_user_id:
                run.ready.appendleft(item)
            else:
                run.lookups.appendleft(item)

    def _completed(self, item: WorkItem, pair: Pair, answer: ItemAnswer, at: float) -> ItemOutcome:
        return ItemOutcome(
            item=item,
            status=COMPLETED,
            processed_at=at,
            has_story=answer.has_story,
            story_count=answer.story_count,
            newest_taken_at=answer.newest_taken_at,
            expiring_at=answer.expiring_at,
            proxy_id=pair.proxy_id,
            session_id=pair.row.session_id,
        )

    def _failed(
        self, item: WorkItem, pair: Pair | None, error: str, at: float, *, not_found: bool = False
    ) -> ItemOutcome:
        return ItemOutcome(
            item=item,
            status=FAILED,
            processed_at=at,
            error=error,
            proxy_id=pair.proxy_id if pair else None,
            session_id=pair.row.session_id if pair else None,
            not_found=not_found,
        )

    # ------------------------------------------------------------------ recording

    def _record(self, outcomes: list[ItemOutcome]) -> None:
        if not outcomes:
            return
        assert self.record_wake is not None
        self.records.append(outcomes)
        self.record_wake.set()

    async def _record_loop(self) -> None:
        assert self.record_wake is not None
        while True:
            await self.record_wake.wait()
            self.record_wake.clear()
            while self.records:
                await self._record_some()

    async def _drain_records(self) -> None:
        while self.records:
            await self._record_some()

    async def _record_some(self) -> None:
        group = self.records[: self.options.record_group]
        del self.records[: len(group)]
        outcomes = [o for batch in group for o in batch]
        for attempt in range(20):
            try:
                report = await self._db(
                    self.recorder.record,
                    outcomes,
                    retention_hours=self.settings.story_retention_hours,
                    now=self.clock(),
                )
                break
            except Exception:
                log.exception(
                    "recording %d outcomes failed (attempt %d)", len(outcomes), attempt + 1
                )
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        else:
            # Give up: the leases expire and the items are checked again (never counted twice).
            report = None
        touched: set[str] = set()
        for outcome in outcomes:
            run = self.runs.get(outcome.item.batch_id)
            if run is not None:
                run.drop(outcome.item)
                touched.add(run.id)
        if report is not None:
            missed = len(outcomes) - len(report.recorded)
            if missed:
                log.info("%d outcome(s) arrived after their lease was gone; ignored", missed)
        for batch_id in touched:
            run = self.runs.get(batch_id)
            if run is not None:
                self._forget_if_idle(run)
        self._wake()

    # ------------------------------------------------------------------ background sync

    async def _maintain(self) -> None:
        assert self.flush_wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_wake.wait(), timeout=self.options.flush_interval)
            self.flush_wake.clear()
            try:
                await self._flush()
                now = self.clock()
                if now - self.last_refresh >= self.options.refresh_interval:
                    await self._refresh()
                if now - self.last_renew >= self.options.renew_interval:
                    await self._renew(now)
                if now - self.last_prune >= 300.0:
                    self.last_prune = now
                    keep = self.options.window_seconds + 180.0
                    self.ledger.prune(now, keep)
                    await self._db(self.recorder.prune_usage, before_minute=minute_of(now - keep))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("engine maintenance failed; retrying")
                await asyncio.sleep(0.5)

    async def _renew(self, now: float) -> None:
        self.last_renew = now
        tokens = {token for run in self.runs.values() for token in run.tokens}
        if tokens:
            await self._db(
                self.recorder.renew, tokens, lease_seconds=self.options.lease_seconds, now=now
            )

    async def _flush(self) -> None:
        now = self.clock()
        job = PersistJob(
            usage=self.ledger.wanted(now, self.limits),
            logs=self.logs,
            session_status=self.session_status,
        )
        self.logs = []
        self.session_status = {}
        writes: dict[str, PairWrite] = {}
        for pair in self.pairs.values():
            health = pair.health
            health.tick(now)
            job.events.extend(health.take_events())
            if not (health.counters_dirty or health.health_dirty):
                continue
            write = PairWrite(
                proxy_id=pair.proxy_id,
                session_id=pair.row.session_id,
                requests=health.requests,
                failures=health.failures,
                requests_this_hour=self.pacer.used(pair.proxy_id, "stories", now)
                + self.pacer.used(pair.proxy_id, "lookup", now),
                avg_response_ms=int(health.avg_response_ms),
                errors_since_success=health.errors_since_success,
                error_score=health.error_score,
                consecutive_failures=health.consecutive_failures,
                backoff_level=health.backoff_level,
                last_used=health.last_used,
                last_success=health.last_success,
                last_error=health.last_error,
            )
            if health.health_dirty:
                write.health = health.health
                write.expected_health = health.db_health
                write.cooldown_until = health.cooldown_until
            health.requests = 0
            health.failures = 0
            health.counters_dirty = False
            health.health_dirty = False
            writes[pair.proxy_id] = write
            job.pairs.append(write)
        try:
            report = await self._db(self.recorder.persist, job, now=now)
        except Exception:
            # Keep what must not be lost; counters are best effort.
            self.logs = job.logs + self.logs
            self.session_status = {**job.session_status, **self.session_status}
            for write in writes.values():
                owner = self.pairs.get(write.proxy_id)
                if owner is not None:
                    owner.health.requests += write.requests
                    owner.health.failures += write.failures
                    owner.health.counters_dirty = True
                    owner.health.health_dirty |= write.health is not None
            for event in reversed(job.events):
                owner = self.pairs.get(event.proxy_id)
                if owner is not None:
                    owner.health.events.insert(0, event)
            raise
        self.ledger.applied(job.usage)
        for proxy_id, health_value in report.health_written.items():
            written = self.pairs.get(proxy_id)
            if written is not None:
                written.health.db_health = health_value
        if report.health_conflicts:
            self.last_refresh = -INF  # adopt the API's value at once
        if job.usage:
            self._wake()

    async def _refresh(self, initial: bool = False) -> None:
        settings = await self._db(self.recorder.load_settings)
        rows = await self._db(self.recorder.load_pairs)
        admitted: set[str] = set()
        if self.pair_filter is not None:
            allowed = self.pair_filter({row.proxy_id for row in rows})
            rows = [row for row in rows if row.proxy_id in allowed]
            admitted = {row.proxy_id for row in rows} - set(self.pairs)
        since = minute_of(self.clock() - self.options.window_seconds) - 1
        if initial:
            usage = await self._db(self.recorder.load_usage, since_minute=since)
        elif admitted:
            # A pair handed over from another worker: its budget so far comes from the
            # persisted ledger, exactly as across a restart.
            usage = [
                bucket
                for bucket in await self._db(self.recorder.load_usage, since_minute=since)
                if bucket[0] in admitted
            ]
            for proxy_id in admitted:
                self.pacer.forget(proxy_id)
                self.ledger.forget(proxy_id)
        else:
            usage = []
        self.last_refresh = self.clock()
        self._apply_settings(settings)
        self._apply_pairs(rows)
        now = self.clock()
        for proxy_id in admitted:
            # The previous holder's last request may have started just now.
            self.pacer.not_before(proxy_id, now + self.limits.min_interval)
        if self.pair_filter is not None and not self.usable:
            self._release_waiting()
        for proxy_id, kind, minute, count in usage:
            if kind not in ("lookup", "stories"):
                continue
            self.pacer.restore(proxy_id, kind, restored_times(minute, count, now))  # type: ignore[arg-type]
            self.ledger.restore(proxy_id, kind, minute, count)
        self.loaded = True
        self._wake()

    def _policy(self) -> HealthPolicy:
        options = self.options
        return HealthPolicy(
            max_failures=max(1, self.settings.proxy_max_failures),
            cooldown_base=options.cooldown_base,
            cooldown_cap=options.cooldown_cap,
            min_cooldown=options.min_cooldown,
            open_cooldown=options.open_cooldown,
        )

    def _apply_settings(self, settings: EngineSettings) -> None:
        old = self.settings
        self.settings = settings
        self.limits = PacingLimits(
            stories_limit=max(1, settings.proxy_hourly_limit),
            lookup_limit=max(1, settings.lookup_hourly_limit),
            min_interval=max(0.0, settings.min_request_interval),
            window_seconds=self.options.window_seconds,
            margin=self.options.pacing_margin,
        )
        self.pacer.set_limits(self.limits)
        self.global_limits.configure(
            max_in_flight=max(1, settings.max_threads),
            checks_per_minute=max(0, settings.profiles_per_minute),
        )
        self.policy = self._policy()
        if settings.reel_ids_per_request != old.reel_ids_per_request or not self.loaded:
            self.v1_size = max(1, min(50, settings.reel_ids_per_request))

    def _apply_pairs(self, rows: Sequence[PairRow]) -> None:
        now = self.clock()
        seen: set[str] = set()
        for row in rows:
            seen.add(row.proxy_id)
            pair = self.pairs.get(row.proxy_id)
            if pair is None:
                identity, problem = build_identity(row, self.secrets)
                health = PairHealthState(
                    proxy_id=row.proxy_id,
                    session_id=row.session_id,
                    label=label_of(row),
                    health=row.health,
                    cooldown_until=row.cooldown_until.timestamp() if row.cooldown_until else None,
                    error_score=row.error_score,
                    consecutive_failures=row.consecutive_failures,
                    backoff_level=row.backoff_level,
                    db_health=row.health,
                    avg_response_ms=float(row.avg_response_time),
                )
                self.pairs[row.proxy_id] = Pair(
                    row.proxy_id, row, identity, health, problem=problem
                )
                self._report_problem(self.pairs[row.proxy_id], now)
                # Pairs that appear together would fire in lockstep forever (one wave every
                # min interval); a random first phase spreads their requests evenly.
                spread = self.limits.min_interval * self.rng.random()
                if spread > 0:
                    self.pacer.not_before(row.proxy_id, now + spread)
                continue
            if identity_fields(row) != identity_fields(pair.row):
                pair.identity, pair.problem = build_identity(row, self.secrets)
                self._report_problem(pair, now)
                pair.health.session_id = row.session_id
                pair.health.label = label_of(row)
                if row.session_encrypted != pair.row.session_encrypted:
                    pair.health.new_session(now)
            pair.row = row
            pair.health.adopt(
                row.health,
                row.cooldown_until.timestamp() if row.cooldown_until else None,
                now=now,
            )
        for proxy_id in [p for p in self.pairs if p not in seen]:
            pair = self.pairs.pop(proxy_id)
            self.pacer.forget(proxy_id)
            self.ledger.forget(proxy_id)
            if not pair.busy:
                self._spawn(self.checker.forget_pair(proxy_id), f"forget-{proxy_id[:8]}")
        self._refresh_usable()

    def _release_waiting(self) -> None:
        """Give back every leased item not in flight (no pair left to check them here)."""
        for run in list(self.runs.values()):
            waiting = list(run.lookups) + list(run.ready)
            run.lookups.clear()
            run.ready.clear()
            run.exhausted = {True: False, False: False}
            self._release(run, waiting)

    def _report_problem(self, pair: Pair, now: float) -> None:
        if pair.problem and pair.row.session_id is not None:
            log.warning("pair %s cannot be used: %s", pair.label, pair.problem)
            pair.health.events.append(
                PairEvent(pair.proxy_id, pair.row.session_id, now, f"pair unusable: {pair.problem}")
            )

    def _refresh_usable(self) -> None:
        self.usable = [
            p
            for p in self.pairs.values()
            if p.enabled and p.health.health not in (INVALID, CHALLENGE)
        ]
        if self.usable:
            for run in self.runs.values():
                run.idle_logged = False


def _has_resolved_now(queue: deque[WorkItem], size: int) -> bool:
    """True when the head of the story queue holds ids whose check was counted at lookup."""
    return any(item.resolved_now for _, item in zip(range(size), queue, strict=False))


def _take_from(queue: deque[WorkItem], pair_id: str, want: int, strict: bool) -> list[WorkItem]:
    """Pop up to `want` items, skipping those that should avoid `pair_id` (when `strict`)."""
    taken: list[WorkItem] = []
    skipped: list[WorkItem] = []
    while queue and len(taken) < want:
        item = queue.popleft()
        if strict and item.avoid_pair == pair_id:
            skipped.append(item)
            if len(skipped) > 4 * want + 64:
                break
            continue
        taken.append(item)
    queue.extendleft(reversed(skipped))
    return taken


__all__ = ["BatchRun", "Completer", "Request", "Scheduler"]
