"""Events are recorded in the caller's transaction, once per fact, by every source."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storycheck.alerts.events import record_event, summary
from storycheck.alerts.models import AlertEvent
from storycheck.alerts.sources import (
    check_stalled_batches,
    on_new_story_windows,
    pair_needs_attention,
)
from storycheck.batches.models import Batch, BatchProfile, ItemStatus
from storycheck.batches.state import BatchStateManager, counters_from_items
from storycheck.db import Database, new_id, utcnow
from storycheck.proxies.models import IgSession, Proxy
from storycheck.stories.models import StoryResult
from tests.factories import make_niche, make_profiles


def _events(db: Database, event_type: str | None = None) -> list[AlertEvent]:
    with db.read() as session:
        query = select(AlertEvent).order_by(AlertEvent.created_at, AlertEvent.id)
        if event_type:
            query = query.where(AlertEvent.type == event_type)
        return list(session.scalars(query))


def test_record_event_is_idempotent_per_dedupe_key(alert_db):
    with alert_db.write() as session:
        first = record_event(session, "batch.stalled", {"batch_id": "b"}, dedupe_key="k1")
        again = record_event(session.connection(), "batch.stalled", {"x": 1}, dedupe_key="k1")
    assert first is not None and again is None
    events = _events(alert_db)
    assert [e.id for e in events] == [first]
    assert json.loads(events[0].payload) == {"batch_id": "b"}


def test_an_event_rolls_back_with_its_fact(alert_db):
    with pytest.raises(RuntimeError), alert_db.write() as session:
        record_event(session, "batch.stalled", {}, dedupe_key="lost-with-the-fact")
        raise RuntimeError("the fact's transaction fails")
    assert _events(alert_db) == []


def test_unknown_event_type_is_refused(alert_db):
    with pytest.raises(ValueError), alert_db.write() as session:
        record_event(session, "story.maybe", {}, dedupe_key="x")


def test_story_detected_once_per_window_and_target_once_per_day(alert_db):
    niche_id = make_niche(alert_db, name="fitness", daily_story_target=3)
    profiles = make_profiles(alert_db, niche_id, 5)
    now = utcnow()
    with alert_db.write() as session:
        ids = on_new_story_windows(session.connection(), profiles[:2], now,
                                   window_keys={p: "w1" for p in profiles[:2]})
    assert len(ids) == 2  # two windows, target 3 not reached yet
    with alert_db.write() as session:
        # The same windows reported again (a duplicated call) add nothing.
        assert on_new_story_windows(session, profiles[:2], now,
                                    window_keys={p: "w1" for p in profiles[:2]}) == []
    with alert_db.write() as session:
        ids = on_new_story_windows(session, [profiles[2]], now + timedelta(seconds=1),
                                   details={profiles[2]: {"item_count": 2}})
    assert len(ids) == 2  # the third window, and the niche reached its target
    with alert_db.write() as session:
        on_new_story_windows(session, profiles[3:], now + timedelta(seconds=2))
    stories = _events(alert_db, "story.detected")
    assert sorted(json.loads(e.payload)["profile_id"] for e in stories) == sorted(profiles)
    assert all(e.niche_id == niche_id for e in stories)
    third = next(json.loads(e.payload) for e in stories
                 if json.loads(e.payload)["profile_id"] == profiles[2])
    assert third["item_count"] == 2 and third["niche_name"] == "fitness"
    assert third["story_url"].endswith(f"/stories/{third['username']}/")
    targets = _events(alert_db, "niche.target_reached")
    assert len(targets) == 1
    payload = json.loads(targets[0].payload)
    assert payload["stories_today"] == 3 and payload["daily_story_target"] == 3


def test_target_counts_stories_recorded_before_the_call(alert_db):
    niche_id = make_niche(alert_db, daily_story_target=2)
    first, second = make_profiles(alert_db, niche_id, 2)
    now = utcnow()
    with alert_db.write() as session:
        session.add(StoryResult(profile_id=first, detected_at=now,
                                expires_at=now + timedelta(hours=24)))
    with alert_db.write() as session:
        on_new_story_windows(session, [second], now)
    assert len(_events(alert_db, "niche.target_reached")) == 1


def test_batch_completed_is_recorded_by_the_state_manager(alert_db):
    niche_id = make_niche(alert_db)
    profiles = make_profiles(alert_db, niche_id, 3)
    state = BatchStateManager(alert_db)
    batch = state.create_batch(niche_id=niche_id, profile_ids=profiles)
    assert batch.status == "in_progress"
    assert not state.complete_if_finished(batch.id)
    assert _events(alert_db, "batch.completed") == []
    with alert_db.write() as session:
        session.execute(update(BatchProfile).where(BatchProfile.batch_id == batch.id)
                        .values(status=ItemStatus.COMPLETED.value, has_story=True))
    assert state.complete_if_finished(batch.id)
    assert not state.complete_if_finished(batch.id)
    events = _events(alert_db, "batch.completed")
    assert len(events) == 1
    payload = json.loads(events[0].payload)
    assert payload["batch_id"] == batch.id and payload["stories_found"] == 3


def test_batch_completed_says_unknowns_apart_from_no_story(alert_db):
    # Five accounts: a story, a proven "no story", a private one no session follows (unknown),
    # one that does not exist, and a check that failed. Only one of them is "no story".
    niche_id = make_niche(alert_db, name="Mixed")
    profiles = make_profiles(alert_db, niche_id, 5)
    state = BatchStateManager(alert_db)
    batch = state.create_batch(niche_id=niche_id, profile_ids=profiles)
    answers = [
        {"status": ItemStatus.COMPLETED.value, "has_story": True, "outcome": "story"},
        {"status": ItemStatus.COMPLETED.value, "outcome": "no_story"},
        {"status": ItemStatus.COMPLETED.value, "outcome": "private"},
        {"status": ItemStatus.FAILED.value, "failure_kind": "not_found"},
        {"status": ItemStatus.FAILED.value, "failure_kind": "transient"},
    ]
    with alert_db.write() as session:
        for profile_id, values in zip(profiles, answers, strict=True):
            session.execute(
                update(BatchProfile)
                .where(BatchProfile.batch_id == batch.id, BatchProfile.profile_id == profile_id)
                .values(**values)
            )
        session.execute(
            update(Batch).where(Batch.id == batch.id).values(
                **counters_from_items(session, batch.id)
            )
        )
    assert state.complete_if_finished(batch.id)
    (event,) = _events(alert_db, "batch.completed")
    payload = json.loads(event.payload)
    assert (payload["stories_found"], payload["no_story"], payload["private_profiles"]) == (1, 1, 1)
    assert summary("batch.completed", payload) == (
        "Batch of Mixed finished: 1 story, 1 no story, 1 unknown (private, not followed), "
        "1 failed (unknown), 1 do not exist (5 of 5 checks)"
    )


def test_batch_completed_by_the_reconciler(alert_db):
    niche_id = make_niche(alert_db)
    profiles = make_profiles(alert_db, niche_id, 2)
    state = BatchStateManager(alert_db)
    batch = state.create_batch(niche_id=niche_id, profile_ids=profiles)
    with alert_db.write() as session:
        session.execute(update(BatchProfile).where(BatchProfile.batch_id == batch.id)
                        .values(status=ItemStatus.FAILED.value))
    state.reconcile()
    state.reconcile()
    events = _events(alert_db, "batch.completed")
    assert [json.loads(e.payload)["failed_checks"] for e in events] == [2]


def _pair(db: Database, health: str) -> str:
    proxy_id = new_id()
    with db.write() as session:
        session.add(Proxy(id=proxy_id, ip="127.0.0.9", port=3128, health=health,
                          password_encrypted="opaque"))
        session.flush()
        session.add(IgSession(session_encrypted="opaque", session_digest=new_id(),
                              proxy_id=proxy_id))
    return proxy_id


def test_pair_needs_attention_names_the_address_only(alert_db):
    proxy_id = _pair(alert_db, "challenge")
    with alert_db.write() as session:
        assert pair_needs_attention(session, proxy_id, "challenge", reason="checkpoint_required")
    (event,) = _events(alert_db, "pair.needs_attention")
    payload = json.loads(event.payload)
    assert payload == {"proxy_id": proxy_id, "proxy": "http://127.0.0.9:3128",
                       "health": "challenge", "reason": "checkpoint_required"}


def test_batch_stalled_only_without_usable_pairs_and_once_per_run(alert_db):
    niche_id = make_niche(alert_db)
    profiles = make_profiles(alert_db, niche_id, 2)
    state = BatchStateManager(alert_db)
    batch = state.create_batch(niche_id=niche_id, profile_ids=profiles)
    proxy_id = _pair(alert_db, "ready")
    later = utcnow() + timedelta(minutes=11)
    with alert_db.write() as session:
        assert check_stalled_batches(session, later, 10) == []  # a usable pair exists
    with alert_db.write() as session:
        session.execute(update(Proxy).where(Proxy.id == proxy_id).values(health="invalid"))
    with alert_db.write() as session:
        assert check_stalled_batches(session, utcnow(), 10) == []  # not for 10 minutes yet
    with alert_db.write() as session:
        assert len(check_stalled_batches(session, later, 10)) == 1
    with alert_db.write() as session:
        assert check_stalled_batches(session, later + timedelta(minutes=5), 10) == []
    (event,) = _events(alert_db, "batch.stalled")
    assert json.loads(event.payload)["batch_id"] == batch.id


def test_a_batch_whose_only_pair_cools_for_long_is_stalled_too(alert_db):
    niche_id = make_niche(alert_db, name="slow")
    state = BatchStateManager(alert_db)
    state.create_batch(niche_id=niche_id, profile_ids=make_profiles(alert_db, niche_id, 2))
    proxy_id = _pair(alert_db, "cooling")
    later = utcnow() + timedelta(minutes=11)
    with alert_db.write() as session:
        session.execute(update(Proxy).where(Proxy.id == proxy_id)
                        .values(cooldown_until=later + timedelta(hours=5)))
    with alert_db.write() as session:
        assert len(check_stalled_batches(session, later, 10)) == 1
    (event,) = _events(alert_db, "batch.stalled")
    payload = json.loads(event.payload)
    assert payload["waiting_reason"].startswith("no usable pair: 1 cooling until ")
    assert summary(event.type, payload).startswith(
        "Batch of slow is stalled for 10 minutes: no usable pair: 1 cooling until "
    )


def test_story_detected_names_the_window_record_sightings_opened(alert_db):
    from storycheck.stories.windows import Sighting, record_sightings

    niche_id = make_niche(alert_db, daily_story_target=0)
    (profile_id,) = make_profiles(alert_db, niche_id, 1)
    seen = utcnow().timestamp()
    sighting = Sighting(profile_id=profile_id, batch_id=None, seen_at=seen, item_count=3,
                        first_taken_at=seen - 600, last_taken_at=seen - 60,
                        expires_at=seen + 3600)
    with alert_db.write() as session:
        conn = session.connection()
        new = record_sightings(conn, [sighting])
        assert new == [profile_id]
        assert len(on_new_story_windows(conn, new, utcnow())) == 1
    with alert_db.write() as session:
        conn = session.connection()
        # The same window seen again: record_sightings reports nothing new, and a duplicated
        # call for the same window still records nothing.
        assert record_sightings(conn, [sighting]) == []
        assert on_new_story_windows(conn, [profile_id], utcnow()) == []
    (event,) = _events(alert_db, "story.detected")
    payload = json.loads(event.payload)
    assert payload["item_count"] == 3 and payload["window_id"]
    assert payload["expires_at"] and payload["posted_at"] < payload["expires_at"]
    assert event.subject_id == profile_id
