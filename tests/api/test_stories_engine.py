"""`/api/stories/live` equals the simulator's truth after real batches through the engine.

The engine runs against the simulator process over real HTTP (tests/engine fixtures); the API
is a Flask app on the same database. Moving the simulator's clock past a story's expiry and
checking again removes the account from the list (the server is asked with `at=`, the time
the simulated world is at).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.testing import seed_niche, seed_profiles
from tests.engine.conftest import SECRET_KEY, engine_db, rig, secrets, simulator  # noqa: F401

PER_NICHE = 150


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _live(client: Any, **params: Any) -> list[dict[str, Any]]:
    stories: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/stories/live", query_string=query).get_json()
        stories.extend(body["stories"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["total"] == len(stories)
            return stories


def _truth_live(sim: Any, usernames: list[str], at: float) -> set[str]:
    """Who has a live story the checking sessions can see: a private account's story is
    hidden from a session that does not follow it (its outcome is `private`, unknown)."""
    return {name for name in usernames if _visible(sim.truth(name, at))}


def _visible(truth: dict[str, Any]) -> bool:
    return bool(truth["has_story"] and not truth["is_private"] and not truth["business_deleted"])


def _private(sim: Any, usernames: list[str]) -> set[str]:
    found = set()
    for name in usernames:
        truth = sim.truth(name, 0.0)
        if truth["exists"] and truth["is_private"] and not truth["business_deleted"]:
            found.add(name)
    return found


def _run(engine: Any, niches: list[str]) -> list[str]:
    batches = [engine.state.create_batch(niche_id=n, all_profiles=True).id for n in niches]
    for batch_id in batches:
        engine.wait_done(batch_id, timeout=120)
    return batches


def test_live_stories_equal_the_truth_and_leave_when_they_expire(
    simulator: Any, rig: Any, engine_db: Any  # noqa: F811
) -> None:
    sim = simulator(4)
    engine = rig(sim)
    fitness = engine.niche_id
    food = seed_niche(engine_db, "food")
    names = {
        fitness: sim.usernames(PER_NICHE, start=0),
        food: sim.usernames(PER_NICHE, start=PER_NICHE),
    }
    # Three public accounts are businesses Instagram cannot show (400 "Asset … deleted"): in
    # the simulator, and in this test's copy of its truth.
    business = [n for n in names[fitness] if _visible(sim.truth(n, time.time()))][:3]
    for name in business:
        sim.set_profile(name, "business_deleted")
        sim.truth_model.set_kind(name, "business_deleted")
    engine.add_profiles(names[fitness])
    seed_profiles(engine_db, food, names[food])
    everyone = names[fitness] + names[food]

    first_batches = _run(engine, [fitness, food])
    app = create_app(
        Config(database_url=str(engine_db.url), engine_enabled=False, secret_key=SECRET_KEY),
        start_background=False,
    )
    try:
        client = app.test_client()
        now = time.time()
        stories = _live(client, at=_iso(now))
        listed = {s["username"] for s in stories}
        assert listed == _truth_live(sim, everyone, now)
        assert len(listed) > 20
        for niche_id, usernames in names.items():
            in_niche = {s["username"] for s in _live(client, at=_iso(now), niche_id=niche_id)}
            assert in_niche == _truth_live(sim, usernames, now) and in_niche
        for story in stories:
            truth = sim.truth(story["username"], now)
            assert datetime.fromisoformat(story["posted_at"]).timestamp() == (
                truth["latest_reel_media"]
            )
            assert datetime.fromisoformat(story["expires_at"]).timestamp() == truth["expiring_at"]
            assert story["item_count"] == truth["items"]
        counts = client.get("/api/stories/live/counts", query_string={"at": _iso(now)}).get_json()
        assert counts["total"] == len(listed)

        # The batch results list every account; the story count is the batch's stories_found.
        for batch_id, niche_id in zip(first_batches, (fitness, food), strict=True):
            batch = client.get(f"/api/batches/{batch_id}").get_json()
            results = client.get(
                f"/api/batches/{batch_id}/results", query_string={"page_size": 1000}
            ).get_json()
            assert results["total"] == PER_NICHE == len(results["results"])
            assert results["counts"]["story"] == batch["stories_found"]
            with_story = {r["username"] for r in results["results"] if r["outcome"] == "story"}
            assert with_story == _truth_live(sim, names[niche_id], now)
            private = {r["username"] for r in results["results"] if r["outcome"] == "private"}
            assert private == _private(sim, names[niche_id]) and private
            # Each account's story answer is its latest check's: a private account's is
            # unknown, a completed "no story" is "none" (never the other way round).
            profiles = client.get(
                "/api/profiles", query_string={"niche_id": niche_id, "page_size": 1000}
            ).get_json()["profiles"]
            answer = {
                p["username"]: (p["story_answer"], p["story_unknown_reason"]) for p in profiles
            }
            assert {answer[name] for name in private} == {("unknown", "private")}
            no_story = {r["username"] for r in results["results"] if r["outcome"] == "no_story"}
            assert no_story and {answer[name] for name in no_story} == {("none", None)}
            failed = [r for r in results["results"] if r["outcome"] == "failed"]
            assert len(failed) == results["counts"]["failed"] > 0
            assert all(r["failure_kind"] and r["error"] for r in failed)
            # Each result's one-word answer agrees with the simulator's truth: "not found" only
            # for accounts that do not exist, and a business account Instagram cannot show
            # (400 "Asset … has been deleted") is unknown, never "not found" or "no story".
            unshowable = []
            for result in results["results"]:
                truth = sim.truth(result["username"], now)
                if result["answer"] == "not_found":
                    assert not truth["exists"], result
                if truth["business_deleted"]:
                    unshowable.append(result["username"])
                    assert (result["answer"], result["unknown_reason"]) == ("unknown", "failed")
                    assert answer[result["username"]][0] == "unknown", answer[result["username"]]
                if result["answer"] == "no_story":
                    assert truth["exists"] and not truth["has_story"], result
            assert sorted(unshowable) == (sorted(business) if niche_id == fitness else [])

        # Move the simulated world past the first expiry and check everyone again.
        first_expiry = min(datetime.fromisoformat(s["expires_at"]).timestamp() for s in stories)
        leaving = {s["username"] for s in stories if s["expires_at"] == _iso(first_expiry)}
        offset = first_expiry + 10 - time.time()
        httpx.post(f"{sim.base_url}/__sim__/clock", json={"offset": offset}).raise_for_status()
        _run(engine, [fitness, food])
        later = time.time() + offset
        moved = {s["username"] for s in _live(client, at=_iso(later))}
        assert moved == _truth_live(sim, everyone, later)
        gone = leaving - _truth_live(sim, everyone, later)
        assert gone and moved and not (gone & moved)
    finally:
        shutdown(app)
