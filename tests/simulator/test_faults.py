"""Fault injection: 5xx, hangs, malformed JSON, resets, spurious limits and latency."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import FaultConfig, SimulatorServer, user_id_for

from .conftest import instagram_client

REELS = "/api/v1/feed/reels_media/"


def stories(client: httpx.Client) -> httpx.Response:
    return client.get(REELS, params={"reel_ids": user_id_for("user00001")})


def faulty(make_sim: Callable[..., SimulatorServer], **faults: float) -> SimulatorServer:
    return make_sim(faults=FaultConfig(**faults))


def test_5xx_answers(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, error_5xx_share=1.0)
    with instagram_client(sim) as client:
        statuses = {stories(client).status_code for _ in range(30)}
    assert statuses == {500, 502, 503}
    assert sim.stats()["faults"] == {"error_5xx": 30}


def test_malformed_json(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, malformed_share=1.0)
    with instagram_client(sim) as client:
        response = stories(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert sim.stats()["total"]["by_outcome"] == {"malformed": 1}


def test_dropped_connection(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, drop_share=1.0)
    with instagram_client(sim) as client, pytest.raises(httpx.TransportError):
        stories(client)
    assert sim.stats()["total"]["by_outcome"] == {"dropped": 1}


def test_hang_outlasts_the_client_timeout(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, hang_share=1.0, hang_seconds=5.0)
    started = time.monotonic()
    with instagram_client(sim, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        stories(client)
    assert time.monotonic() - started < 2
    assert sim.stats()["faults"] == {"hang": 1}


def test_short_hang_then_normal_answer(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, hang_share=1.0, hang_seconds=0.3)
    started = time.monotonic()
    with instagram_client(sim) as client:
        assert stories(client).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_spurious_rate_limit_is_not_a_violation(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, rate_limit_share=1.0)
    with instagram_client(sim) as client:
        response = stories(client)
    assert response.status_code == 401
    assert response.json()["message"] == "Please wait a few minutes before you try again."
    stats = sim.stats()
    assert stats["total"]["rate_limited"] == 1 and stats["violations"]["count"] == 0


def test_latency_is_fixed_plus_jitter(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, latency_seconds=0.15, jitter_seconds=0.1)
    with instagram_client(sim) as client:
        durations = []
        for _ in range(4):
            started = time.monotonic()
            assert stories(client).status_code == 200
            durations.append(time.monotonic() - started)
    assert min(durations) >= 0.15 and max(durations) < 1.0


def test_shares_mix_faults_roughly_as_configured(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, error_5xx_share=0.3, malformed_share=0.2)
    with instagram_client(sim) as client:
        responses = [stories(client) for _ in range(300)]
    errors = sum(r.status_code >= 500 for r in responses)
    ok = sum(r.status_code == 200 and r.text.endswith('"ok"}') for r in responses)
    assert 60 <= errors <= 120 and 120 <= ok <= 180


def test_faults_change_at_run_time(sim: SimulatorServer, client: httpx.Client) -> None:
    assert stories(client).status_code == 200
    response = httpx.post(sim.base_url + "/__sim__/faults", json={"error_5xx_share": 1})
    assert response.status_code == 200 and response.json()["error_5xx_share"] == 1.0
    assert stories(client).status_code >= 500
    assert httpx.get(sim.base_url + "/__sim__/faults").json()["error_5xx_share"] == 1.0
    httpx.post(sim.base_url + "/__sim__/faults", json={"error_5xx_share": 0})
    assert stories(client).status_code == 200
    assert httpx.post(sim.base_url + "/__sim__/faults", json={"nonsense": 1}).status_code == 400
    assert httpx.post(sim.base_url + "/__sim__/faults", json={"drop_share": 2}).status_code == 400


def test_control_endpoints_are_never_faulted(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = faulty(make_sim, drop_share=1.0)
    assert httpx.get(sim.base_url + "/__sim__/stats").status_code == 200
    assert httpx.get(sim.base_url + "/__sim__/truth", params={"username": "a"}).status_code == 200


def test_python_api_sets_faults(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.set_faults(malformed_share=1.0)
    with pytest.raises(json.JSONDecodeError):
        json.loads(stories(client).content)
