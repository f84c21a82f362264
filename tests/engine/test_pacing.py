"""Pacing: sliding windows, minimum interval, global caps, and budget reservations."""

from __future__ import annotations

import math
import random

from storycheck.engine.pacing import (
    GlobalLimits,
    InMemoryPacer,
    PacingLimits,
    UsageLedger,
    minute_of,
    restored_times,
)

LIMITS = PacingLimits(
    stories_limit=3, lookup_limit=2, min_interval=1.0, window_seconds=60.0, margin=0.0
)


def send(pacer: InMemoryPacer, kind: str, at: float, done: float | None = None) -> None:
    assert pacer.next_free("p", kind, at) <= at  # type: ignore[arg-type]
    pacer.acquire("p", kind, at)  # type: ignore[arg-type]
    pacer.complete("p", kind, at if done is None else done)  # type: ignore[arg-type]


def test_one_request_in_flight_and_min_interval_between_starts() -> None:
    pacer = InMemoryPacer(LIMITS)
    assert pacer.next_free("p", "stories", 100.0) == 100.0
    pacer.acquire("p", "stories", 100.0)
    assert pacer.next_free("p", "stories", 100.5) == math.inf
    assert pacer.next_free("p", "lookup", 100.5) == math.inf  # one identity, one request
    pacer.complete("p", "stories", 100.2)
    assert pacer.next_free("p", "lookup", 100.3) == 101.0


def test_window_is_counted_from_when_answers_arrived() -> None:
    pacer = InMemoryPacer(LIMITS)
    send(pacer, "stories", 0.0, done=0.5)
    send(pacer, "stories", 1.0, done=1.2)
    send(pacer, "stories", 2.0, done=9.0)
    # The first answer came at 0.5: a fourth request may start when it left the window.
    assert pacer.next_free("p", "stories", 3.0) == 60.5
    assert pacer.used("p", "stories", 3.0) == 3
    assert pacer.used("p", "stories", 60.6) == 2


def test_one_budget_per_session_covers_lookups_and_story_requests() -> None:
    limits = PacingLimits(
        stories_limit=5, lookup_limit=2, min_interval=1.0, window_seconds=60.0, margin=0.0
    )
    pacer = InMemoryPacer(limits)
    send(pacer, "stories", 0.0, done=0.5)
    send(pacer, "lookup", 1.0)
    send(pacer, "lookup", 2.0)
    # Lookups keep their own, smaller cap inside the session budget.
    assert pacer.next_free("p", "lookup", 3.0) == 61.0
    send(pacer, "stories", 3.0)
    send(pacer, "stories", 4.0)
    # Five requests of any kind fill the session budget: stories wait for the oldest answer.
    assert pacer.next_free("p", "stories", 5.0) == 60.5
    # A learned, lower budget applies at once; None gives the setting back.
    pacer.set_pair_limit("p", 3)
    assert pacer.session_limit("p") == 3
    assert pacer.next_free("p", "stories", 5.0) == 62.0
    pacer.set_pair_limit("p", None)
    assert pacer.next_free("p", "stories", 5.0) == 60.5


def test_the_gap_between_a_pairs_requests_is_jittered_within_bounds() -> None:
    limits = PacingLimits(min_interval=10.0, jitter=0.4, stories_limit=10_000, margin=0.0)
    pacer = InMemoryPacer(limits, rng=random.Random(3))
    gaps = []
    now = 0.0
    for _ in range(400):
        at = pacer.next_free("p", "stories", now)
        gaps.append(at - now)
        pacer.acquire("p", "stories", at)
        pacer.complete("p", "stories", at)
        now = at
    gaps = gaps[1:]  # the first request has no predecessor
    assert all(6.0 <= gap <= 14.0 for gap in gaps)
    assert min(gaps) < 7.0 and max(gaps) > 13.0  # the whole ±40 % is used
    assert 9.5 <= sum(gaps) / len(gaps) <= 10.5  # centred on the interval
    assert PacingLimits(min_interval=2.0, jitter=0.0).gap(0.99) == 2.0


