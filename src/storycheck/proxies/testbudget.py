"""A pair test's one lookup, taken from the pair's pacing budget like an engine request.

* With the check engine in this process (`storycheck serve`), `EngineBudget` borrows the pair
  from the engine's own pacer (`WorkerPool.lend_pair`, see `engine.lending`): the pair must
  be idle, its gap since the last request passed, and the lookup must fit its window budget
  (session budget — learned or set — and the lookup cap inside it). The engine counts the
  test in the pair's window like its own request.
* Otherwise — the engine switched off, an in-process CLI command, or distributed mode, where
  `storycheck worker`s pace the pairs — `LedgerBudget` decides from the database: the usage
  ledger (`proxy_usage`, whose reservations are never below what was really sent), the pair's
  learned limit, and its last request (`last_used`, `last_tested_at`) for the gap.

Both book the lookup in the ledger (+1 in the current minute), so an engine that starts later,
or a worker that takes the pair over, counts it as sent. Known limit: an engine in another
process (a `storycheck worker` holding the pair, or an in-process `storycheck check` on the same
SQLite file) reads the ledger only when it starts or takes the pair over, so a test in the very
minute that engine spends the window's last request can be one request over that window's
budget.

A test waits up to `WAIT_SECONDS` for its slot (a request in flight, the gap); a budget that
frees later refuses the test with the time it frees (`Grant.retry_at`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from storycheck.db import Database
from storycheck.engine.lending import LoanAnswer
from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import Kind, minute_of
from storycheck.engine.pool import WorkerPool
from storycheck.engine.types import EngineSettings
from storycheck.proxies.models import Proxy, ProxyUsage

WAIT_SECONDS = 15.0  # how long a test may wait for its pair's next slot
KIND: Kind = "lookup"  # a test is one username lookup
USAGE = cast(Table, ProxyUsage.__table__)


@dataclass(frozen=True)
class Grant:
    """A test's slot: granted (with how much of the budget is used), or refused and why."""

    granted: bool
    note: str  # human words: the budget after this lookup, or why it may not be sent now
    retry_at: float | None = None  # unix time the pair may send again (refused by its budget)


class PairBudget(Protocol):
    """Where a pair test takes its one request from."""

    async def take(self, proxy_id: str) -> Grant:
        """Take one lookup of the pair's budget (waiting a little for it), or refuse."""

    async def give_back(self, proxy_id: str) -> None:
        """The lookup ended (it counts as sent from now)."""


def window_words(seconds: float) -> str:
    """'hour' for the production window, else the compressed window's length."""
    return "hour" if seconds == 3600 else f"{seconds:g}-second window"


def grant_for(answer: LoanAnswer, window: float) -> Grant:
    """A loan answer (engine or ledger) in words."""
    span = window_words(window)
    if answer.granted:
        return Grant(
            True,
            f"{answer.used} of {answer.limit} lookups and {answer.session_used} of "
            f"{answer.session_limit} requests used in the pair's {span}",
        )
    if answer.reason == "budget" and answer.retry_at is not None:
        when = time.strftime("%H:%M:%S", time.localtime(answer.retry_at))
        return Grant(
            False,
            f"not sent: the pair's budget allows its next lookup at {when} (its {span}'s "
            "requests are spent, or its gap between requests has not passed)",
            answer.retry_at,
        )
    if answer.reason == "starting":
        return Grant(False, "not sent: the check engine is still starting; try again")
    if answer.reason == "gone":
        return Grant(False, "not sent: the pair was deleted")
    return Grant(False, f"not sent: the pair stayed busy for {WAIT_SECONDS:g} s; try again")


class EngineBudget:
    """Borrow the pair from the in-process engine's pacer."""

    def __init__(self, pool: WorkerPool, db: Database, options: EngineOptions) -> None:
        self.pool = pool
        self.db = db
        self.window = options.window_seconds

    async def take(self, proxy_id: str) -> Grant:
        """Wait for the pair's next slot in the engine (at most `WAIT_SECONDS`)."""
        future = self.pool.lend_pair(proxy_id, KIND, wait=WAIT_SECONDS)
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(future), WAIT_SECONDS + 5)
        except (TimeoutError, concurrent.futures.CancelledError):
            future.add_done_callback(self._return_if_granted(proxy_id))
            return Grant(False, "not sent: the check engine did not answer; try again")
        if answer.granted:
            await asyncio.to_thread(book_usage, self.db, proxy_id, time.time())
        return grant_for(answer, self.window)

    async def give_back(self, proxy_id: str) -> None:
        """Hand the pair back to the engine; the lookup counts in its window from now."""
        self.pool.return_pair(proxy_id, KIND, sent=True)

    def _return_if_granted(
        self, proxy_id: str
    ) -> Callable[[concurrent.futures.Future[LoanAnswer]], None]:
        def done(future: concurrent.futures.Future[LoanAnswer]) -> None:
            if not future.cancelled() and future.exception() is None and future.result().granted:
                self.pool.return_pair(proxy_id, KIND, sent=False)

        return done


