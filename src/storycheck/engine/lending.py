"""Lending a pair to one request outside the batches (a pair test), paced like the engine's own.

A loan takes the pair's next slot from the scheduler's own pacer, exactly as `Scheduler._start`
does for a batch request: the pair must be idle (one request in flight per pair), its gap since
the last request must have passed, and the request must fit its window budget — the session
budget (the setting, or the lower one the engine learned) and the lookup cap inside it. While
lent the pair is busy, so the planner does not start a batch request on it; when the loan ends
the request is counted in the pair's window from that moment (`Pacer.complete`), so the engine
can never send more than the budget allows around it.

A loan is no engine work: no item, batch counter, global in-flight slot or pair health is
touched. Loop thread only; `WorkerPool.lend_pair` / `return_pair` are the thread-safe doors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from storycheck.engine.pacing import INF, Kind
from storycheck.engine.pairbook import PairBook

POLL_SECONDS = 0.05  # how often a waiting loan looks again while the pair is busy


@dataclass(frozen=True)
class LoanAnswer:
    """Whether a pair was lent, and its budget as the engine counts it."""

    granted: bool
    reason: str = ""  # when refused: "busy", "budget" or "starting"
    retry_at: float | None = None  # unix time the pair may send next (refused for "budget")
    used: int = 0  # requests of the loan's kind in the pair's window (this one included)
    limit: int = 0  # the window budget of that kind (lookups: the cap inside the session budget)
    session_used: int = 0  # requests of every kind in the window (this one included)
    session_limit: int = 0  # the pair's session budget (learned, or the setting)


class Lender(Protocol):
    """What a loan needs from the scheduler (its pair book, the send counts, the wake-up)."""

    book: PairBook
    wake: asyncio.Event | None

    @property
    def loaded(self) -> bool:
        """True once pairs, settings and the persisted usage were read."""


def try_lend(
    lender: Lender, proxy_id: str, kind: Kind, now: float, *, reserved: bool = False
) -> LoanAnswer:
    """Lend the pair now when its pacing allows one `kind` request (loop only).

    `reserved`: the caller already holds the pair busy (waiting for its gap), see `lend`.
    """
    book = lender.book
    if not lender.loaded:
        return LoanAnswer(False, "starting")
    pair = book.pairs.get(proxy_id)
    if pair is not None and pair.busy and not reserved:
        return LoanAnswer(False, "busy", INF)
    at = book.pacer.next_free(proxy_id, kind, now)
    if at > now:
        return LoanAnswer(False, "busy" if at == INF else "budget", at)
    if pair is not None:
        pair.busy = True
        pair.last_start = now
    book.pacer.acquire(proxy_id, kind, now)
    return _answer(lender, proxy_id, kind, now)


def give_back(lender: Lender, proxy_id: str, kind: Kind, now: float, *, sent: bool) -> None:
    """End a loan: count the request in the pair's window at `now` (unless never sent)."""
    lender.book.pacer.complete(proxy_id, kind, now, sent=sent)
    _release(lender, proxy_id)


async def lend(
    lender: Lender, proxy_id: str, kind: Kind, *, wait: float, clock: Callable[[], float]
) -> LoanAnswer:
    """Lend the pair as soon as it may send, waiting at most `wait` seconds (loop only).

    A pair in flight is polled until idle; an idle pair whose gap or window has not passed
    yet is held busy until then, so the loan is its next request (the planner would
    otherwise win every race for the moment the gap ends).
    """
    deadline = clock() + max(0.0, wait)
    reserved = False
    try:
        while True:
            now = clock()
            answer = try_lend(lender, proxy_id, kind, now, reserved=reserved)
            if answer.granted:
                reserved = False  # the loan holds the pair now
                return answer
            if answer.reason == "budget" and answer.retry_at is not None:
                if answer.retry_at > deadline:
                    return answer
                pair = lender.book.pairs.get(proxy_id)
                if pair is not None and not reserved:
                    pair.busy = reserved = True
                await asyncio.sleep(max(0.0, answer.retry_at - now))
                continue
            if now + POLL_SECONDS > deadline:
                return answer
            await asyncio.sleep(POLL_SECONDS)
    finally:
        if reserved:
            _release(lender, proxy_id)


def _release(lender: Lender, proxy_id: str) -> None:
    pair = lender.book.pairs.get(proxy_id)
    if pair is not None:
        pair.busy = False
    if lender.wake is not None:
        lender.wake.set()  # the pair may serve a batch again


def _answer(lender: Lender, proxy_id: str, kind: Kind, now: float) -> LoanAnswer:
    book = lender.book
    session_limit = _session_limit(book, proxy_id)
    limit = session_limit if kind == "stories" else min(book.limits.lookup_limit, session_limit)
    return LoanAnswer(
        True,
        used=book.pacer.used(proxy_id, kind, now),
        limit=limit,
        session_used=book.sent_in_window(proxy_id, now),
        session_limit=session_limit,
    )


def _session_limit(book: PairBook, proxy_id: str) -> int:
    learned = book.adaptive.get(proxy_id)
    return book.limits.stories_limit if learned is None else learned.current


__all__ = ["LoanAnswer", "give_back", "lend", "try_lend"]
