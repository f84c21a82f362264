"""Per-account truth: private accounts and follows, business accounts, missing users' styles."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import PopulationConfig, SimulatorServer, user_id_for

from .conftest import START, instagram_client

PROFILE = "/api/v1/users/web_profile_info/"
REELS = "/api/v1/feed/reels_media/"
DOC_ID = "7000000000000002"
BUSINESS_DELETED = {
    "message": "Asset asset://laser.provider/ig_business_category_subvertical has been "
    "deleted. You cannot use this schema",
    "status": "fail",
}


def private_with_story(sim: SimulatorServer) -> str:
    return sim.state.truth.usernames(1, kind="private", with_story_at=START)[0]


def test_private_story_shows_only_to_a_session_that_follows(sim: SimulatorServer) -> None:
    name = private_with_story(sim)
    reel_id = user_id_for(name)
    follower, stranger = sim.session_ids
    truth = httpx.get(sim.base_url + "/__sim__/truth", params={"username": name}).json()
    assert truth["is_private"] and truth["has_story"] and truth["items"] > 0
    answer = httpx.post(
        sim.base_url + "/__sim__/follows", json={"session": follower, "usernames": [name]}
    )
    assert answer.status_code == 200 and answer.json()["follows"] == [name]
    variables = json.dumps({"reel_ids": [reel_id]})
    httpx.post(sim.base_url + "/__sim__/config", json={"doc_ids": [DOC_ID]}).raise_for_status()
    with instagram_client(sim, session=follower) as client:
        user = client.get(PROFILE, params={"username": name}).json()["data"]["user"]
        assert (user["is_private"], user["followed_by_viewer"]) == (True, True)
        reels = client.get(REELS, params={"reel_ids": reel_id}).json()
        assert list(reels["reels"]) == [reel_id] and len(reels["reels_media"]) == 1
        assert reels["reels_media"][0]["user"]["is_private"] is True
        dense = client.post("/graphql/query", data={"doc_id": DOC_ID, "variables": variables})
        assert len(dense.json()["data"]["xdt_api__v1__feed__reels_media"]["reels_media"]) == 1
    with instagram_client(sim, session=stranger) as client:
        user = client.get(PROFILE, params={"username": name}).json()["data"]["user"]
        assert (user["is_private"], user["followed_by_viewer"]) == (True, False)
        reels = client.get(REELS, params={"reel_ids": reel_id})
        assert reels.content == b'{"reels":{},"reels_media":[],"status":"ok"}'
        dense = client.post("/graphql/query", data={"doc_id": DOC_ID, "variables": variables})
        assert dense.json()["data"]["xdt_api__v1__feed__reels_media"]["reels_media"] == []
    sim.follow(follower, [name], follow=False)
    with instagram_client(sim, session=follower) as client:
        assert client.get(REELS, params={"reel_ids": reel_id}).json()["reels"] == {}
    assert httpx.get(sim.base_url + "/__sim__/follows").json() == {"follows": {}}


def test_follows_need_a_known_session_and_a_list(sim: SimulatorServer) -> None:
    url = sim.base_url + "/__sim__/follows"
    assert httpx.post(url, json={"session": "nobody", "usernames": ["a"]}).status_code == 404
    assert (
        httpx.post(url, json={"session": sim.session_ids[0], "usernames": "a"}).status_code == 400
    )


def test_public_accounts_show_followed_by_viewer_too(sim: SimulatorServer) -> None:
    name = sim.state.truth.usernames(1, kind="poster")[0]
    sim.follow(sim.session_ids[0], [name.upper()])
    with instagram_client(sim) as client:
        user = client.get(PROFILE, params={"username": name}).json()["data"]["user"]
    assert (user["is_private"], user["followed_by_viewer"]) == (False, True)


def test_business_accounts_answer_the_deleted_asset_400(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    sim = make_sim(population=PopulationConfig(business_deleted_share=0.5))
    truth = sim.state.truth
    names = [f"user{n:05d}" for n in range(200)]
    business = [n for n in names if truth.profile(n).business_deleted]
    assert 50 <= len(business) <= 110
    assert all(truth.profile(n).kind in ("poster", "never_posts") for n in business)
    with instagram_client(sim) as client:
        refused = client.get(PROFILE, params={"username": business[0]})
        assert refused.status_code == 400 and refused.json() == BUSINESS_DELETED
        # Their stories stay readable by id (only the profile lookup is broken).
        live = next(n for n in business if truth.items_at(n, START))
        reels = client.get(REELS, params={"reel_ids": user_id_for(live)}).json()
        assert list(reels["reels"]) == [user_id_for(live)]
    assert sim.stats()["total"]["by_outcome"]["business_deleted"] == 1
    assert httpx.get(sim.base_url + "/__sim__/truth", params={"username": business[0]}).json()[
        "business_deleted"
    ]


def test_profile_kind_overrides_at_run_time(sim: SimulatorServer) -> None:
    name = sim.state.truth.usernames(1, kind="poster")[0]
    url = sim.base_url + "/__sim__/profiles"
    with instagram_client(sim) as client:
        assert client.get(PROFILE, params={"username": name}).status_code == 200
        answer = httpx.post(url, json={"username": name, "kind": "business_deleted"})
        assert answer.status_code == 200 and answer.json()["profiles"][0]["business_deleted"]
        assert client.get(PROFILE, params={"username": name}).status_code == 400
        httpx.post(url, json={"usernames": [name], "kind": "private"})
        user = client.get(PROFILE, params={"username": name}).json()["data"]["user"]
        assert user["is_private"] is True
        httpx.post(url, json={"username": name, "kind": "missing"})
        assert client.get(PROFILE, params={"username": name}).status_code == 404
        assert httpx.get(url).json() == {"overrides": {name: "missing"}}
        httpx.post(url, json={"username": name, "kind": None})
        assert client.get(PROFILE, params={"username": name}).status_code == 200
    assert httpx.post(url, json={"username": name, "kind": "alien"}).status_code == 400
    assert httpx.post(url, json={"username": "no spaces", "kind": "private"}).status_code == 400
    assert httpx.post(url, json={}).status_code == 400


@pytest.mark.parametrize(
    ("style", "status", "body"),
    [
        ("empty", 404, b""),
        ("json", 404, b'{"message":"User not found","status":"fail"}'),
        ("user_null", 200, b'{"data":{"user":null},"status":"ok"}'),
    ],
)
def test_missing_users_answer_per_not_found_style(
    make_sim: Callable[..., SimulatorServer], style: str, status: int, body: bytes
) -> None:
    sim = make_sim(not_found_style=style)
    missing = sim.state.truth.usernames(1, kind="missing")[0]
    with instagram_client(sim) as client:
        for name in (missing, "not a valid name!"):
            response = client.get(PROFILE, params={"username": name})
            assert (response.status_code, response.content) == (status, body)
            if body:
                assert response.headers["content-type"].startswith("application/json")
    assert sim.stats()["total"]["by_outcome"] == {"not_found": 2}


def test_not_found_style_changes_at_run_time(sim: SimulatorServer) -> None:
    missing = sim.state.truth.usernames(1, kind="missing")[0]
    config = httpx.post(sim.base_url + "/__sim__/config", json={"not_found_style": "user_null"})
    assert config.status_code == 200 and config.json()["not_found_style"] == "user_null"
    with instagram_client(sim) as client:
        assert client.get(PROFILE, params={"username": missing}).json()["data"] == {"user": None}
    for bad in ({"not_found_style": "maybe"}, {"nonsense": 1}, {"min_chrome_major": -1}):
        assert httpx.post(sim.base_url + "/__sim__/config", json=bad).status_code == 400


def test_a_renamed_account_keeps_its_id_stories_and_followers(sim: SimulatorServer) -> None:
    name = private_with_story(sim)
    reel_id = user_id_for(name)
    follower = sim.session_ids[0]
    sim.follow(follower, [name])
    before = httpx.get(sim.base_url + "/__sim__/truth", params={"username": name}).json()
    new_name = sim.state.truth.usernames(1, kind="missing", prefix="renamed")[0]  # a free name
    url = sim.base_url + "/__sim__/renames"
    answer = httpx.post(url, json={"username": name, "new_username": new_name})
    assert answer.status_code == 200, answer.text
    after = answer.json()["profile"]
    assert (after["username"], after["user_id"]) == (new_name, before["user_id"])
    assert after["taken_at"] == before["taken_at"]  # the same stories
    assert httpx.get(url).json() == {"renames": {name: new_name}}
    with instagram_client(sim, session=follower) as client:
        # The old name is free: "no such user". The new one is the account, still followed.
        assert client.get(PROFILE, params={"username": name}).status_code == 404
        user = client.get(PROFILE, params={"username": new_name}).json()["data"]["user"]
        assert (user["id"], user["username"], user["followed_by_viewer"]) == (
            reel_id,
            new_name,
            True,
        )
        # Asked by its id, its reel names it by the new name.
        reel = client.get(REELS, params={"reel_ids": reel_id}).json()["reels_media"][0]
        assert reel["user"]["username"] == new_name
        assert len(reel["items"]) == before["items"]

    # Another account takes the free name: the name now leads to that account's id, and the
    # first account's id still answers as the new name.
    other = sim.state.truth.usernames(1, kind="poster", prefix="other")[0]
    httpx.post(url, json={"username": other, "new_username": name}).raise_for_status()
    with instagram_client(sim, session=follower) as client:
        user = client.get(PROFILE, params={"username": name}).json()["data"]["user"]
        assert user["id"] == user_id_for(other) != reel_id
        reels = client.get(REELS, params={"reel_ids": reel_id}).json()["reels_media"]
        assert [r["user"]["username"] for r in reels] == [new_name]
    # A name in use cannot be taken; a missing account cannot be renamed; names are checked.
    assert httpx.post(url, json={"username": new_name, "new_username": name}).status_code == 400
    missing = sim.state.truth.usernames(1, kind="missing")[0]
    assert httpx.post(url, json={"username": missing, "new_username": "x_1"}).status_code == 400
    assert httpx.post(url, json={"username": new_name, "new_username": "no way"}).status_code == 400
    assert httpx.post(url, json={"username": new_name}).status_code == 400
    # Back to the name it was created under (free again after the other account moves on).
    httpx.post(url, json={"username": name, "new_username": other}).raise_for_status()
    httpx.post(url, json={"username": new_name, "new_username": name}).raise_for_status()
    assert httpx.get(url).json() == {"renames": {}}
