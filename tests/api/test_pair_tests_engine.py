"""Pair tests while the in-process engine runs: the test borrows the pair from the engine's
pacer, so tests and a batch together never exceed the pair's lookup budget.

The simulator enforces the same budget the engine is given (3 lookups per 4-second window per
session) and records every request over it as a violation: there must be none, while a batch
spends the budget and tests keep asking for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.simulator import (
    Limit,
    LimitsConfig,
    PopulationConfig,
    ProxyFleet,
    SimulatorConfig,
    SimulatorServer,
)
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import wait_until

WINDOW = 4.0
LOOKUPS = 3
PROFILES = 9


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    limits = LimitsConfig(
        enabled=True,
        session_profile=Limit(LOOKUPS, WINDOW),
        session_stories=None,
        address_profile=None,
        address_stories=None,
    )
    config = SimulatorConfig(
        seed=9,
        sessions=1,
        limits=limits,
        population=PopulationConfig(slot_seconds=1e7, story_ttl_seconds=2e7),
    )
    server = SimulatorServer(config).start()
    server.call(lambda: server.state.set_profile_kind("instagram", "poster"))
    yield server
    server.stop()


@pytest.fixture
def fleet() -> Iterator[ProxyFleet]:
    proxies = ProxyFleet(1).start()
    yield proxies
    proxies.stop()


def _engine_app(sqlite_url: str, sim: SimulatorServer, refresh_interval: float) -> Iterator[Any]:
    """A test client of an app whose in-process engine paces by the simulator's window."""
    config = Config(
        database_url=sqlite_url,
        instagram_url=sim.base_url,
        secret_key=TEST_SECRET_KEY,
        engine_enabled=True,
        reconcile_interval=0.5,
        extra={
            "engine_window_seconds": str(WINDOW),
            "engine_refresh_interval": str(refresh_interval),
            "engine_flush_interval": "0.1",
            "engine_partial_wait": "0.2",
        },
    )
    application = create_app(config, start_background=True)
    yield application.test_client()
    shutdown(application)


@pytest.fixture
def client(sqlite_url: str, sim: SimulatorServer) -> Iterator[Any]:
    yield from _engine_app(sqlite_url, sim, refresh_interval=0.2)


# The pacing both tests give the engine: the simulator's lookup budget, no gaps.
PACED_SETTINGS = {
    "min_request_interval": 0,
    "request_jitter": 0,
    "lookup_hourly_limit": LOOKUPS,
    "proxy_hourly_limit": 1000,
}


def test_tests_and_a_batch_share_the_pairs_budget_without_a_violation(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    settings = {**PACED_SETTINGS, "proxy_test_timeout": 5}
    assert client.put("/api/settings", json=settings).status_code == 200
    session_id = sim.session_ids[0]
    proxy = client.post("/api/proxies", json={"url": fleet.urls[0], "session": session_id})
    proxy_id = proxy.get_json()["id"]
    niche = client.post("/api/niches", json={"name": "budget"}).get_json()
    names = "\n".join(f"user{i:06d}" for i in range(PROFILES))
    imported = client.post(
        f"/api/profiles/niches/{niche['id']}/import",
        data=names.encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert imported.status_code in (201, 207)
    batch = client.post("/api/batches", json={"niche_id": niche["id"], "all_profiles": True})
    batch_id = batch.get_json()["id"]

    reports: list[dict[str, Any]] = []

    def batch_done() -> bool:
        response = client.post(f"/api/proxies/{proxy_id}/test")
        assert response.status_code == 200, response.get_data(as_text=True)
        reports.append(response.get_json())
        status = client.get(f"/api/batches/{batch_id}", query_string={"items_limit": 0})
        return bool(status.get_json()["status"] == "done")

    # A test that waits for its slot holds the pair for it (engine.lending), so tests sent
    # back to back could take every slot a window frees and starve the batch (seen under CI
    # load); a second between tests leaves the batch the rest of each window.
    wait_until(batch_done, timeout=120, interval=1.0, what="the batch to finish")

    stats = sim.stats()
    assert stats["violations"]["count"] == 0, stats["violations"]
    sent = [r for r in reports if r["result"] != "not_sent"]
    assert sent and all(r["ok"] for r in sent), [r["summary"] for r in reports]
    # Every test that was sent is one lookup of the session, besides the batch's own.
    lookups = stats["sessions"][session_id]["by_endpoint"]["web_profile_info"]
    assert lookups == PROFILES + len(sent)
    # The engine counted the tests: the pair stayed usable and was never rate limited.
    pair = next(p for p in client.get("/api/proxies").get_json() if p["id"] == proxy_id)
    assert pair["health"] == "ready" and pair["test_state"] == "ok"
    assert stats["sessions"][session_id]["rate_limited"] == 0


@pytest.fixture
def slow_refresh_client(sqlite_url: str, sim: SimulatorServer) -> Iterator[Any]:
    """The in-process engine with a periodic pair refresh too slow to matter in a test."""
    yield from _engine_app(sqlite_url, sim, refresh_interval=600)


def test_a_pair_disabled_in_the_api_sends_nothing_more(
    slow_refresh_client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    """Pair changes reach the in-process engine at once, not at its next periodic refresh."""
    client = slow_refresh_client
    assert client.put("/api/settings", json=PACED_SETTINGS).status_code == 200
    proxy = client.post("/api/proxies", json={"url": fleet.urls[0], "session": sim.session_ids[0]})
    proxy_id = proxy.get_json()["id"]
    niche = client.post("/api/niches", json={"name": "disabled"}).get_json()
    names = "\n".join(f"user{i:06d}" for i in range(PROFILES))
    client.post(f"/api/profiles/niches/{niche['id']}/import", data=names.encode())

    def done(batch_id: str) -> int:
        body = client.get(f"/api/batches/{batch_id}", query_string={"items_limit": 0}).get_json()
        return int(body["completed_profiles"])

    # The engine knows the new pair (added through the API): a batch runs on it.
    first = client.post("/api/batches", json={"niche_id": niche["id"], "all_profiles": True})
    wait_until(lambda: done(first.get_json()["id"]) == PROFILES, timeout=60, what="a first batch")

    def set_status(status: str) -> None:
        response = client.patch(f"/api/proxies/{proxy_id}/status", json={"status": status})
        assert response.status_code == 200, response.get_data(as_text=True)

    set_status("disabled")
    # The API answered only once the engine had applied the change (not at its next periodic
    # refresh, nor a moment after the answer): the pair is out of the engine's set right now.
    book = client.application.extensions["storycheck"].pool.scheduler.book
    assert proxy_id not in {pair.proxy_id for pair in book.usable}
    second = client.post("/api/batches", json={"niche_id": niche["id"], "all_profiles": True})
    batch = second.get_json()
    assert batch["waiting_reason"] == "no usable pair: 1 disabled", batch
    # An engine that still counted the pair as usable would have checked accounts by now (the
    # first batch checked 3 per 4 s window).
    time.sleep(2.0)
    assert done(batch["id"]) == 0

    set_status("active")
    wait_until(lambda: done(batch["id"]) == PROFILES, timeout=60, what="the re-enabled pair")
