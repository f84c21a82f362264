"""One test per allowed and per forbidden transition of DESIGN.md §3.2."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storycheck.batches.models import Batch, BatchLog, BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.errors import Conflict, NotFound, ValidationError
from tests.batches.helpers import assert_invariants, finish_items, snapshot
from tests.factories import make_profiles, set_settings


def _create(manager: BatchStateManager, niche_profiles: tuple[str, list[str]]) -> str:
    niche_id, profile_ids = niche_profiles
    return manager.create_batch(niche_id=niche_id, profile_ids=profile_ids).id


def _state_logs(manager: BatchStateManager, batch_id: str) -> list[str]:
    with manager.db.read() as session:
        return list(
            session.scalars(
                select(BatchLog.message)
                .where(BatchLog.batch_id == batch_id, BatchLog.event_type == "STATE_CHANGE")
                .order_by(BatchLog.timestamp)
            )
        )


# ---------------------------------------------------------------- allowed


def test_create_with_free_slot_starts_at_once(manager, niche_profiles, pool):
    batch_id = _create(manager, niche_profiles)
    assert snapshot(manager.db)[batch_id] == ("in_progress", 0)
    assert pool.running == {batch_id}
    assert any("queued → in_progress" in m for m in _state_logs(manager, batch_id))
    assert_invariants(manager.db)


def test_create_while_running_queues_at_end(manager, niche_profiles, pool):
    first = _create(manager, niche_profiles)
    second = _create(manager, niche_profiles)
    third = _create(manager, niche_profiles)
    assert snapshot(manager.db) == {
        first: ("in_progress", 0),
        second: ("queued", 1),
        third: ("queued", 2),
    }
    assert pool.running == {first}
    assert_invariants(manager.db)


def test_create_copies_profiles_as_pending_items(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    with manager.db.read() as session:
        statuses = session.scalars(
            select(BatchProfile.status).where(BatchProfile.batch_id == batch_id)
        ).all()
        total = session.get(Batch, batch_id).total_profiles
    assert statuses == ["pending"] * 5 and total == 5


def test_create_deduplicates_profile_ids(manager, niche_profiles):
    niche_id, profile_ids = niche_profiles
    batch = manager.create_batch(niche_id=niche_id, profile_ids=profile_ids + profile_ids[:2])
    assert batch.total_profiles == 5


def test_stop_queued_pauses_and_renumbers(manager, niche_profiles):
    first, second, third = (_create(manager, niche_profiles) for _ in range(3))
    manager.stop([second])
    assert snapshot(manager.db) == {
        first: ("in_progress", 0),
        second: ("paused", None),
        third: ("queued", 1),
    }
    assert_invariants(manager.db)


def test_stop_running_pauses_and_promotes_next(manager, niche_profiles, pool):
    first, second = (_create(manager, niche_profiles) for _ in range(2))
    manager.stop([first])
    assert snapshot(manager.db) == {first: ("paused", None), second: ("in_progress", 0)}
    assert ("unregister", first) in pool.calls and pool.running == {second}
    assert_invariants(manager.db)


def test_complete_marks_done_and_promotes_next(manager, niche_profiles, pool):
    first, second = (_create(manager, niche_profiles) for _ in range(2))
    finish_items(manager.db, first, story=True)
    assert manager.complete_if_finished(first) is True
    snap = snapshot(manager.db)
    assert snap == {first: ("done", None), second: ("in_progress", 0)}
    with manager.db.read() as session:
        done = session.get(Batch, first)
        assert done.completed_at is not None and done.successful_checks == 5
    assert pool.running == {second}
    assert_invariants(manager.db)


def test_resume_paused_requeues_at_end(manager, niche_profiles):
    first, second, third = (_create(manager, niche_profiles) for _ in range(3))
    manager.stop([second])
    manager.resume([second])
    assert snapshot(manager.db) == {
        first: ("in_progress", 0),
        third: ("queued", 1),
        second: ("queued", 2),
    }
    assert_invariants(manager.db)


def test_resume_when_nothing_runs_starts_at_once(manager, niche_profiles, pool):
    only = _create(manager, niche_profiles)
    manager.stop([only])
    assert pool.running == set()
    manager.resume([only])
    assert snapshot(manager.db) == {only: ("in_progress", 0)}
    assert pool.running == {only}


def test_resume_many_never_puts_two_at_position_zero(manager, niche_profiles):
    ids = [_create(manager, niche_profiles) for _ in range(3)]
    manager.stop(ids)
    manager.resume(ids)
    assert sorted(pos for _, pos in snapshot(manager.db).values()) == [0, 1, 2]
    assert_invariants(manager.db)


def test_start_paused_requeues(manager, niche_profiles):
    first, second = (_create(manager, niche_profiles) for _ in range(2))
    manager.stop([second])
    manager.start([second])
    assert snapshot(manager.db)[second] == ("queued", 1)


def test_start_done_reruns_from_scratch(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    finish_items(manager.db, batch_id, story=True)
    manager.complete_if_finished(batch_id)
    manager.start([batch_id])
    with manager.db.read() as session:
        batch = session.get(Batch, batch_id)
        open_items = session.scalar(
            select(func.count())
            .select_from(BatchProfile)
            .where(BatchProfile.batch_id == batch_id, BatchProfile.status == "pending")
        )
    assert (batch.status, batch.queue_position) == ("in_progress", 0)
    assert (batch.completed_profiles, batch.successful_checks, batch.completed_at) == (0, 0, None)
    assert open_items == 5
    assert_invariants(manager.db)


@pytest.mark.parametrize("verb", ["start", "resume"])
def test_start_or_resume_queued_is_a_noop(manager, niche_profiles, verb):
    first, second, third = (_create(manager, niche_profiles) for _ in range(3))
    before = snapshot(manager.db)
    getattr(manager, verb)([third])
    assert snapshot(manager.db) == before


def test_reorder_moves_listed_batches_to_front(manager, niche_profiles):
    running = _create(manager, niche_profiles)
    a, b, c = (_create(manager, niche_profiles) for _ in range(3))
    queue = manager.reorder([c, a])
    assert [x.id for x in queue] == [c, a, b]
    assert snapshot(manager.db) == {
        running: ("in_progress", 0),
        c: ("queued", 1),
        a: ("queued", 2),
        b: ("queued", 3),
    }
    assert_invariants(manager.db)


def test_transition_state_requeue_at_given_position(manager, niche_profiles):
    _create(manager, niche_profiles)
    a, b = (_create(manager, niche_profiles) for _ in range(2))
    manager.stop([b])
    manager.transition_state(b, "queued", queue_position=1)
    assert snapshot(manager.db)[b] == ("queued", 1) and snapshot(manager.db)[a] == ("queued", 2)


@pytest.mark.parametrize("which", ["queued", "in_progress", "paused", "done"])
def test_delete_any_state_renumbers_and_promotes(manager, niche_profiles, pool, which):
    running = _create(manager, niche_profiles)
    q1, q2 = (_create(manager, niche_profiles) for _ in range(2))
    target = {"queued": q1, "in_progress": running}.get(which)
    if which == "paused":
        manager.stop([q1])
        target = q1
    if which == "done":
        finish_items(manager.db, running)
        manager.complete_if_finished(running)
        target = running
    manager.delete([target])
    snap = snapshot(manager.db)
    assert target not in snap
    with manager.db.read() as session:
        leftovers = session.scalar(
            select(func.count()).select_from(BatchProfile).where(BatchProfile.batch_id == target)
        )
        logs = session.scalar(
            select(func.count()).select_from(BatchLog).where(BatchLog.batch_id == target)
        )
    assert leftovers == 0 and logs == 0
    assert sorted(pos for _, pos in snap.values() if pos is not None) == list(
        range(0, len([p for _, p in snap.values() if p is not None]))
    )
    assert_invariants(manager.db)


def test_retry_failed_requeues_done_batch(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    finish_items(manager.db, batch_id, status="failed")
    manager.complete_if_finished(batch_id)
    batch = manager.retry_failed(batch_id)
    assert (batch.status, batch.queue_position) == ("in_progress", 0)
    assert batch.failed_checks == 0 and batch.completed_profiles == 0
    assert_invariants(manager.db)


def test_max_concurrent_batches_two(manager, niche_profiles, database, pool):
    set_settings(database, max_concurrent_batches=2)
    a, b, c = (_create(manager, niche_profiles) for _ in range(3))
    assert snapshot(database) == {a: ("in_progress", 0), b: ("in_progress", 0), c: ("queued", 1)}
    assert pool.running == {a, b}
    assert_invariants(database)


def test_reconcile_heals_pool_and_releases_leases(manager, niche_profiles, pool, database):
    batch_id = _create(manager, niche_profiles)
    pool.running.clear()  # a crash between commit and notification
    with database.write() as session:
        from sqlalchemy import update

        session.execute(
            update(BatchProfile)
            .where(BatchProfile.batch_id == batch_id)
            .values(status="in_flight", lease_token="x")
        )
    manager.reconcile(release_all_leases=True)
    assert pool.running == {batch_id}
    with database.read() as session:
        statuses = set(
            session.scalars(select(BatchProfile.status).where(BatchProfile.batch_id == batch_id))
        )
    assert statuses == {"pending"}


def test_reconcile_completes_finished_running_batch(manager, niche_profiles, database):
    first, second = (_create(manager, niche_profiles) for _ in range(2))
    finish_items(database, first)
    manager.reconcile()
    assert snapshot(database) == {first: ("done", None), second: ("in_progress", 0)}


# ---------------------------------------------------------------- forbidden


def _paused(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    manager.stop([batch_id])
    return batch_id


def _done(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    finish_items(manager.db, batch_id)
    manager.complete_if_finished(batch_id)
    return batch_id


@pytest.mark.parametrize(
    ("make", "verb"),
    [
        (_paused, "stop"),
        (_done, "stop"),
        (_done, "resume"),
        (_create, "start"),  # already running
        (_create, "resume"),  # already running
    ],
)
def test_illegal_transition_is_409_and_changes_nothing(manager, niche_profiles, make, verb):
    batch_id = make(manager, niche_profiles)
    before = snapshot(manager.db)
    with pytest.raises(Conflict) as info:
        getattr(manager, verb)([batch_id])
    assert "Cannot" in info.value.message
    assert snapshot(manager.db) == before


def test_start_running_reports_running_ids(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    with pytest.raises(Conflict) as info:
        manager.start([batch_id])
    assert info.value.extra["running_batch_ids"] == [batch_id]


def test_mixed_list_with_illegal_member_changes_nothing(manager, niche_profiles):
    done = _done(manager, niche_profiles)
    running = _create(manager, niche_profiles)
    queued = _create(manager, niche_profiles)
    before = snapshot(manager.db)
    with pytest.raises(Conflict):
        manager.stop([queued, done])
    assert snapshot(manager.db) == before
    assert running in before


def test_complete_with_open_items_is_refused(manager, niche_profiles):
    batch_id = _create(manager, niche_profiles)
    assert manager.complete_if_finished(batch_id) is False
    with pytest.raises(Conflict):
        manager.transition_state(batch_id, "done")
    assert snapshot(manager.db)[batch_id] == ("in_progress", 0)


@pytest.mark.parametrize("make", [_paused, _done])
def test_complete_of_not_running_batch_is_refused(manager, niche_profiles, make):
    batch_id = make(manager, niche_profiles)
    before = snapshot(manager.db)
    with pytest.raises(Conflict):
        manager.transition_state(batch_id, "done")
    assert snapshot(manager.db) == before


def test_direct_in_progress_is_refused(manager, niche_profiles):
    _create(manager, niche_profiles)
    queued = _create(manager, niche_profiles)
    with pytest.raises(Conflict):
        manager.transition_state(queued, "in_progress")
    assert snapshot(manager.db)[queued] == ("queued", 1)


@pytest.mark.parametrize("make", [_paused, _done, _create])
def test_reorder_of_not_queued_is_refused(manager, niche_profiles, make):
    batch_id = make(manager, niche_profiles)
    with pytest.raises(Conflict):
        manager.reorder([batch_id])


def test_unknown_ids_are_404(manager):
    for verb in ("start", "stop", "resume", "delete", "reorder"):
        with pytest.raises(NotFound):
            getattr(manager, verb)(["00000000-0000-0000-0000-000000000000"])


def test_bad_id_lists_are_400(manager):
    for bad in ([], "abc", [1, 2], [""], None):
        with pytest.raises(ValidationError):
            manager.stop(bad)


def test_create_with_unknown_profile_is_404_and_writes_nothing(manager, niche_profiles, database):
    niche_id, profile_ids = niche_profiles
    with pytest.raises(NotFound):
        manager.create_batch(niche_id=niche_id, profile_ids=profile_ids + ["nope"])
    assert snapshot(database) == {}


def test_retry_without_failures_is_409(manager, niche_profiles):
    batch_id = _done(manager, niche_profiles)
    with pytest.raises(Conflict):
        manager.retry_failed(batch_id)


def test_whole_niche_batch_uses_active_profiles(manager, database, niche_profiles):
    niche_id, _ = niche_profiles
    make_profiles(database, niche_id, 3)
    batch = manager.create_batch(niche_id=niche_id, all_profiles=True)
    assert batch.total_profiles == 8
