"""The pool model (engine/pool_model.py): what binds a batch, its ETA, and the waiting reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from storycheck.engine.pool_model import (
    PairState,
    PoolSettings,
    Work,
    estimate,
    estimate_many,
    pool_picture,
    time_to,
    waiting_reason,
)

NOW = datetime(2025, 3, 1, 14, 2, tzinfo=UTC).timestamp()
HOUR = 3600.0
SETTINGS = PoolSettings(window_seconds=HOUR, margin=0.0, min_interval=2.0, group_size=20)


def pair(name: str, state: str = "ready", **changes: object) -> PairState:
    values: dict[str, object] = {
        "proxy_id": name,
        "state": state,
        "available_at": NOW,
        "session_budget": 150,
        "lookup_budget": 60,
    }
    values.update(changes)
    return PairState(**values)  # type: ignore[arg-type]


def at(hour: int, minute: int) -> float:
    return datetime(2025, 3, 1, hour, minute, tzinfo=UTC).timestamp()


def test_time_to_spends_what_is_left_then_earns_at_the_rate() -> None:
    assert time_to(0, []) == 0
    assert time_to(5, [(0.0, 10.0, 1.0)]) == 0  # inside the burst
    assert time_to(15, [(0.0, 10.0, 1.0)]) == pytest.approx(5.0)
    # A second pair joins after 10 s (its cooldown) with its own burst.
    assert time_to(40, [(0.0, 0.0, 1.0), (10.0, 10.0, 1.0)]) == pytest.approx(20.0)
    assert time_to(1, [(0.0, 0.0, 0.0)]) == float("inf")


def test_new_accounts_are_bound_by_lookups() -> None:
    pairs = [pair(f"p{i}") for i in range(4)]
    work = Work(pending=1000, unresolved=340)
    result = estimate(pairs, SETTINGS, work, NOW)
    assert result is not None
    assert result.bound == "lookups"
    assert result.bound_by == "bound by lookups: 340 new accounts"
    # 4 × 60 lookups at once, the remaining 117 (340 + 5 % "not found" confirmations) at
    # 4 × 60 an hour.
    assert result.seconds == pytest.approx((357 - 240) / (240 / HOUR))
    assert result.low <= result.seconds <= result.high
    assert result.low == pytest.approx((340 - 240) / (240 / HOUR))


def test_known_accounts_are_bound_by_the_gap_between_requests() -> None:
    pairs = [pair(f"p{i}") for i in range(4)]
    result = estimate(pairs, SETTINGS, Work(pending=1000), NOW)
    assert result is not None and result.bound == "interval"
    assert result.seconds == pytest.approx(50 / 4 * 2.0)  # 50 story requests of 20 ids
    slow = [replace(p, latency=4.0) for p in pairs]  # slower answers than the gap
    slower = estimate(slow, SETTINGS, Work(pending=1000), NOW)
    assert slower is not None and slower.seconds == pytest.approx(50 / 4 * 4.0)


def test_profiles_per_minute_binds_and_is_the_waiting_reason() -> None:
    pairs = [pair("p1")]
    settings = replace(SETTINGS, profiles_per_minute=60)
    work = Work(pending=600)
    result = estimate(pairs, settings, work, NOW)
    assert result is not None and result.bound == "profiles_per_minute"
    assert result.seconds == pytest.approx(600.0)
    assert result.bound_by == "bound by profiles_per_minute = 60"
    reason = waiting_reason(pairs, settings, work, NOW, result)
    assert reason is not None and reason.text == "paced: profiles_per_minute = 60"
    assert waiting_reason(pairs, SETTINGS, work, NOW, estimate(pairs, SETTINGS, work, NOW)) is None


def test_a_cooling_pair_starts_after_its_cooldown() -> None:
    cooling = [pair("p1", "cooling", available_at=NOW + 600)]
    result = estimate(cooling, SETTINGS, Work(pending=20), NOW)
    assert result is not None and result.seconds == pytest.approx(602.0)


def test_no_usable_pair_means_no_estimate() -> None:
    assert estimate([], SETTINGS, Work(pending=5), NOW) is None
    assert estimate([pair("p1", "invalid")], SETTINGS, Work(pending=5), NOW) is None
    assert estimate([], SETTINGS, Work(pending=0), NOW) is not None  # nothing left: 0 s


def test_batches_running_together_share_the_pool() -> None:
    pairs = [pair(f"p{i}") for i in range(2)]
    work = Work(pending=600, unresolved=600)
    alone = estimate(pairs, SETTINGS, work, NOW)
    shared = estimate_many(pairs, SETTINGS, {"a": work, "b": work}, NOW)
    assert alone is not None and shared["a"] is not None and shared["b"] is not None
    together = estimate(pairs, SETTINGS, Work(pending=1200, unresolved=1200), NOW)
    assert together is not None
    assert shared["a"].seconds == pytest.approx(together.seconds)
    small = estimate_many(pairs, SETTINGS, {"a": work, "b": Work(pending=60, unresolved=60)}, NOW)
    assert small["b"] is not None and small["a"] is not None
    assert small["b"].seconds < small["a"].seconds < together.seconds


def test_no_usable_pair_names_what_holds_each_pair() -> None:
    pairs = [
        pair("p1", "invalid"),
        pair("p2", "invalid"),
        pair("p3", "cooling", available_at=at(14, 5)),
    ]
    reason = waiting_reason(pairs, SETTINGS, Work(pending=4), NOW)
    assert reason is not None and reason.code == "no_usable_pair"
    assert reason.text == (
        "no usable pair: 2 invalid (new session needed), 1 cooling until 14:05 UTC (in 3 min)"
    )
    assert reason.until == at(14, 5)
    others = [pair("p1", "challenge"), pair("p2", "no_session"), pair("p3", "untested")]
    text, back = pool_picture(others, NOW)
    assert text == "1 challenge (needs a human), 1 without a session, 1 untested"
    assert back is None
    none = waiting_reason([], SETTINGS, Work(pending=4), NOW)
    assert none is not None
    assert none.text == "no usable pair: none configured (add a proxy + session)"


def test_spent_lookup_budget_is_the_waiting_reason_of_new_accounts() -> None:
    spent = [
        pair(f"p{i}", used_lookups=60, used_requests=60, lookups_free_at=at(14, 20))
        for i in range(2)
    ]
    work = Work(pending=400, unresolved=340)
    reason = waiting_reason(spent, SETTINGS, work, NOW)
    assert reason is not None and reason.code == "lookup_budget"
    assert reason.text == (
        "lookup budget exhausted until 14:20 UTC (in 18 min): 340 new accounts need a "
        "username lookup"
    )
    # Known accounts are not held by the lookup budget.
    assert waiting_reason(spent, SETTINGS, Work(pending=60), NOW) is None
    # The estimate waits for the window to free the first lookups.
    result = estimate(spent, SETTINGS, work, NOW)
    assert result is not None and result.seconds > at(14, 20) - NOW


def test_spent_request_budget_is_the_waiting_reason() -> None:
    spent = [pair("p1", used_requests=150, frees_at=at(15, 0))]
    reason = waiting_reason(spent, SETTINGS, Work(pending=60), NOW)
    assert reason is not None and reason.code == "request_budget"
    assert reason.text.startswith("request budget exhausted until 15:00 UTC (in 58 min)")
