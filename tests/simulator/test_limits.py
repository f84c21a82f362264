"""Sliding-window limits per session and per address, and the referee's record of them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import Limit, LimitsConfig, SimulatorServer, user_id_for

from .conftest import FakeClock, instagram_client

PROFILE = "/api/v1/users/web_profile_info/"
REELS = "/api/v1/feed/reels_media/"
PLEASE_WAIT = {
    "message": "Please wait a few minutes before you try again.",
    "require_login": True,
    "status": "fail",
}


def lookup(client: httpx.Client) -> httpx.Response:
    return client.get(PROFILE, params={"username": "user00001"})


def stories(client: httpx.Client) -> httpx.Response:
    return client.get(REELS, params={"reel_ids": user_id_for("user00001")})


def session_limits(requests: int, window: float) -> LimitsConfig:
    limit = Limit(requests, window)
    return LimitsConfig(True, limit, limit, None, None)


def test_sixth_request_in_the_window_is_refused_and_is_a_violation(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(limits=session_limits(5, 1.0))
    with instagram_client(sim) as client:
        assert [lookup(client).status_code for _ in range(5)] == [200] * 5
        refused = lookup(client)
        assert refused.status_code == 401 and refused.json() == PLEASE_WAIT
        assert lookup(client).status_code == 401
        clock.advance(0.5)
        assert lookup(client).status_code == 401
        clock.advance(0.5)
        assert lookup(client).status_code == 200
    stats = httpx.get(sim.base_url + "/__sim__/stats").json()
    session = stats["sessions"][sim.session_ids[0]]
    assert (session["total"], session["ok"], session["rate_limited"]) == (9, 6, 3)
    assert session["violations"] == 3 and stats["violations"]["count"] == 3
    sample = stats["violations"]["samples"][0]
    assert sample["scope"] == "session" and sample["category"] == "profile"
    assert sample["limit"] == 5 and sample["window_seconds"] == 1.0
    assert sample["session"] == sim.session_ids[0] and sample["endpoint"] == "web_profile_info"


def test_window_slides_rather_than_resetting(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(limits=session_limits(3, 10.0))
    with instagram_client(sim) as client:
        lookup(client)
        clock.advance(6)
        lookup(client)
        lookup(client)
        assert lookup(client).status_code == 401
        clock.advance(4)
        assert lookup(client).status_code == 200
        assert lookup(client).status_code == 401
        clock.advance(6)
        assert [lookup(client).status_code for _ in range(3)] == [200, 200, 401]


def test_a_paced_client_is_never_refused(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(limits=session_limits(5, 1.0))
    with instagram_client(sim) as client:
        for _ in range(30):
            assert lookup(client).status_code == 200
            clock.advance(0.2)
    assert httpx.get(sim.base_url + "/__sim__/stats").json()["violations"]["count"] == 0


def test_lookups_and_story_reads_have_separate_budgets(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    limits = LimitsConfig(True, Limit(2, 60), Limit(4, 60), None, None)
    sim = make_sim(limits=limits)
    with instagram_client(sim) as client:
        assert [lookup(client).status_code for _ in range(3)] == [200, 200, 401]
        assert [stories(client).status_code for _ in range(5)] == [200] * 4 + [401]
        graphql = client.get("/graphql/query/", params={"query_hash": "x"})
        assert graphql.status_code == 401


def test_each_session_has_its_own_budget(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(limits=session_limits(2, 60))
    first, second = sim.session_ids
    with instagram_client(sim, session=first) as a, instagram_client(sim, session=second) as b:
        assert [lookup(a).status_code for _ in range(3)] == [200, 200, 401]
        assert [lookup(b).status_code for _ in range(2)] == [200, 200]
    stats = httpx.get(sim.base_url + "/__sim__/stats").json()
    assert stats["sessions"][first]["violations"] == 1
    assert stats["sessions"][second]["violations"] == 0


def test_address_limit_spans_sessions(make_sim: Callable[..., SimulatorServer]) -> None:
    limits = LimitsConfig(True, None, None, Limit(3, 60), None)
    sim = make_sim(limits=limits, sessions=3)
    codes = []
    for session in sim.session_ids:
        with instagram_client(sim, session=session) as client:
            codes.append(lookup(client).status_code)
            codes.append(lookup(client).status_code)
    assert codes == [200, 200, 200, 401, 401, 401]
    stats = httpx.get(sim.base_url + "/__sim__/stats").json()
    assert stats["addresses"]["127.0.0.1"]["violations"] == 3
    assert {s["scope"] for s in stats["violations"]["samples"]} == {"address"}


def test_refused_requests_do_not_extend_the_window(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(limits=session_limits(1, 5))
    with instagram_client(sim) as client:
        lookup(client)
        for _ in range(4):
            clock.advance(1)
            assert lookup(client).status_code == 401
        clock.advance(1)
        assert lookup(client).status_code == 200


@pytest.mark.parametrize("status", ["401", "429"])
def test_rate_limit_status_is_configurable(
    make_sim: Callable[..., SimulatorServer], status: str
) -> None:
    sim = make_sim(limits=session_limits(1, 60), rate_limit_status=status)
    with instagram_client(sim) as client:
        lookup(client)
        refused = lookup(client)
    assert refused.status_code == int(status) and refused.json() == PLEASE_WAIT


def test_mixed_rate_limit_status_uses_both(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(limits=session_limits(1, 60), rate_limit_status="mix")
    with instagram_client(sim) as client:
        lookup(client)
        statuses = {lookup(client).status_code for _ in range(30)}
    assert statuses == {401, 429}


def test_retry_after_tells_when_room_returns(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(limits=session_limits(1, 60), retry_after=True, rate_limit_status="429")
    with instagram_client(sim) as client:
        lookup(client)
        clock.advance(20.5)
        refused = lookup(client)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "40"


def test_limits_can_be_disabled(make_sim: Callable[..., SimulatorServer]) -> None:
    limits = LimitsConfig.uniform(1, 60)
    limits.enabled = False
    sim = make_sim(limits=limits)
    with instagram_client(sim) as client:
        assert {lookup(client).status_code for _ in range(10)} == {200}


def test_reset_clears_windows_and_stats(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(limits=session_limits(1, 60))
    with instagram_client(sim) as client:
        lookup(client)
        assert lookup(client).status_code == 401
        assert httpx.post(sim.base_url + "/__sim__/reset").status_code == 200
        stats = httpx.get(sim.base_url + "/__sim__/stats").json()
        assert stats["total"]["total"] == 0 and stats["violations"] == {"count": 0, "samples": []}
        assert lookup(client).status_code == 200


def test_default_limits_are_instagram_like() -> None:
    limits = LimitsConfig()
    assert limits.enabled
    assert limits.session_profile == Limit(200, 3600)
    assert limits.session_stories == Limit(200, 3600)


def test_limit_parsing() -> None:
    assert Limit.parse("200/3600") == Limit(200, 3600)
    assert Limit.parse("10/2s") == Limit(10, 2)
    assert Limit.parse("200/1h") == Limit(200, 3600)
    assert Limit.parse("off") is None
    with pytest.raises(ValueError):
        Limit.parse("ten per minute")


def test_session_total_is_one_budget_over_every_endpoint_set_at_run_time(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    limits = LimitsConfig(True, Limit(100, 60), Limit(100, 60), None, None)
    sim = make_sim(limits=limits)
    first, second = sim.session_ids
    answer = httpx.post(sim.base_url + "/__sim__/limits", json={"session_total": "3/10s"})
    assert answer.status_code == 200
    assert answer.json()["session_total"] == {"requests": 3, "window_seconds": 10.0}
    assert answer.json()["session_profile"] == {"requests": 100, "window_seconds": 60.0}
    with instagram_client(sim, session=first) as a, instagram_client(sim, session=second) as b:
        codes = [lookup(a).status_code, stories(a).status_code, lookup(a).status_code]
        assert codes == [200, 200, 200]
        assert stories(a).status_code == 401 and lookup(a).status_code == 401
        assert lookup(b).status_code == 200
        clock.advance(10)
        assert stories(a).status_code == 200
        # Lowering a limit applies to the windows already filled; "off" lifts it.
        httpx.post(sim.base_url + "/__sim__/limits", json={"session_total": None})
        assert [lookup(a).status_code for _ in range(4)] == [200] * 4
    stats = httpx.get(sim.base_url + "/__sim__/stats").json()
    assert stats["violations"]["count"] == 2
    assert {s["category"] for s in stats["violations"]["samples"]} == {"total"}
    assert stats["sessions"][first]["violations"] == 2


def test_limits_endpoint_changes_every_scope_and_validates(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    sim = make_sim(limits=session_limits(5, 60))
    url = sim.base_url + "/__sim__/limits"
    assert httpx.get(url).json()["session_total"] is None
    changed = httpx.post(
        url,
        json={"session_profile": "1/1m", "address_stories": {"requests": 7, "window_seconds": 3}},
    ).json()
    assert changed["session_profile"] == {"requests": 1, "window_seconds": 60.0}
    assert changed["address_stories"] == {"requests": 7, "window_seconds": 3.0}
    with instagram_client(sim) as client:
        assert [lookup(client).status_code for _ in range(2)] == [200, 401]
        assert httpx.post(url, json={"enabled": False}).json()["enabled"] is False
        assert lookup(client).status_code == 200
    for bad in (
        {"session_total": "lots"},
        {"nonsense": "1/1"},
        {"enabled": "yes"},
        {"session_total": 5},
    ):
        assert httpx.post(url, json=bad).status_code == 400
    assert sim.set_limits(session_total="2/1s")["session_total"] == {
        "requests": 2,
        "window_seconds": 1.0,
    }
