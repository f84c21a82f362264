"""Per-session modes: every answer row of instagram-facts.md, over real HTTP, switchable at run time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from storycheck.simulator import SimulatorServer, user_id_for
from storycheck.simulator.answers import MODES

from .conftest import START, instagram_client

PROFILE = "/api/v1/users/web_profile_info/"
REELS = "/api/v1/feed/reels_media/"
DOC_ID = "7000000000000001"
PLEASE_WAIT = {
    "message": "Please wait a few minutes before you try again.",
    "require_login": True,
    "status": "fail",
}


def body_json(response: httpx.Response) -> dict[str, Any]:
    payload = json.loads(response.content)
    assert isinstance(payload, dict)
    return payload


def challenge_url(response: httpx.Response) -> str:
    return str(body_json(response)["challenge"]["url"])


@dataclass(frozen=True)
class Row:
    """One facts-file answer: the mode, the endpoint asked, and what must come back."""

    mode: str
    endpoint: str
    status: int
    content_type: str | None
    check: Callable[[httpx.Response], bool]


ROWS = [
    Row("rate_limit_401", "profile", 401, "application/json", lambda r: r.json() == PLEASE_WAIT),
    Row("rate_limit_429", "reels", 429, "application/json", lambda r: r.json() == PLEASE_WAIT),
    Row(
        "login_required",
        "profile",
        403,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "login_required"
            and body_json(r)["status"] == "fail"
            and "logout_reason" in body_json(r)
        ),
    ),
    Row(
        "login_redirect",
        "reels",
        302,
        None,
        lambda r: (
            r.headers["location"].startswith("/accounts/login/?next=")
            and unquote(r.headers["location"]).endswith(
                f"{REELS}?reel_ids={user_id_for('user00001')}"
            )
            and r.content == b""
        ),
    ),
    Row(
        "login_page",
        "profile",
        200,
        "text/html",
        lambda r: "<title>Login \u2022 Instagram</title>" in r.text,
    ),
    Row(
        "checkpoint",
        "profile",
        400,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "checkpoint_required"
            and "/challenge/" in body_json(r)["checkpoint_url"]
        ),
    ),
    Row(
        "challenge",
        "reels",
        400,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "challenge_required"
            and "/suspended/" not in challenge_url(r)
        ),
    ),
    Row(
        "suspended",
        "reels",
        400,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "challenge_required" and "/suspended/" in challenge_url(r)
        ),
    ),
    Row(
        "feedback",
        "profile",
        400,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "feedback_required"
            and body_json(r)["spam"] is True
            and body_json(r)["feedback_title"] == "Action Blocked"
        ),
    ),
    Row(
        "unsupported_version",
        "reels",
        400,
        "application/json",
        lambda r: (
            body_json(r)["message"] == "checkpoint_required"
            and body_json(r)["checkpoint_url"] == "https://i.instagram.com/web/unsupported_version/"
        ),
    ),
    Row("masked_404", "profile", 404, "text/html", lambda r: r.content == b"Not Found"),
    Row("masked_404", "reels", 404, "text/html", lambda r: r.content == b"Not Found"),
    Row(
        "unhonoured",
        "profile",
        200,
        "application/json",
        lambda r: r.content == b'{"status":"ok"}' and len(r.content) == 15,
    ),
    Row(
        "unhonoured",
        "reels",
        200,
        "application/json",
        lambda r: r.content == b'{"reels":{},"status":"ok"}',
    ),
    Row(
        "unhonoured",
        "graphql",
        200,
        "application/json",
        lambda r: body_json(r)["data"]["xdt_api__v1__feed__reels_media"] is None,
    ),
    Row(
        "edge_block",
        "profile",
        403,
        "text/html",
        lambda r: r.text.lstrip().startswith("<!DOCTYPE html>") and "Login" not in r.text,
    ),
    Row("server_error", "reels", 500, "application/json", lambda r: r.json()["status"] == "fail"),
    Row("edge_502", "profile", 502, "text/html", lambda r: "502 Bad Gateway" in r.text),
    Row("error_560", "graphql", 560, "application/json", lambda r: r.json()["status"] == "fail"),
]


def ask(client: httpx.Client, endpoint: str, username: str = "user00001") -> httpx.Response:
    """Send the request of one endpoint as the web client does."""
    if endpoint == "profile":
        return client.get(PROFILE, params={"username": username})
    if endpoint == "reels":
        return client.get(REELS, params={"reel_ids": user_id_for(username)})
    variables = json.dumps({"reel_ids": [user_id_for(username)]})
    return client.post("/graphql/query", data={"doc_id": DOC_ID, "variables": variables})


def set_mode(sim: SimulatorServer, session: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{sim.base_url}/__sim__/sessions/{session}/mode", json=body)


def test_every_mode_has_a_row() -> None:
    assert {row.mode for row in ROWS} == set(MODES) - {"ok"}


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.mode}-{row.endpoint}")
def test_mode_answers_its_facts_file_row(
    make_sim: Callable[..., SimulatorServer], row: Row
) -> None:
    sim = make_sim(doc_ids=(DOC_ID,))
    session, other = sim.session_ids
    answer = set_mode(sim, session, mode=row.mode)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": session,
        "mode": row.mode,
        "after": 0,
        "endpoints": ["graphql", "profile", "reels"],
    }
    with instagram_client(sim, session=session) as client:
        response = ask(client, row.endpoint)
    assert response.status_code == row.status, response.text
    if row.content_type is not None:
        assert response.headers["content-type"].startswith(row.content_type)
    assert row.check(response), response.content
    # A JSON answer comes from Instagram's app servers and carries the www-claim; an HTML
    # page (edge, login) does not.
    is_json = response.headers.get("content-type", "").startswith("application/json")
    assert ("x-ig-set-www-claim" in response.headers) == is_json
    with instagram_client(sim, session=other) as client:
        assert ask(client, row.endpoint).status_code == 200
    outcomes = sim.stats()["sessions"][session]["by_outcome"]
    assert outcomes == {f"mode_{row.mode}": 1}


def test_ok_answers_the_logged_in_shapes(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim()
    truth = sim.state.truth
    live = truth.usernames(2, kind="poster", with_story_at=START)
    silent = truth.usernames(2, kind="never_posts")
    with instagram_client(sim) as client:
        empty = client.get(REELS, params=[("reel_ids", user_id_for(n)) for n in silent])
        mixed = client.get(REELS, params=[("reel_ids", user_id_for(n)) for n in live + silent])
    assert empty.content == b'{"reels":{},"reels_media":[],"status":"ok"}'
    body = mixed.json()
    assert list(body["reels"]) == [user_id_for(n) for n in live]
    assert [reel["user"]["username"] for reel in body["reels_media"]] == live
    assert list(body["reels"].values()) == body["reels_media"]
    for reel, name in zip(body["reels_media"], live, strict=True):
        items = truth.items_at(name, START)
        assert reel["latest_reel_media"] == items[-1].taken_at
        assert reel["expiring_at"] == max(item.expiring_at for item in items)
        for item in reel["items"]:
            assert item["expiring_at"] == item["taken_at"] + 86400


def test_mode_takes_effect_after_n_requests(sim: SimulatorServer) -> None:
    session = sim.session_ids[0]
    answer = set_mode(sim, session, mode="masked_404", after=3)
    assert answer.json()["after"] == 3
    listing = httpx.get(sim.base_url + "/__sim__/sessions").json()["sessions"]
    entry = next(e for e in listing if e["id"] == session)
    assert entry["mode"] == "ok" and entry["pending"]["mode"] == "masked_404"
    with instagram_client(sim) as client:
        statuses = [ask(client, endpoint).status_code for endpoint in ("profile", "reels") * 3]
        listing = httpx.get(sim.base_url + "/__sim__/sessions").json()["sessions"]
        assert next(e for e in listing if e["id"] == session)["mode"] == "masked_404"
        assert set_mode(sim, session, mode="ok").status_code == 200
        assert ask(client, "profile").status_code == 200
    assert statuses == [200, 200, 200, 404, 404, 404]


def test_mode_on_chosen_endpoints_only(sim: SimulatorServer) -> None:
    session = sim.session_ids[0]
    answer = set_mode(sim, session, mode="unhonoured", endpoints=["reels"])
    assert answer.json()["endpoints"] == ["reels"]
    with instagram_client(sim) as client:
        assert ask(client, "profile").json()["data"]["user"]["username"] == "user00001"
        assert ask(client, "reels").content == b'{"reels":{},"status":"ok"}'


def test_mode_changes_in_process_and_later_modes_replace_earlier(sim: SimulatorServer) -> None:
    session = sim.session_ids[0]
    sim.set_mode(session, "rate_limit_429", after=1, endpoints=["profile"])
    with instagram_client(sim) as client:
        assert ask(client, "profile").status_code == 200
        assert ask(client, "profile").status_code == 429
        assert ask(client, "reels").status_code == 200
        sim.set_mode(session, "edge_502")
        assert ask(client, "reels").status_code == 502
        sim.reset(sessions=True)
        assert ask(client, "reels").status_code == 200
    stats = sim.stats()
    assert stats["violations"]["count"] == 0


def test_mode_answers_are_not_limit_violations_and_spend_no_budget(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    from storycheck.simulator import LimitsConfig

    sim = make_sim(limits=LimitsConfig.uniform(2, 60))
    session = sim.session_ids[0]
    sim.set_mode(session, "rate_limit_401")
    with instagram_client(sim) as client:
        assert [ask(client, "profile").status_code for _ in range(4)] == [401] * 4
        sim.set_mode(session, "ok")
        assert [ask(client, "profile").status_code for _ in range(3)] == [200, 200, 401]
    stats = sim.stats()
    assert stats["violations"]["count"] == 1
    assert stats["sessions"][session]["rate_limited"] == 5


@pytest.mark.parametrize(
    ("session", "body", "status"),
    [
        ("first", {"mode": "sleepy"}, 400),
        ("first", {"mode": "ok", "after": -1}, 400),
        ("first", {"mode": "ok", "after": "3"}, 400),
        ("first", {"mode": "ok", "endpoints": ["stories"]}, 400),
        ("first", {"mode": "ok", "endpoints": "reels"}, 400),
        ("nobody", {"mode": "ok"}, 404),
    ],
)
def test_bad_mode_requests_are_refused(
    sim: SimulatorServer, session: str, body: dict[str, Any], status: int
) -> None:
    session_id = sim.session_ids[0] if session == "first" else session
    assert set_mode(sim, session_id, **body).status_code == status
