"""Instagram endpoint shapes over real HTTP, and agreement with the truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

from storycheck.simulator import REELS_QUERY_HASH, PopulationConfig, SimulatorServer, user_id_for

from .conftest import START, FakeClock, instagram_client

DOC_ID = "8123456789012345"


def graphql_params(ids: list[str]) -> dict[str, str]:
    return {
        "query_hash": REELS_QUERY_HASH,
        "variables": json.dumps({"reel_ids": ids, "precomposed_overlay": False}),
    }


def dense(client: httpx.Client, ids: list[str], doc_id: str = DOC_ID) -> httpx.Response:
    """POST the dense form as the web client does."""
    variables = json.dumps({"reel_ids": ids, "precomposed_overlay": False})
    form = {"doc_id": doc_id, "variables": variables, "server_timestamps": "true"}
    return client.post("/graphql/query", data=form)


def test_profile_lookup_has_instagrams_shape(sim: SimulatorServer, client: httpx.Client) -> None:
    name = sim.state.truth.usernames(1, kind="poster")[0]
    response = client.get("/api/v1/users/web_profile_info/", params={"username": name})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    user = body["data"]["user"]
    assert user["id"] == user_id_for(name)
    assert user["username"] == name
    assert user["is_private"] is False
    assert isinstance(user["full_name"], str) and user["profile_pic_url"].startswith("https://")


def test_private_profile_is_found_and_flagged(sim: SimulatorServer, client: httpx.Client) -> None:
    name = sim.state.truth.usernames(1, kind="private")[0]
    response = client.get("/api/v1/users/web_profile_info/", params={"username": name})
    assert response.status_code == 200
    assert response.json()["data"]["user"]["is_private"] is True


def test_unknown_username_is_404_with_empty_body(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    for name in (sim.state.truth.usernames(1, kind="missing")[0], "not a valid name!"):
        response = client.get("/api/v1/users/web_profile_info/", params={"username": name})
        assert response.status_code == 404
        assert response.content == b""


def test_reels_media_lists_only_users_with_a_visible_story(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    truth = sim.state.truth
    live = truth.usernames(3, kind="poster", with_story_at=START)
    silent = truth.usernames(2, kind="poster", without_story_at=START)
    private = truth.usernames(1, kind="private")
    missing = truth.usernames(1, kind="missing")
    ids = [user_id_for(n) for n in live + silent + private + missing] + ["12", "garbage"]
    response = client.get("/api/v1/feed/reels_media/", params=[("reel_ids", i) for i in ids])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["reels"]) == {user_id_for(n) for n in live}
    for name in live:
        reel = body["reels"][user_id_for(name)]
        expected = truth.lookup(name, START)
        assert reel["user"]["username"] == name
        assert str(reel["user"]["pk"]) == user_id_for(name)
        assert len(reel["items"]) == expected["items"] > 0
        assert reel["latest_reel_media"] == expected["latest_reel_media"]
        assert reel["expiring_at"] == expected["expiring_at"]
        for item in reel["items"]:
            assert set(item) >= {"pk", "id", "taken_at", "expiring_at", "media_type"}
            assert item["taken_at"] <= START < item["expiring_at"]
            assert item["id"] == f"{item['pk']}_{user_id_for(name)}"


def test_answers_are_dated_by_the_simulators_clock(
    sim: SimulatorServer, client: httpx.Client, clock: FakeClock
) -> None:
    # A reel's expiring_at is read against the answer's Date, as against Instagram's clock.
    name = sim.state.truth.usernames(1, kind="poster")[0]
    for _ in range(2):
        lookup = client.get("/api/v1/users/web_profile_info/", params={"username": name})
        reels = client.get("/api/v1/feed/reels_media/", params={"reel_ids": "1"})
        for response in (lookup, reels):
            assert parsedate_to_datetime(response.headers["date"]).timestamp() == int(clock.now)
        clock.advance(3 * 86400)


def test_reel_ids_may_be_comma_separated(sim: SimulatorServer, client: httpx.Client) -> None:
    ids = [user_id_for(n) for n in sim.state.truth.usernames(4, kind="poster", with_story_at=START)]
    repeated = client.get("/api/v1/feed/reels_media/", params=[("reel_ids", i) for i in ids]).json()
    joined = client.get(
        "/api/v1/feed/reels_media/",
        params=[("reel_ids", ",".join(ids[:2])), ("reel_ids", ",".join(ids[2:]))],
    ).json()
    assert repeated == joined and len(repeated["reels"]) == 4


def test_more_reel_ids_than_the_cap_is_refused(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    sim = make_sim(reel_ids_cap=5)
    ids = [user_id_for(f"user{n:05d}") for n in range(6)]
    with instagram_client(sim) as client:
        ok = client.get("/api/v1/feed/reels_media/", params=[("reel_ids", i) for i in ids[:5]])
        refused = client.get("/api/v1/feed/reels_media/", params=[("reel_ids", i) for i in ids])
    assert ok.status_code == 200
    assert refused.status_code == 400
    assert refused.json() == {"message": "Too many reels requested", "status": "fail"}


def test_default_caps_are_twenty_and_fifty(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(doc_ids=(DOC_ID,))
    ids = [user_id_for(f"user{n:05d}") or "" for n in range(51)]
    v1 = "/api/v1/feed/reels_media/"
    with instagram_client(sim) as client:
        assert client.get(v1, params=[("reel_ids", i) for i in ids[:20]]).status_code == 200
        assert client.get(v1, params=[("reel_ids", i) for i in ids[:21]]).status_code == 400
        assert dense(client, ids[:50]).status_code == 200
        over = dense(client, ids)
    assert over.status_code == 400 and over.json()["message"] == "Too many reels requested"


def test_query_hash_form_is_dead(sim: SimulatorServer, client: httpx.Client) -> None:
    # Since 2025-02 Instagram answers the query_hash form 200 with `errors` and no `data`,
    # whatever the hash and the ids (instaloader #2522).
    ids = [user_id_for(n) or "" for n in sim.state.truth.usernames(3, with_story_at=START)]
    for params in (graphql_params(ids), {"query_hash": "x", "variables": "{nope"}):
        response = client.get("/graphql/query/", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert "data" not in body and body["status"] == "ok"
        assert body["errors"][0]["code"] == 1675002
        assert body["errors"][0]["summary"] == "Incorrect Query"


def test_dense_form_has_the_xdt_shape(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(doc_ids=(DOC_ID,))
    truth = sim.state.truth
    live = truth.usernames(3, kind="poster", with_story_at=START)
    silent = truth.usernames(3, kind="never_posts")
    ids = [user_id_for(n) or "" for n in live + silent]
    with instagram_client(sim) as client:
        response = dense(client, ids)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    reels = body["data"]["xdt_api__v1__feed__reels_media"]["reels_media"]
    assert [reel["id"] for reel in reels] == ids[:3]
    for reel, name in zip(reels, live, strict=True):
        expected = truth.lookup(name, START)
        assert reel["user"]["username"] == name and reel["user"]["pk"] == user_id_for(name)
        assert len(reel["items"]) == expected["items"]
        assert reel["latest_reel_media"] == expected["latest_reel_media"]
        assert reel["expiring_at"] == expected["expiring_at"]
        for item in reel["items"]:
            assert item["taken_at"] <= START < item["expiring_at"]
            assert item["expiring_at"] - item["taken_at"] == 86400


def test_dense_form_refuses_unknown_doc_ids_and_bad_variables(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    sim = make_sim(doc_ids=(DOC_ID,))
    with instagram_client(sim) as client:
        unknown = dense(client, ["1000000001"], doc_id="999")
        bad = client.post("/graphql/query", data={"doc_id": DOC_ID, "variables": "{nope"})
    assert unknown.status_code == 200
    assert "data" not in unknown.json() and unknown.json()["errors"]
    assert bad.status_code == 400 and bad.json()["status"] == "fail"


def test_reels_media_agrees_with_truth_over_time(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    population = PopulationConfig(slot_seconds=120, story_ttl_seconds=600, story_probability=0.15)
    sim = make_sim(population=population, seed=11, doc_ids=(DOC_ID,))
    names = [f"user{n:05d}" for n in range(60)]
    ids = [user_id_for(n) or "" for n in names]
    changes = 0
    previous: set[str] | None = None
    with instagram_client(sim) as client:
        for _ in range(30):
            clock.advance(47)
            seen: set[str] = set()
            for start in range(0, len(ids), 20):
                chunk = ids[start : start + 20]
                body = client.get("/api/v1/feed/reels_media/", params={"reel_ids": ",".join(chunk)})
                seen |= set(body.json()["reels"])
            reels = dense(client, ids[:50]).json()["data"]["xdt_api__v1__feed__reels_media"]
            truth = client.post("/__sim__/truth", json={"usernames": names}).json()["results"]
            expected = {
                answer["user_id"]
                for answer in truth
                if answer["has_story"] and not answer["is_private"]
            }
            assert seen == expected
            assert {reel["id"] for reel in reels["reels_media"]} == expected & set(ids[:50])
            changes += previous is not None and previous != seen
            previous = seen
    assert changes >= 5


def test_truth_endpoint_answers_for_now_unix_and_iso_times(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    name = sim.state.truth.usernames(1, with_story_at=START)[0]
    now = client.get("/__sim__/truth", params={"username": name}).json()
    assert now == sim.truth(name, START)
    assert set(now) >= {"username", "exists", "is_private", "has_story", "items", "user_id"}
    assert now["has_story"] is True and now["user_id"] == user_id_for(name)
    unix = client.get("/__sim__/truth", params={"username": name, "at": str(START)}).json()
    iso = client.get(
        "/__sim__/truth", params={"username": name, "at": "2025-06-15T15:06:40Z"}
    ).json()
    assert unix == now and iso == now
    by_id = client.get("/__sim__/truth", params={"user_id": user_id_for(name)}).json()
    assert by_id == now
    bulk = client.post("/__sim__/truth", json={"usernames": [name, "zz_missing_x"], "at": START})
    assert bulk.json()["results"][0] == now
    assert client.get("/__sim__/truth", params={"username": name, "at": "soon"}).status_code == 400


def test_truth_matches_the_python_function_for_the_same_seed(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    from storycheck.simulator import truth_for

    sim = make_sim(seed=42)
    with instagram_client(sim) as client:
        for n in range(20):
            name = f"user{n:05d}"
            served = client.get("/__sim__/truth", params={"username": name}).json()
            assert served == truth_for(name, START, seed=42)
