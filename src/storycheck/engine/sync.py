"""The engine's background sync with the database: flush, refresh, renew, prune.

Every `flush_interval` (or sooner when woken) `BackgroundSync`:

* **flushes** what the hot path only kept in memory — usage reservations (`UsageLedger`),
  pair counters, health and learned budgets, session status, error-log events, batch logs —
  in one transaction (`Recorder.persist`); what a failed flush could not write is kept for
  the next one;
* **refreshes** pairs and settings every `refresh_interval`, so user changes apply while
  batches run (in distributed mode only the pairs `pair_filter` lets through, restoring the
  pacing budget of a pair handed over from another worker from the persisted ledger);
* **renews** item leases every `renew_interval` and **prunes** old usage buckets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import INF, minute_of, restored_times
from storycheck.engine.pairbook import PairBook
from storycheck.engine.pairs import Pair
from storycheck.engine.recorder import Recorder
from storycheck.engine.types import LogRow, PersistJob

log = logging.getLogger(__name__)

DbCall = Callable[..., Awaitable[Any]]


class SyncHost(Protocol):
    """What the background sync needs from the scheduler."""

    stopping: bool  # shutting down: it flushes one last time itself

    def take_logs(self) -> list[LogRow]:
        """Hand over the batch log rows collected since the last flush."""

    def keep_logs(self, logs: Sequence[LogRow]) -> None:
        """Take back log rows a failed flush could not write."""

    def lease_tokens(self) -> set[str]:
        """Lease tokens of every item held now."""

    def pairs_changed(self, gone: Sequence[Pair]) -> None:
        """Pairs were re-read; `gone` disappeared."""


class BackgroundSync:
    """Flush, refresh, renew and prune on a timer (event loop only)."""

    def __init__(
        self,
        *,
        host: SyncHost,
        book: PairBook,
        recorder: Recorder,
        db: DbCall,
        options: EngineOptions,
        clock: Callable[[], float],
        pair_filter: Callable[[set[str]], set[str]] | None,
        wake: Callable[[], None],
    ) -> None:
        self.host = host
        self.book = book
        self.recorder = recorder
        self.db = db
        self.options = options
        self.clock = clock
        self.pair_filter = pair_filter
        self.wake = wake
        self.event = asyncio.Event()
        self.last_refresh = -INF
        # A re-read was asked for (`refresh_soon`); cleared when a refresh starts reading, so a
        # request that arrives while one reads is not lost to it.
        self.refresh_wanted = False
        # Callers waiting for a re-read asked for after their change (`refresh_soon(applied)`):
        # resolved when a refresh that started after the request has applied what it read.
        self.refresh_waiters: list[concurrent.futures.Future[None]] = []
        self.refreshes = 0  # refreshes applied so far (tests wait on it; never goes back)
        self.last_renew = 0.0
        self.last_prune = 0.0

    def soon(self) -> None:
        """Run the next tick now."""
        self.event.set()

    def refresh_soon(self, applied: concurrent.futures.Future[None] | None = None) -> None:
        """Re-read pairs and settings at the next tick; `applied` is resolved once they are."""
        if applied is not None:
            self.refresh_waiters.append(applied)
        self.refresh_wanted = True
        self.event.set()

    async def run(self) -> None:
        """Tick until cancelled; a failing tick is logged and retried."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout=self.options.flush_interval)
            self.event.clear()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.host.stopping:
                    return  # its database thread may be gone; the shutdown flushes once more
                log.exception("engine maintenance failed; retrying")
                await asyncio.sleep(0.5)

    async def tick(self) -> None:
        """One round: flush; refresh, renew and prune when due."""
        await self.flush()
        now = self.clock()
        if self.refresh_wanted or now - self.last_refresh >= self.options.refresh_interval:
            await self.refresh()
        if now - self.last_renew >= self.options.renew_interval:
            await self.renew(now)
        if now - self.last_prune >= 300.0:
            self.last_prune = now
            keep = self.options.window_seconds + 180.0
            self.book.ledger.prune(now, keep)
            await self.db(self.recorder.prune_usage, before_minute=minute_of(now - keep))

    async def renew(self, now: float) -> None:
        """Push out the expiry of every lease held."""
        self.last_renew = now
        tokens = self.host.lease_tokens()
        if tokens:
            await self.db(
                self.recorder.renew, tokens, lease_seconds=self.options.lease_seconds, now=now
            )

    async def flush(self) -> None:
        """Persist what changed since the last flush (one transaction)."""
        now = self.clock()
        book = self.book
        book.recover(now)
        writes, events = book.pair_writes(now)
        job = PersistJob(
            usage=book.ledger.wanted(now, book.limits),
            pairs=writes,
            events=events,
            logs=self.host.take_logs(),
            session_status=book.session_status,
        )
        book.session_status = {}
        try:
            report = await self.db(self.recorder.persist, job, now=now)
        except Exception:
            # Keep what must not be lost; counters are best effort.
            self.host.keep_logs(job.logs)
            book.session_status = {**job.session_status, **book.session_status}
            book.writes_failed(writes, events)
            raise
        book.ledger.applied(job.usage)
        book.health_written(report.health_written)
        if report.health_conflicts:
            self.refresh_wanted = True  # adopt the API's value at once
        if job.usage:
            self.wake()

    async def refresh(self, initial: bool = False) -> None:
        """Re-read settings and pairs (and, at start, the persisted usage)."""
        self.refresh_wanted = False
        waiters, self.refresh_waiters = self.refresh_waiters, []
        try:
            await self._reread(initial)
        except BaseException:
            self.refresh_waiters[:0] = waiters  # the next refresh answers them
            raise
        for waiter in waiters:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                waiter.set_result(None)

    async def _reread(self, initial: bool) -> None:
        settings = await self.db(self.recorder.load_settings)
        rows = await self.db(self.recorder.load_pairs)
        book = self.book
        admitted: set[str] = set()
        if self.pair_filter is not None:
            allowed = self.pair_filter({row.proxy_id for row in rows})
            rows = [row for row in rows if row.proxy_id in allowed]
            admitted = {row.proxy_id for row in rows} - set(book.pairs)
        usage = await self._usage_to_restore(initial, admitted)
        self.last_refresh = self.clock()
        book.apply_settings(settings)
        now = self.clock()
        gone = book.apply_pairs(rows, now)
        for proxy_id in admitted:
            # The previous holder's last request may have started just now.
            book.pacer.not_before(proxy_id, now + book.limits.min_interval)
        for proxy_id, kind, minute, count in usage:
            if kind not in ("lookup", "stories"):
                continue
            book.pacer.restore(proxy_id, kind, restored_times(minute, count, now))  # type: ignore[arg-type]
            book.ledger.restore(proxy_id, kind, minute, count)
        book.loaded = True
        self.refreshes += 1
        self.host.pairs_changed(gone)
        self.wake()

    async def _usage_to_restore(
        self, initial: bool, admitted: set[str]
    ) -> list[tuple[str, str, int, int]]:
        """Persisted usage to count: all of it at start, a handed-over pair's otherwise."""
        since = minute_of(self.clock() - self.options.window_seconds) - 1
        if initial:
            return list(await self.db(self.recorder.load_usage, since_minute=since))
        if not admitted:
            return []
        # A pair handed over from another worker: its budget so far comes from the
        # persisted ledger, exactly as across a restart.
        usage = [
            bucket
            for bucket in await self.db(self.recorder.load_usage, since_minute=since)
            if bucket[0] in admitted
        ]
        for proxy_id in admitted:
            self.book.pacer.forget(proxy_id)
            self.book.ledger.forget(proxy_id)
        return usage


__all__ = ["BackgroundSync", "SyncHost"]
