"""Recorder: leases and exactly-once recording against a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchLog, BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from storycheck.engine.checker import WorkItem
from storycheck.engine.health import PairEvent
from storycheck.engine.recorder import (
    Identity,
    ItemOutcome,
    LogRow,
    PairWrite,
    PersistJob,
    Recorder,
)
from storycheck.engine.types import NotFoundOpinion
from storycheck.profiles.models import Profile
from storycheck.proxies.models import Proxy, ProxyErrorLog, ProxyUsage
from storycheck.stories.models import StoryResult
from storycheck.testing import ProxySpec, seed_niche, seed_pairs, seed_profiles


@pytest.fixture
def any_db(database_url: str) -> Iterator[Database]:
    """The SQLite file, and (marked `postgres`) the local PostgreSQL."""
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def world(any_db: Database) -> tuple[Database, BatchStateManager, Recorder, str]:
    niche = seed_niche(any_db)
    names = [f"user{i:03d}" for i in range(10)]
    seed_profiles(any_db, niche, names, user_ids={n: str(1000 + i) for i, n in enumerate(names)})
    return any_db, BatchStateManager(any_db), Recorder(any_db), niche


def outcomes(items: list[WorkItem], *, story_every: int = 2) -> list[ItemOutcome]:
    now = time.time()
    return [
        ItemOutcome(
            item=item,
            status="completed",
            processed_at=now,
            has_story=i % story_every == 0,
            item_count=1 if i % story_every == 0 else 0,
            newest_taken_at=int(now) - 60 if i % story_every == 0 else None,
        )
        for i, item in enumerate(items)
    ]


def counters(db: Database, batch_id: str) -> tuple[int, int, int]:
    with db.read() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        return batch.completed_profiles, batch.successful_checks, batch.failed_checks


def count(db: Database, model: type, **where: object) -> int:
    with db.read() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)


def test_claim_leases_only_items_of_running_batches(world: tuple) -> None:
    db, state, recorder, niche = world
    running = state.create_batch(niche_id=niche, all_profiles=True).id
    queued = state.create_batch(niche_id=niche, all_profiles=True).id
    assert recorder.claim(queued, resolved=True, limit=100, lease_seconds=30, now=time.time()) == []
    items = recorder.claim(running, resolved=True, limit=4, lease_seconds=30, now=time.time())
    assert len(items) == 4 and len({i.lease_token for i in items}) == 1
    assert (
        recorder.claim(running, resolved=False, limit=10, lease_seconds=30, now=time.time()) == []
    )
    with db.read() as session:
        leased = session.scalars(
            select(BatchProfile).where(BatchProfile.status == "in_flight")
        ).all()
        assert {bp.id for bp in leased} == {i.id for i in items}
        assert all(bp.lease_token == items[0].lease_token and bp.lease_expires_at for bp in leased)
    state.stop([running])
    assert recorder.claim(running, resolved=True, limit=10, lease_seconds=30, now=time.time()) == []


def test_outcomes_are_recorded_exactly_once(world: tuple) -> None:
    db, state, recorder, niche = world
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    answers = outcomes(items)
    report = recorder.record(answers, retention_hours=24, now=time.time())
    assert report.recorded == {i.id for i in items}
    assert counters(db, batch_id) == (10, 5, 0)
    # The same answers again (a duplicate), then a late answer: nothing changes.
    again = recorder.record(answers, retention_hours=24, now=time.time())
    assert again.recorded == set()
    assert counters(db, batch_id) == (10, 5, 0)
    assert count(db, StoryResult) == 5
    assert count(db, BatchLog, event_type="STORY_FOUND") == 5
    with db.read() as session:
        assert session.scalar(select(func.sum(Profile.total_checks))) == 10
        assert session.scalar(select(func.sum(Profile.total_detections))) == 5
        result = session.scalars(select(StoryResult)).first()
        assert result is not None
        assert (result.expires_at - result.detected_at).total_seconds() == pytest.approx(24 * 3600)
        assert check_invariants(session) == []
    state.complete_if_finished(batch_id)


def test_an_answer_for_a_lost_lease_changes_nothing(world: tuple) -> None:
    db, state, recorder, niche = world
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    stale = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    # The lease expires and the reconciler hands the items out again.
    state.reconcile(release_all_leases=True)
    fresh = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    assert {i.id for i in fresh} == {i.id for i in stale}
    assert recorder.record(outcomes(stale), retention_hours=24, now=time.time()).recorded == set()
    assert counters(db, batch_id) == (0, 0, 0)
    assert recorder.record(outcomes(fresh), retention_hours=24, now=time.time()).recorded
    assert counters(db, batch_id) == (10, 5, 0)


def test_nothing_is_written_for_a_deleted_batch(world: tuple) -> None:
    db, state, recorder, niche = world
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    for item in items[:3]:
        item.resolved_now = True
    state.delete([batch_id])
    assert recorder.record(outcomes(items), retention_hours=24, now=time.time()).recorded == set()
    assert recorder.release(items, now=time.time()) == 0
    # A late lookup of the deleted batch does not touch the profile either.
    late = Identity(items[0].profile_id, "999", False, None, None, item_id=items[0].id)
    recorder.save_identities([late], now=time.time())
    with db.read() as session:
        profile = session.get(Profile, items[0].profile_id)
        assert profile is not None and profile.ig_user_id != "999"
    recorder.persist(
        PersistJob(logs=[LogRow(batch_id, "RETRY", "late", time.time())]), now=time.time()
    )
    assert count(db, StoryResult) == 0
    assert count(db, BatchLog, batch_id=batch_id) == 0
    with db.read() as session:
        assert session.scalar(select(func.sum(Profile.total_checks))) == 0


def test_a_looked_up_id_is_saved_at_once_and_release_keeps_attempts(any_db: Database) -> None:
    engine_db = any_db
    niche = seed_niche(engine_db)
    seed_profiles(engine_db, niche, ["a", "b"])
    state = BatchStateManager(engine_db)
    recorder = Recorder(engine_db)
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=False, limit=10, lease_seconds=30, now=time.time())
    # The id is saved while its item is still in flight (its own short transaction) …
    recorder.save_identities(
        [Identity(items[0].profile_id, "77", True, None, followed=None)], now=time.time()
    )
    with engine_db.read() as session:
        assert session.scalar(
            select(BatchProfile.status).where(BatchProfile.id == items[0].id)
        ) == ("in_flight")
        profile = session.get(Profile, items[0].profile_id)
        assert profile is not None and (profile.ig_user_id, profile.is_private) == ("77", True)
    items[1].attempts = 2
    assert recorder.release(items, now=time.time()) == 2
    with engine_db.read() as session:
        rows = {bp.profile_id: bp for bp in session.scalars(select(BatchProfile))}
        assert {bp.status for bp in rows.values()} == {"pending"}
        assert rows[items[1].profile_id].attempts == 2
    # Now resolved, the item is claimed as ready for a story request: no second lookup.
    again = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    assert [i.ig_user_id for i in again] == ["77"]


def test_a_first_not_found_outlives_its_lease_and_steers_the_next_one(any_db: Database) -> None:
    niche = seed_niche(any_db)
    seed_profiles(any_db, niche, ["gone", "here"])
    state = BatchStateManager(any_db)
    recorder = Recorder(any_db)
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=False, limit=10, lease_seconds=30, now=time.time())
    gone = next(i for i in items if i.username == "gone")
    recorder.save_identities([], [NotFoundOpinion(gone.id, "pair-a")], now=time.time())
    # The worker dies: its leases are returned without anything else written.
    assert recorder.release(items, now=time.time()) == 2
    again = recorder.claim(batch_id, resolved=False, limit=10, lease_seconds=30, now=time.time())
    steered = {i.username: (i.not_found_by, i.avoid_pair) for i in again}
    assert steered == {"gone": ("pair-a", "pair-a"), "here": (None, None)}
    # Withdrawn when a lookup finds the account after all.
    gone = next(i for i in again if i.username == "gone")
    recorder.save_identities([], [NotFoundOpinion(gone.id, None)], now=time.time())
    with any_db.read() as session:
        assert (
            session.scalar(select(BatchProfile.not_found_by).where(BatchProfile.id == gone.id))
            is None
        )


def test_saved_identities_remember_which_session_follows_a_private_account(
    any_db: Database,
) -> None:
    niche = seed_niche(any_db)
    (profile_id,) = seed_profiles(any_db, niche, ["p"])
    recorder = Recorder(any_db)
    state = BatchStateManager(any_db)
    start = float(int(time.time()) - 3600)  # whole seconds: stored times compare exactly

    def follow() -> tuple[str | None, float | None, float | None]:
        """(follower, when its follow was confirmed, when the privacy was looked up)."""
        with any_db.read() as session:
            profile = session.get(Profile, profile_id)
            assert profile is not None
            return (
                profile.followed_by_session_id,
                epoch(profile.followed_checked_at),
                epoch(profile.identity_checked_at),
            )

    recorder.save_identities([Identity(profile_id, "5", True, "s1", True)], now=start)
    assert follow() == ("s1", start, start)
    # A lookup through another session (not following) refreshes the privacy only: it says
    # nothing about s1, so the follow keeps the time s1 confirmed it.
    recorder.save_identities([Identity(profile_id, "5", True, "s2", False)], now=start + 60)
    assert follow() == ("s1", start, start + 60)
    recorder.save_identities([Identity(profile_id, "5", True, "s2", None)], now=start + 90)
    assert follow() == ("s1", start, start + 90)
    # The next batch's item carries that time (its story request reads the follow's age).
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    (leased,) = recorder.claim(batch_id, resolved=True, limit=1, lease_seconds=30, now=start)
    assert (leased.followed_by_session_id, leased.followed_checked_at) == ("s1", start)
    assert leased.identity_checked_at == start + 90
    # s1 confirms again: the follow is dated anew.
    recorder.save_identities([Identity(profile_id, "5", True, "s1", True)], now=start + 120)
    assert follow() == ("s1", start + 120, start + 120)
    # Another session that follows takes over, with its own time.
    recorder.save_identities([Identity(profile_id, "5", True, "s2", True)], now=start + 150)
    assert follow() == ("s2", start + 150, start + 150)
    recorder.save_identities([Identity(profile_id, "5", True, "s1", False)], now=start + 180)
    assert follow() == ("s2", start + 150, start + 180)  # s1 no longer following: no news
    recorder.save_identities([Identity(profile_id, "5", True, "s2", False)], now=start + 240)
    assert follow() == (None, None, start + 240)  # s2 no longer follows: both cleared


def epoch(moment: datetime | None) -> float | None:
    """Unix seconds of a stored time (SQLite hands back naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def test_outcomes_private_counter_and_confirmed_not_found(world: tuple) -> None:
    db, state, recorder, niche = world
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    now = time.time()
    finals = [
        ItemOutcome(items[0], "completed", now, outcome="story", has_story=True, item_count=2),
        ItemOutcome(items[1], "completed", now, outcome="private"),
        ItemOutcome(items[2], "completed", now, outcome="no_story"),
        ItemOutcome(
            items[3], "failed", now, error="gone", failure_kind="not_found", not_found=True
        ),
        ItemOutcome(items[4], "failed", now, error="Asset deleted", failure_kind="unavailable"),
    ]
    assert len(recorder.record(finals, retention_hours=24, now=now).recorded) == 5
    with db.read() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        assert (batch.successful_checks, batch.private_profiles, batch.failed_checks) == (1, 1, 2)
        assert batch.not_found_profiles == 1  # of the two failed, one is an answer
        rows = {bp.id: bp for bp in session.scalars(select(BatchProfile))}
        assert [rows[i.id].outcome for i in items[:3]] == ["story", "private", "no_story"]
        assert [rows[i.id].failure_kind for i in items[3:5]] == ["not_found", "unavailable"]
        missing = session.get(Profile, items[3].profile_id)
        assert missing is not None and missing.not_found and missing.not_found_at is not None
        private = session.get(Profile, items[1].profile_id)
        assert private is not None and not private.active_story and private.total_checks == 1
        assert check_invariants(session) == []


def test_a_rerun_refreshes_its_story_result_instead_of_duplicating_it(world: tuple) -> None:
    db, state, recorder, niche = world
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    items = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    recorder.record(outcomes(items, story_every=1), retention_hours=24, now=time.time())
    assert state.complete_if_finished(batch_id)
    state.start([batch_id])
    items = recorder.claim(batch_id, resolved=True, limit=10, lease_seconds=30, now=time.time())
    recorder.record(outcomes(items, story_every=1), retention_hours=24, now=time.time())
    assert count(db, StoryResult) == 10
    assert counters(db, batch_id) == (10, 10, 0)


def test_persist_writes_usage_counters_and_loses_health_races_to_the_api(
    any_db: Database,
) -> None:
    engine_db = any_db
    from storycheck.crypto import SecretBox

    [proxy_id] = seed_pairs(engine_db, SecretBox("k"), [ProxySpec("http", "h", 1)], ["cookie-1"])
    recorder = Recorder(engine_db)
    now = time.time()
    write = PairWrite(
        proxy_id=proxy_id,
        session_id=None,
        requests=5,
        failures=1,
        requests_this_hour=5,
        avg_response_ms=30,
        errors_since_success=1,
        error_score=1.0,
        consecutive_failures=1,
        backoff_level=1,
        last_used=now,
        last_success=now,
        last_error="HTTP 500",
        health="cooling",
        expected_health="ready",
        cooldown_until=now + 30,
    )
    event = PairEvent(proxy_id, None, now, "rate limited", True, "ready → cooling: test")
    job = PersistJob(usage={(proxy_id, "stories", 7): 3}, pairs=[write], events=[event])
    report = recorder.persist(job, now=now)
    assert report.health_written == {proxy_id: "cooling"}
    recorder.persist(PersistJob(usage={(proxy_id, "stories", 7): 2}), now=now)
    with engine_db.read() as session:
        assert session.scalar(select(ProxyUsage.requests)) == 5
        proxy = session.get(Proxy, proxy_id)
        assert proxy is not None
        assert (proxy.health, proxy.total_requests, proxy.failed_requests) == ("cooling", 5, 1)
        assert session.scalar(select(func.count()).select_from(ProxyErrorLog)) == 1
    with engine_db.write() as session:
        proxy = session.get(Proxy, proxy_id)
        assert proxy is not None
        proxy.health = "disabled"  # the user switched the pair off meanwhile
    write.health, write.expected_health = "ready", "cooling"
    report = recorder.persist(PersistJob(pairs=[write]), now=now)
    assert report.health_conflicts == {proxy_id}
    with engine_db.read() as session:
        assert session.scalar(select(Proxy.health)) == "disabled"
