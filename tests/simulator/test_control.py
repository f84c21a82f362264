"""The control API and the Python API: clock, config, sessions, stats, lifecycle."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import SimulatorConfig, SimulatorServer, user_id_for

from .conftest import START, FakeClock, instagram_client


def test_clock_offset_and_freeze(sim: SimulatorServer, clock: FakeClock) -> None:
    base = sim.base_url + "/__sim__/clock"
    assert httpx.get(base).json() == {"now": START, "offset": 0.0, "frozen_at": None}
    assert httpx.post(base, json={"offset": 3600}).json()["now"] == START + 3600
    clock.advance(10)
    assert sim.now() == START + 3610
    frozen = httpx.post(base, json={"frozen_at": "2025-01-01T00:00:00Z"}).json()
    assert frozen["now"] == frozen["frozen_at"] == 1735689600.0
    clock.advance(10)
    assert sim.now() == 1735689600.0
    assert httpx.post(base, json={"frozen_at": None, "offset": 0}).json()["now"] == clock.now
    assert httpx.post(base, json={"offset": "soon"}).status_code == 400


def test_clock_moves_the_stories_the_server_shows(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    truth = sim.state.truth
    later = START + 2 * 86400
    name = next(
        n
        for n in truth.usernames(200, kind="poster")
        if truth.lookup(n, START)["has_story"] != truth.lookup(n, later)["has_story"]
    )
    reel_id = user_id_for(name)

    def visible() -> bool:
        body = client.get("/api/v1/feed/reels_media/", params={"reel_ids": reel_id}).json()
        return reel_id in body["reels"]

    assert visible() == truth.lookup(name, START)["has_story"]
    sim.set_clock(offset=later - START)
    assert visible() == truth.lookup(name, later)["has_story"]
    assert sim.truth(name)["has_story"] == truth.lookup(name, later)["has_story"]


def test_config_endpoint_describes_the_settings(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(seed=4, reel_ids_cap=10)
    body = httpx.get(sim.base_url + "/__sim__/config").json()
    assert body["seed"] == 4 and body["reel_ids_cap"] == 10 and body["graphql_reel_ids_cap"] == 50
    assert body["limits"]["enabled"] is False
    assert body["limits"]["session_profile"] == {"requests": 200, "window_seconds": 3600.0}


def test_python_api_mirrors_the_control_api(sim: SimulatorServer) -> None:
    first = sim.session_ids[0]
    assert sim.add_sessions(["extra"]) == ["extra"]
    assert "extra" in sim.session_ids
    sim.flag_session(first, "feedback_required")
    with instagram_client(sim) as client:
        response = client.get("/api/v1/users/web_profile_info/", params={"username": "abc"})
    assert response.json()["message"] == "feedback_required"
    assert sim.stats()["total"]["by_outcome"] == {"challenge": 1}
    sim.reset(sessions=True)
    assert sim.stats()["total"]["total"] == 0
    with instagram_client(sim) as client:
        assert client.get(
            "/api/v1/users/web_profile_info/", params={"username": "abc"}
        ).status_code in (200, 404)
    with pytest.raises(ValueError):
        sim.flag_session(first, "sleepy")
    with pytest.raises(KeyError):
        sim.flag_session("unknown", "logged_out")


def test_bad_control_bodies_are_400(sim: SimulatorServer) -> None:
    response = httpx.post(sim.base_url + "/__sim__/faults", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"] == "bad_request"
    assert httpx.post(sim.base_url + "/__sim__/truth", json={"usernames": "a"}).status_code == 400
    assert httpx.get(sim.base_url + "/__sim__/truth").status_code == 400


def test_server_lifecycle() -> None:
    server = SimulatorServer(SimulatorConfig())
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:")
        port = server.port
        assert httpx.get(server.base_url + "/__sim__/config").status_code == 200
        with pytest.raises(RuntimeError):
            server.start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/__sim__/config")
    busy = SimulatorServer(SimulatorConfig(port=port)).start()
    try:
        with pytest.raises(OSError):
            SimulatorServer(SimulatorConfig(port=port)).start()
    finally:
        busy.stop()


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(rate_limit_status="500")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SimulatorConfig(login_required_status=404)
    with pytest.raises(ValueError):
        SimulatorConfig(reel_ids_cap=0)