def test_restored_usage_is_counted_at_the_end_of_its_minute_or_now() -> None:
    now = 1000.0 * 60 + 30.0  # half-way through minute 1000
    pacer = InMemoryPacer(LIMITS)
    pacer.restore("p", "stories", restored_times(999, 2, now))  # ended at 60000
    pacer.restore("p", "stories", restored_times(1000, 1, now))  # still running: counted now
    assert pacer.used("p", "stories", now) == 3
    assert pacer.next_free("p", "stories", now) == 999 * 60 + 60 + 60.0


def test_global_limits_cap_checks_per_sliding_minute() -> None:
    limits = GlobalLimits(max_in_flight=2, checks_per_minute=100, burst=100)
    assert limits.checks_allowed(0.0) == (100, 0.0)
    limits.take_checks(60, 0.0)
    limits.take_checks(40, 36.0)  # the spread: 60 checks earn back in 36 s
    assert limits.checks_allowed(40.0) == (0, 60.0)  # full minute; the 40 owed until 59.4
    assert limits.checks_allowed(60.0) == (60, 60.0)  # the 60 of t=0 left the window
    unlimited = GlobalLimits(checks_per_minute=0)
    unlimited.take_checks(10**6, 0.0)
    assert unlimited.checks_allowed(0.0)[0] > 10**6


def test_global_limits_spread_checks_evenly_over_the_minute() -> None:
    """A greedy sender gets checks_per_minute in every minute, but never the whole minute's
    allowance at once: at most one story request's ids plus the even rate in any span."""
    limits = GlobalLimits(checks_per_minute=60, burst=20)
    starts: list[tuple[float, int]] = []
    for step in range(1800):  # 180 s in steps of 0.1 s; story requests of 20 and lookups
        now = step / 10
        allowed, _ = limits.checks_allowed(now)
        if allowed:
            count = min(allowed, 20 if step % 3 else 1)
            limits.take_checks(count, now)
            starts.append((now, count))
    total = sum(count for _, count in starts)
    assert 170 <= total <= 181  # one a second
    for begin in range(0, 180, 5):
        in_span = sum(c for t, c in starts if begin <= t < begin + 5)
        assert in_span <= 20 + 5  # no minute-sized step
    for begin in range(0, 121, 10):
        assert sum(c for t, c in starts if begin <= t < begin + 60) <= 60
    _, free_at = limits.checks_allowed(starts[-1][0])
    assert free_at > starts[-1][0]  # after a start, the next waits for its credit


def test_ledger_only_allows_what_is_already_persisted() -> None:
    ledger = UsageLedger(horizon=2.0, min_chunk=2, max_chunk=10)
    now = 600.0
    assert not ledger.allows("p", "stories", now)
    assert ledger.starved
    deltas = ledger.wanted(now, LIMITS)
    assert deltas == {("p", "stories", minute_of(now)): 2}
    ledger.applied(deltas)
    assert not ledger.starved
    for _ in range(2):
        assert ledger.allows("p", "stories", now)
        ledger.consume("p", "stories", now)
    assert not ledger.allows("p", "stories", now)  # both reserved requests used
    # A new minute needs its own reservation: a request is never booked into an earlier bucket.
    ledger.applied(ledger.wanted(now, LIMITS))
    assert ledger.allows("p", "stories", now)
    assert not ledger.allows("p", "stories", now + 60.0)


def test_ledger_reserves_ahead_near_the_end_of_a_minute() -> None:
    ledger = UsageLedger(horizon=2.0)
    now = 659.0  # one second before minute 11 starts
    ledger.allows("p", "lookup", now)
    deltas = ledger.wanted(now, LIMITS)
    assert set(deltas) == {("p", "lookup", 10), ("p", "lookup", 11)}


def test_ledger_restore_counts_persisted_requests_as_used() -> None:
    ledger = UsageLedger()
    ledger.restore("p", "stories", 10, 5)
    assert not ledger.allows("p", "stories", 600.0)
