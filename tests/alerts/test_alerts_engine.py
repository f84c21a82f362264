"""Alerts end to end: real batches through the engine and the simulator, a real webhook receiver.

* After a 600-profile batch the receiver holds exactly one `story.detected` per account the
  simulator's truth says had a visible story when it was checked; ids unique, signatures valid.
* The same accounts checked again send nothing new (one event per story window, not per check).
* A story posted between two batches sends exactly one more.
* A receiver that hangs does not slow the engine: the batch finishes while it hangs.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
from sqlalchemy import select

from storycheck.alerts.delivery import AlertOptions
from storycheck.batches.models import BatchProfile
from storycheck.profiles.models import Profile
from tests.alerts.conftest import WEBHOOK_SECRET
from tests.alerts.test_delivery import running, webhook
from tests.engine.conftest import engine_db, rig, secrets, simulator  # noqa: F401
from tests.helpers import wait_until

PROFILES = 600
FAST = AlertOptions(poll_interval=0.05, backoff_base=0.02, backoff_cap=0.2)


def _checked(db: Any, batch_id: str) -> dict[str, tuple[str | None, float]]:
    """username → (outcome, answer time) of every item of a batch."""
    with db.read() as session:
        rows = session.execute(
            select(Profile.username, BatchProfile.outcome, BatchProfile.processed_at)
            .join(Profile, Profile.id == BatchProfile.profile_id)
            .where(BatchProfile.batch_id == batch_id)
        ).all()
    return {name: (outcome, at.timestamp() if at else 0.0) for name, outcome, at in rows}


def _visible_story(truth: dict[str, Any]) -> bool:
    return bool(truth["has_story"] and not truth["is_private"] and not truth["business_deleted"])


def _story_events(receiver: Any) -> list[dict[str, Any]]:
    events = []
    for request in receiver.accepted():
        signature = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-storycheck-signature"] == f"sha256={signature}"
        body = request.json
        for event in body["events"] if body.get("type") == "digest" else [body]:
            if event["type"] == "story.detected":
                events.append(event)
    return events


def _switch_to_a_live_poster(base_url: str, candidates: list[str]) -> str:
    """Make the first candidate whose story is live now and in a minute a poster; return it."""
    for name in candidates:
        httpx.post(f"{base_url}/__sim__/profiles",
                   json={"username": name, "kind": "poster"}).raise_for_status()
        now = float(httpx.get(f"{base_url}/__sim__/clock").json()["now"])
        if all(
            _visible_story(httpx.get(f"{base_url}/__sim__/truth",
                                     params={"username": name, "at": str(at)}).json())
            for at in (now, now + 60)
        ):
            return name
        httpx.post(f"{base_url}/__sim__/profiles",
                   json={"username": name, "kind": None}).raise_for_status()
    raise AssertionError("no quiet account posts now once switched to a poster")


def _username(event: dict[str, Any]) -> str:
    data = event.get("data") or event.get("payload") or {}
    return str(data["username"])


def test_one_story_detected_per_story_window(
    simulator: Any, rig: Any, engine_db: Any, receivers: Any, secrets: Any  # noqa: F811
) -> None:
    sim = simulator(4)
    engine = rig(sim)
    names = sim.usernames(PROFILES)
    engine.add_profiles(names)
    receiver = receivers()
    webhook(engine_db, secrets, receiver, event_types=["story.detected"])
    deliverer = running(engine_db, secrets, FAST)
    try:
        first = engine.create_batch()
        engine.wait_done(first, timeout=180)
        checked = _checked(engine_db, first)
        expected = {n for n, (_, at) in checked.items() if _visible_story(sim.truth(n, at))}
        assert len(expected) > 30
        wait_until(lambda: len(_story_events(receiver)) >= len(expected), timeout=60,
                   what="the story.detected webhooks")
        events = _story_events(receiver)
        assert sorted(_username(e) for e in events) == sorted(expected)
        assert len({e["id"] for e in events}) == len(events)
        assert {n for n, (o, _) in checked.items() if o == "story"} == expected

        # The same accounts again, at once: the stories are the same windows, nothing new.
        second = engine.create_batch()
        engine.wait_done(second, timeout=180)
        still = {n for n, (o, _) in _checked(engine_db, second).items() if o == "story"}
        assert still, "the second batch should see stories still live"

        # A story posted between two batches: an account without one starts posting. A poster
        # posts on its own schedule, so take the first quiet account (in name order) whose
        # schedule, once it posts, has a story live now and for the next minute.
        quiet = _switch_to_a_live_poster(
            sim.base_url,
            sorted(n for n, (o, _) in _checked(engine_db, second).items() if o == "no_story"),
        )
        third = engine.create_batch(engine.profile_ids[names.index(quiet):][:1])
        engine.wait_done(third, timeout=60)
        assert _checked(engine_db, third)[quiet][0] == "story"
        wait_until(lambda: len(_story_events(receiver)) >= len(expected) + 1, timeout=30,
                   what="the new story's webhook")
        events = _story_events(receiver)
        assert sorted(_username(e) for e in events) == sorted([*expected, quiet])
    finally:
        deliverer.stop()


def test_a_hanging_receiver_does_not_slow_the_checks(
    simulator: Any, rig: Any, engine_db: Any, receivers: Any, secrets: Any  # noqa: F811
) -> None:
    sim = simulator(4)
    engine = rig(sim)
    engine.add_profiles(sim.usernames(200))
    receiver = receivers(hang=True)
    webhook(engine_db, secrets, receiver, config={"url": receiver.url, "timeout_seconds": 30})
    deliverer = running(engine_db, secrets, FAST)
    try:
        batch = engine.create_batch()
        engine.wait_done(batch, timeout=120)  # done while every webhook call still hangs
        assert receiver.accepted() == []
    finally:
        receiver.release.set()
        deliverer.stop()
