"""Instagram's error answers: login_required, challenges, missing app id, session control."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import SimulatorServer, session_ids_for, user_id_for

from .conftest import instagram_client

PROFILE = "/api/v1/users/web_profile_info/"
REELS = "/api/v1/feed/reels_media/"
LOGIN_REQUIRED = {"message": "login_required", "status": "fail"}


@pytest.mark.parametrize("session", [None, "", "not-a-known-session"])
def test_missing_or_unknown_session_is_login_required(
    sim: SimulatorServer, session: str | None
) -> None:
    with instagram_client(sim, session=session) as client:
        for path, params in (
            (PROFILE, {"username": "user00001"}),
            (REELS, {"reel_ids": "1000000001"}),
        ):
            response = client.get(path, params=params)
            assert response.status_code == 403  # as the facts file says (instagrapi)
            assert response.json() == LOGIN_REQUIRED


def test_login_required_may_be_401_or_a_redirect_to_the_login_page(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    unauthorized = make_sim(login_required_status=401)
    with instagram_client(unauthorized, session=None) as client:
        response = client.get(PROFILE, params={"username": "user00001"})
    assert response.status_code == 401 and response.json() == LOGIN_REQUIRED
    redirecting = make_sim(login_required_status=302)
    with instagram_client(redirecting, session="nope") as client:
        response = client.get(PROFILE, params={"username": "user00001"})
        assert response.status_code == 302
        assert response.headers["location"].startswith("/accounts/login/")
        login_page = client.get(response.headers["location"])
    assert login_page.status_code == 200 and login_page.headers["content-type"].startswith(
        "text/html"
    )


def test_sessions_are_deterministic_from_the_seed(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(seed=9, sessions=3)
    assert sim.session_ids == session_ids_for(9, 3)
    assert session_ids_for(9, 3) != session_ids_for(10, 3)
    listing = httpx.get(sim.base_url + "/__sim__/sessions").json()
    assert [entry["id"] for entry in listing["sessions"]] == sim.session_ids
    assert {entry["state"] for entry in listing["sessions"]} == {"ok"}


@pytest.mark.parametrize(
    ("kind", "extra_key"),
    [
        ("challenge_required", "challenge"),
        ("checkpoint_required", "checkpoint_url"),
        ("feedback_required", "feedback_title"),
    ],
)
def test_flagged_session_gets_its_challenge(
    sim: SimulatorServer, kind: str, extra_key: str
) -> None:
    flagged, other = sim.session_ids
    flag = httpx.post(f"{sim.base_url}/__sim__/sessions/{flagged}/challenge", json={"kind": kind})
    assert flag.status_code == 200 and flag.json()["state"] == kind
    with instagram_client(sim, session=flagged) as client:
        response = client.get(PROFILE, params={"username": "user00001"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == kind and body["status"] == "fail" and extra_key in body
    with instagram_client(sim, session=other) as client:
        assert client.get(PROFILE, params={"username": "user00001"}).status_code == 200


def test_challenge_without_kind_is_challenge_required(sim: SimulatorServer) -> None:
    session = sim.session_ids[0]
    assert httpx.post(f"{sim.base_url}/__sim__/sessions/{session}/challenge").status_code == 200
    with instagram_client(sim) as client:
        body = client.get(REELS, params={"reel_ids": user_id_for("user00001")}).json()
    assert body["message"] == "challenge_required"
    assert body["challenge"]["api_path"].startswith("/challenge/")


def test_logout_then_restore(sim: SimulatorServer) -> None:
    session = sim.session_ids[0]
    with instagram_client(sim) as client:
        assert httpx.post(f"{sim.base_url}/__sim__/sessions/{session}/logout").status_code == 200
        response = client.get(PROFILE, params={"username": "user00001"})
        assert response.status_code == 403 and response.json() == LOGIN_REQUIRED
        assert httpx.post(f"{sim.base_url}/__sim__/sessions/{session}/restore").status_code == 200
        assert client.get(PROFILE, params={"username": "user00001"}).status_code == 200


def test_flagging_unknown_session_or_kind_fails(sim: SimulatorServer) -> None:
    assert httpx.post(f"{sim.base_url}/__sim__/sessions/nobody/logout").status_code == 404
    session = sim.session_ids[0]
    bad = httpx.post(f"{sim.base_url}/__sim__/sessions/{session}/challenge", json={"kind": "x"})
    assert bad.status_code == 400


def test_sessions_can_be_added_at_run_time(sim: SimulatorServer) -> None:
    added = httpx.post(
        f"{sim.base_url}/__sim__/sessions", json={"sessions": ["fresh-1", "fresh-2"]}
    )
    assert added.json()["added"] == ["fresh-1", "fresh-2"]
    with instagram_client(sim, session="fresh-2") as client:
        assert client.get(PROFILE, params={"username": "user00001"}).status_code == 200
    assert (
        httpx.post(f"{sim.base_url}/__sim__/sessions", json={"sessions": [""]}).status_code == 400
    )


def test_any_session_is_accepted_when_configured(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(accept_any_session=True, sessions=0)
    with instagram_client(sim, session="whatever") as client:
        assert client.get(PROFILE, params={"username": "user00001"}).status_code == 200
    with instagram_client(sim, session=None) as client:
        assert client.get(PROFILE, params={"username": "user00001"}).status_code == 403


@pytest.mark.parametrize("status", [400, 403])
def test_missing_app_id_header_is_refused(
    make_sim: Callable[..., SimulatorServer], status: int
) -> None:
    sim = make_sim(missing_app_id_status=status)
    cookies = {"sessionid": sim.session_ids[0]}
    with httpx.Client(base_url=sim.base_url, cookies=cookies) as client:
        response = client.get(PROFILE, params={"username": "user00001"})
    assert response.status_code == status
    assert response.json()["status"] == "fail"


def test_errors_are_counted_by_the_referee(sim: SimulatorServer) -> None:
    with instagram_client(sim, session=None) as client:
        client.get(PROFILE, params={"username": "user00001"})
    with instagram_client(sim) as client:
        client.get(PROFILE, params={"username": "user00001"})
        client.get(PROFILE, params={"username": "zz.not.there.zz"})
    stats = httpx.get(sim.base_url + "/__sim__/stats").json()
    assert stats["total"]["total"] == 3
    assert stats["total"]["by_outcome"]["login_required"] == 1
    assert stats["sessions"][sim.session_ids[0]]["total"] == 2
    assert stats["addresses"]["127.0.0.1"]["by_endpoint"] == {"web_profile_info": 3}
