"""Pair health: each classified answer's effect, backoff, circuit breaker, adoption."""

from __future__ import annotations

import math

import pytest

from storycheck.engine.errors import (
    ActionBlocked,
    AddressBlocked,
    Challenge,
    Classification,
    ClientRefused,
    LoginRequired,
    RateLimited,
    Transient,
    classify,
)
from storycheck.engine.health import HealthPolicy, PairHealthState

POLICY = HealthPolicy(
    max_failures=3, cooldown_base=10.0, cooldown_cap=100.0, min_cooldown=1.0, open_cooldown=20.0
)


def fresh() -> PairHealthState:
    return PairHealthState(proxy_id="p", session_id="s", label="http://h:1")


def fail(state: PairHealthState, error: Exception, at: float, rng: float = 0.5) -> None:
    state.record(classify(error), error, at, 0.1, POLICY, lambda: rng)  # type: ignore[arg-type]


def test_backoff_is_full_jitter_exponential_floored_and_capped() -> None:
    assert POLICY.backoff(0, base=10.0, retry_after=None, rng=lambda: 0.5) == 5.0
    assert POLICY.backoff(3, base=10.0, retry_after=None, rng=lambda: 0.5) == 40.0
    assert POLICY.backoff(3, base=10.0, retry_after=None, rng=lambda: 0.0) == 1.0  # floor
    assert POLICY.backoff(20, base=10.0, retry_after=None, rng=lambda: 1.0) == 100.0  # cap
    assert (
        POLICY.backoff(0, base=10.0, retry_after=30.0, rng=lambda: 0.5) == 30.0
    )  # Retry-After wins
    assert POLICY.backoff(0, base=10.0, retry_after=500.0, rng=lambda: 0.5) == 500.0


def test_rate_limit_cools_the_pair_down_then_it_is_ready_again() -> None:
    state = fresh()
    fail(state, RateLimited("429", retry_after=7.0), at=100.0)
    assert state.health == "cooling"
    assert state.cooldown_until == 107.0
    assert state.available_at(101.0) == 107.0
    assert state.backoff_level == 1
    state.tick(106.0)
    assert state.health == "cooling"
    state.tick(107.0)
    assert state.health == "ready"
    events = state.take_events()
    assert [e.transition_reason.split(":")[0] for e in events if e.state_change] == [  # type: ignore[union-attr]
        "ready → cooling",
        "cooling → ready",
    ]
    assert events[0].recovery_at == 107.0


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (RateLimited("429", retry_after=7.0), "rate limit"),
        (AddressBlocked("HTTP 403 from the edge"), "address block"),
        (ActionBlocked("feedback_required"), "action block"),
        (ClientRefused("unsupported_version"), "client version refusal"),
    ],
)
@pytest.mark.parametrize("ends_by", ["tick", "begin_request"])
def test_the_end_of_a_cooldown_names_what_it_was_for(
    error: Exception, name: str, ends_by: str
) -> None:
    state = fresh()
    fail(state, error, at=100.0)
    assert state.health == "cooling" and state.cooldown_until is not None
    getattr(state, ends_by)(state.cooldown_until)
    assert state.health == "ready"
    ended = [e for e in state.take_events() if e.state_change][-1]
    assert ended.transition_reason == f"cooling → ready: {name} cooldown ended"


def test_a_cooldown_the_engine_did_not_see_begin_ends_without_a_cause() -> None:
    state = fresh()
    fail(state, RateLimited("429", retry_after=7.0), at=100.0)
    state.adopt("cooling", 150.0, now=101.0)  # set again through the API (or read back)
    state.tick(150.0)
    ended = [e for e in state.take_events() if e.state_change][-1]
    assert ended.transition_reason == "cooling → ready: cooldown ended"


def test_repeated_rate_limits_back_off_longer() -> None:
    state = fresh()
    delays = []
    at = 0.0
    for _ in range(4):
        fail(state, RateLimited("wait"), at=at, rng=1.0)
        assert state.cooldown_until is not None
        delays.append(state.cooldown_until - at)
        at = state.cooldown_until
        state.begin_request(at)
    assert delays == [10.0, 20.0, 40.0, 80.0]


def test_login_required_and_challenge_take_the_pair_out() -> None:
    state = fresh()
    fail(state, LoginRequired("login_required"), at=1.0)
    assert state.health == "invalid" and state.available_at(1e9) == math.inf
    other = fresh()
    fail(other, Challenge("checkpoint_required", "checkpoint_required"), at=1.0)
    assert other.health == "challenge" and other.available_at(1e9) == math.inf
    other.new_session(5.0)
    assert other.health == "ready"


def test_circuit_opens_after_consecutive_transport_errors_and_probes_half_open() -> None:
    state = fresh()
    fail(state, Transient("timeout"), at=0.0)
    fail(state, Transient("timeout"), at=1.0)
    assert state.health == "ready" and state.consecutive_failures == 2
    fail(state, Transient("timeout"), at=2.0)
    assert state.health == "open"
    assert state.cooldown_until == 12.0  # open_cooldown 20 × jitter 0.5
    assert state.available_at(5.0) == 12.0
    state.begin_request(12.0)  # the half-open probe
    assert state.probing and state.available_at(12.5) == math.inf
    fail(state, Transient("timeout"), at=13.0)  # probe fails: open again, longer
    assert state.health == "open" and state.cooldown_until == 33.0
    state.begin_request(33.0)
    state.record(Classification.SUCCESS, None, 34.0, 0.1, POLICY)
    assert state.health == "ready" and state.consecutive_failures == 0
    reasons = [e.transition_reason for e in state.take_events() if e.state_change]
    assert reasons[0].startswith("ready → open") and reasons[-1].startswith("open → ready")  # type: ignore[union-attr]


def test_success_decays_error_score_and_every_failure_is_logged() -> None:
    state = fresh()
    fail(state, Transient("HTTP 500"), at=0.0)
    fail(state, Transient("HTTP 502"), at=1.0)
    assert state.error_score == 2.0
    state.record(Classification.SUCCESS, None, 2.0, 0.2, POLICY)
    assert state.error_score == 1.0
    assert [e.message for e in state.take_events()] == ["HTTP 500", "HTTP 502"]
    assert state.requests == 3 and state.failures == 2


def test_a_health_change_made_through_the_api_is_adopted() -> None:
    state = fresh()
    fail(state, LoginRequired("login_required"), at=0.0)
    state.db_health = "invalid"  # the engine wrote it
    assert not state.adopt("invalid", None, now=1.0)  # our own value: nothing to adopt
    assert state.adopt("ready", None, now=2.0)  # the user replaced the session
    assert state.health == "ready" and state.available_at(2.0) == 2.0
    assert state.adopt("disabled", None, now=3.0)
    assert state.available_at(3.0) == math.inf
