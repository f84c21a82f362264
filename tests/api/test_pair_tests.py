"""Pair tests over real HTTP: the API sends one lookup through real local proxies to the
simulator and reports each step with the engine's classification.

The app runs without the engine here (the test's lookup is paced from the usage ledger), on
SQLite and PostgreSQL;
`test_pair_tests_engine.py` covers the in-process engine's pacer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.proxies.models import ProxyUsage
from storycheck.proxies.sessions import ds_user_id_of
from storycheck.simulator import (
    LimitsConfig,
    PopulationConfig,
    ProxyFleet,
    SimulatorConfig,
    SimulatorServer,
)
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import free_port

PAIRS = 3
FAMOUS = "instagram"
STEP_NAMES = ["proxy", "instagram", "session", "limits"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    """The simulator (limits off), its sessions, and the well-known account made to exist."""
    config = SimulatorConfig(
        seed=5,
        sessions=PAIRS + 1,
        limits=LimitsConfig(enabled=False),
        population=PopulationConfig(slot_seconds=1e7, story_ttl_seconds=2e7),
    )
    server = SimulatorServer(config).start()
    server.call(lambda: server.state.set_profile_kind(FAMOUS, "poster"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet() -> Iterator[ProxyFleet]:
    proxies = ProxyFleet(PAIRS + 1).start()
    yield proxies
    proxies.stop()


@pytest.fixture
def app(database_url: str, sim: SimulatorServer):  # type: ignore[no-untyped-def]
    application = create_app(
        Config(
            database_url=database_url,
            instagram_url=sim.base_url,
            engine_enabled=False,
            secret_key=TEST_SECRET_KEY,
        ),
        start_background=False,
    )
    sim.reset(sessions=True)
    for session_id in sim.session_ids:
        sim.set_mode(session_id, "ok")
    yield application
    shutdown(application)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def _fast(client: Any, **changes: Any) -> None:
    settings = {"min_request_interval": 0, "proxy_test_timeout": 5, **changes}
    assert client.put("/api/settings", json=settings).status_code == 200


def _add(client: Any, url: str, session: str) -> str:
    response = client.post("/api/proxies", json={"url": url, "session": session})
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _test(client: Any, proxy_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/proxies/{proxy_id}/test", json=body or None)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def _pair(client: Any, proxy_id: str) -> dict[str, Any]:
    return next(p for p in client.get("/api/proxies").get_json() if p["id"] == proxy_id)


def _lookups(sim: SimulatorServer, session_id: str) -> int:
    tally = sim.stats()["sessions"].get(session_id, {})
    return int(tally.get("by_endpoint", {}).get("web_profile_info", 0))


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert [step["name"] for step in report["steps"]] == STEP_NAMES
    return {step["name"]: step for step in report["steps"]}


def test_a_working_pair_is_untested_until_one_lookup_proves_it(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet, app: Any
) -> None:
    _fast(client)
    session_id = sim.session_ids[0]
    proxy_id = _add(client, fleet.urls[0], session_id)
    assert _pair(client, proxy_id)["test_state"] == "untested"
    assert client.get(f"/api/proxies/{proxy_id}/test").get_json()["last_test"] is None

    report = _test(client, proxy_id)

    account = ds_user_id_of(session_id)
    assert account is not None
    assert (report["result"], report["ok"], report["classification"]) == ("ok", True, "success")
    assert report["summary"] == f"ok — logged in as {account}"
    assert report["account_id"] == account and report["username"] == FAMOUS
    steps = _steps(report)
    assert all(step["status"] == "ok" for step in steps.values()), steps
    assert steps["proxy"]["ms"] is not None and "accepted a connection" in steps["proxy"]["detail"]
    assert steps["session"]["detail"] == f"logged in as {account}"
    assert "1 of 60 lookups" in steps["limits"]["detail"]  # the default lookup cap
    # Exactly one lookup reached Instagram, through the pair's proxy; no cookie in the answer.
    assert _lookups(sim, session_id) == 1
    counters = fleet.counters()[0]
    assert counters.get("tunnels", 0) + counters.get("forwarded", 0) >= 1
    raw = json.dumps(report)
    assert session_id not in raw and session_id.split("%3A")[1] not in raw

    pair = _pair(client, proxy_id)
    assert pair["test_state"] == "ok" and pair["health"] == "ready"
    assert pair["last_test"]["summary"] == report["summary"] and pair["last_test"]["ok"] is True
    stored = client.get(f"/api/proxies/{proxy_id}/test").get_json()
    assert stored["test_state"] == "ok"
    assert [s["status"] for s in stored["last_test"]["steps"]] == ["ok"] * 4
    # The lookup is booked in the pair's usage ledger, like an engine request.
    db = app.extensions["storycheck"].db
    with db.read() as session:
        booked = session.scalar(
            select(func.sum(ProxyUsage.requests)).where(
                ProxyUsage.proxy_id == proxy_id, ProxyUsage.kind == "lookup"
            )
        )
    assert booked == 1
    # A test is no engine work: the pair's counters stay as they were.
    assert (pair["total_requests"], pair["last_used"]) == (0, None)


def test_a_dead_port_is_proxy_unreachable_and_nothing_is_sent(
    client: Any, sim: SimulatorServer
) -> None:
    _fast(client)
    session_id = sim.session_ids[1]
    proxy_id = _add(client, f"http://127.0.0.1:{free_port()}", session_id)

    report = _test(client, proxy_id)

    assert (report["result"], report["summary"]) == ("failed", "proxy unreachable")
    assert report["classification"] == "connection_failed"
    steps = _steps(report)
    assert steps["proxy"]["status"] == "failed"
    assert "connection refused" in steps["proxy"]["detail"]
    assert [steps[n]["status"] for n in STEP_NAMES[1:]] == ["skipped"] * 3
    assert _lookups(sim, session_id) == 0
    pair = _pair(client, proxy_id)
    assert pair["test_state"] == "failed" and pair["last_test"]["summary"] == "proxy unreachable"


@pytest.mark.parametrize(
    ("flag", "mode", "summary", "classification", "failed_steps"),
    [
        ("logged_out", None, "session logged out", "session_invalid", {"session"}),
        ("challenge_required", None, "challenge required", "challenge", {"session", "limits"}),
        (None, "login_page", "session logged out", "session_invalid", {"session"}),
        (None, "rate_limit_429", "rate limited", "rate_limited", {"limits"}),
        (None, "feedback", "action blocked", "action_blocked", {"limits"}),
        (
            None,
            "edge_block",
            "proxy address blocked by Instagram",
            "address_blocked",
            {"instagram", "limits"},
        ),
        (None, "unsupported_version", "user agent refused", "client_refused", {"limits"}),
        (None, "server_error", "Instagram answered with an error", "transient", {"instagram"}),
    ],
)
def test_each_answer_is_reported_with_the_engines_classification(  # noqa: PLR0913
    client: Any,
    sim: SimulatorServer,
    fleet: ProxyFleet,
    flag: str | None,
    mode: str | None,
    summary: str,
    classification: str,
    failed_steps: set[str],
) -> None:
    _fast(client)
    session_id = sim.session_ids[2]
    if flag is not None:
        sim.flag_session(session_id, flag)  # type: ignore[arg-type]
    if mode is not None:
        sim.set_mode(session_id, mode)
    proxy_id = _add(client, fleet.urls[2], session_id)

    report = _test(client, proxy_id)

    assert report["result"] == "failed" and report["summary"].startswith(summary), report
    assert report["classification"] == classification
    steps = _steps(report)
    assert steps["proxy"]["status"] == "ok"
    assert {name for name, step in steps.items() if step["status"] == "failed"} == failed_steps
    assert _lookups(sim, session_id) == 1
    assert _pair(client, proxy_id)["test_state"] == "failed"


def test_editing_the_pair_makes_it_untested_again(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    _fast(client)
    proxy_id = _add(client, fleet.urls[0], sim.session_ids[0])
    assert _test(client, proxy_id)["ok"] is True
    assert _pair(client, proxy_id)["test_state"] == "ok"

    client.put(f"/api/proxies/{proxy_id}/session", json={"session": sim.session_ids[3]})
    assert _pair(client, proxy_id)["test_state"] == "untested"
    assert _test(client, proxy_id)["summary"] == (
        f"ok — logged in as {ds_user_id_of(sim.session_ids[3])}"
    )
    client.put(f"/api/proxies/{proxy_id}/user-agent", json={"user_agent": "Mozilla/5.0 Test"})
    pair = _pair(client, proxy_id)
    assert (pair["test_state"], pair["last_test"]) == ("untested", None)
    # Switching it off and on is no edit: the state stays.
    assert _test(client, proxy_id)["ok"] is True
    client.patch(f"/api/proxies/{proxy_id}/status", json={"status": "disabled"})
    client.patch(f"/api/proxies/{proxy_id}/status", json={"status": "active"})
    assert _pair(client, proxy_id)["test_state"] == "ok"


def test_test_all_answers_a_report_per_switched_on_pair_in_order(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    _fast(client)
    sim.flag_session(sim.session_ids[1], "logged_out")
    ids = [_add(client, fleet.urls[i], sim.session_ids[i]) for i in range(PAIRS)]
    dead = _add(client, f"http://127.0.0.1:{free_port()}", sim.session_ids[3])
    off = ids[2]
    client.patch(f"/api/proxies/{off}/status", json={"status": "disabled"})

    response = client.post("/api/proxies/test")  # no body: every switched-on pair
    assert response.status_code == 200
    reports = response.get_json()
    assert [r["proxy_id"] for r in reports] == [ids[0], ids[1], dead]
    assert [r["summary"].split(" — ")[0] for r in reports] == [
        "ok",
        "session logged out",
        "proxy unreachable",
    ]
    states = {p["id"]: p["test_state"] for p in client.get("/api/proxies").get_json()}
    assert states == {ids[0]: "ok", ids[1]: "failed", off: "untested", dead: "failed"}

    # Chosen ids (a switched-off pair too); unknown ids among them are skipped.
    chosen = client.post("/api/proxies/test", json={"ids": [off, "no-such-pair"]}).get_json()
    assert [r["proxy_id"] for r in chosen] == [off] and chosen[0]["ok"] is True
    missing = client.post("/api/proxies/test", json={"ids": ["no-such-pair"]})
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert client.post("/api/proxies/no-such-pair/test").status_code == 404
    bad = client.post("/api/proxies/test", json={"ids": "all"})
    assert bad.status_code == 400 and bad.get_json()["details"]["field"] == "ids"


def test_the_username_can_be_chosen_and_is_checked(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    _fast(client)
    proxy_id = _add(client, fleet.urls[0], sim.session_ids[0])
    missing = "nobody.here_42"
    sim.call(lambda: sim.state.set_profile_kind(missing, "missing"))
    report = _test(client, proxy_id, username=f"@{missing}")
    assert report["ok"] is True and report["classification"] == "not_found"
    assert report["summary"].endswith(f"(@{missing} does not exist)")
    bad = client.post(f"/api/proxies/{proxy_id}/test", json={"username": "no spaces"})
    assert bad.status_code == 400 and bad.get_json()["details"]["field"] == "username"


def test_a_test_never_pushes_a_pair_over_its_lookup_budget(
    client: Any, sim: SimulatorServer, fleet: ProxyFleet
) -> None:
    _fast(client, lookup_hourly_limit=1)
    session_id = sim.session_ids[0]
    proxy_id = _add(client, fleet.urls[0], session_id)
    first = _test(client, proxy_id)
    assert first["ok"] is True and "1 of 1 lookups" in _steps(first)["limits"]["detail"]

    second = _test(client, proxy_id)

    assert second["result"] == "not_sent" and second["ok"] is False
    assert second["summary"].startswith("not sent: the pair's budget allows its next lookup at")
    assert _steps(second)["instagram"]["status"] == "skipped"
    assert _lookups(sim, session_id) == 1  # nothing reached Instagram the second time
    # A test that was not sent leaves the last result as it was.
    pair = _pair(client, proxy_id)
    assert pair["test_state"] == "ok" and pair["last_test"]["summary"] == first["summary"]