class LedgerBudget:
    """Decide from the persisted usage ledger (no engine in this process)."""

    def __init__(self, db: Database, settings: EngineSettings, options: EngineOptions) -> None:
        self.db = db
        self.settings = settings
        self.window = options.window_seconds

    async def take(self, proxy_id: str) -> Grant:
        """Book the lookup when the ledger and the gap allow it (waiting a little for them)."""
        deadline = time.time() + WAIT_SECONDS
        while True:
            now = time.time()
            answer = await asyncio.to_thread(self._take_now, proxy_id, now)
            retry_at = answer.retry_at
            if answer.granted or answer.reason != "budget" or retry_at is None:
                return grant_for(answer, self.window)
            if retry_at > deadline:
                return grant_for(answer, self.window)
            await asyncio.sleep(max(0.0, retry_at - now))

    async def give_back(self, proxy_id: str) -> None:
        """Nothing to return: the ledger already counts the lookup."""

    def _take_now(self, proxy_id: str, now: float) -> LoanAnswer:
        settings = self.settings
        with self.db.write() as session:
            proxy = session.get(Proxy, proxy_id, with_for_update=not self.db.is_sqlite)
            if proxy is None:
                return LoanAnswer(False, "gone")
            conn = session.connection()
            buckets = conn.execute(
                select(USAGE.c.kind, USAGE.c.minute, USAGE.c.requests)
                .where(
                    USAGE.c.proxy_id == proxy_id,
                    USAGE.c.minute >= minute_of(now - self.window),
                )
                .order_by(USAGE.c.minute)
            ).all()
            configured = max(1, settings.proxy_hourly_limit)
            learned = proxy.learned_hourly_limit
            session_limit = configured if learned is None else max(1, min(configured, learned))
            lookup_limit = min(max(1, settings.lookup_hourly_limit), session_limit)
            every = [(int(b.minute), int(b.requests)) for b in buckets]
            lookups = [(m, n) for (m, n), b in zip(every, buckets, strict=True) if b.kind == KIND]
            used_all = sum(n for _, n in every)
            used_lookups = sum(n for _, n in lookups)
            if used_all + 1 > session_limit:
                frees = _frees_at(every, used_all + 1 - session_limit, self.window)
                return LoanAnswer(False, "budget", frees)
            if used_lookups + 1 > lookup_limit:
                frees = _frees_at(lookups, used_lookups + 1 - lookup_limit, self.window)
                return LoanAnswer(False, "budget", frees)
            last = max(
                (t.timestamp() for t in (proxy.last_used, proxy.last_tested_at) if t is not None),
                default=None,
            )
            if last is not None and now < last + settings.min_request_interval:
                return LoanAnswer(False, "budget", last + settings.min_request_interval)
            _add_usage(conn, proxy_id, minute_of(now), is_postgres=not self.db.is_sqlite)
        return LoanAnswer(
            True,
            used=used_lookups + 1,
            limit=lookup_limit,
            session_used=used_all + 1,
            session_limit=session_limit,
        )


def book_usage(db: Database, proxy_id: str, now: float) -> None:
    """Count one lookup of the pair in the ledger's current minute."""
    with db.write() as session:
        if session.get(Proxy, proxy_id) is not None:
            _add_usage(session.connection(), proxy_id, minute_of(now), is_postgres=not db.is_sqlite)


def _add_usage(conn: Connection, proxy_id: str, minute: int, *, is_postgres: bool) -> None:
    insert = (postgresql.insert if is_postgres else sqlite.insert)(USAGE)
    statement = insert.values(proxy_id=proxy_id, kind=KIND, minute=minute, requests=1)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[USAGE.c.proxy_id, USAGE.c.kind, USAGE.c.minute],
            set_={"requests": USAGE.c.requests + 1},
        )
    )


def _frees_at(buckets: list[tuple[int, int]], excess: int, window: float) -> float:
    """When `excess` requests of these minute buckets (oldest first) have left the window."""
    left = excess
    for minute, count in buckets:
        left -= count
        if left <= 0:
            return (minute + 1) * 60.0 + window
    return time.time() + window


def budget_for(
    pool: WorkerPool | None, db: Database, settings: EngineSettings, options: EngineOptions
) -> PairBudget:
    """The engine's pacer when it runs in this process, else the database ledger."""
    if pool is not None and pool.is_running:
        return EngineBudget(pool, db, options)
    return LedgerBudget(db, settings, options)
