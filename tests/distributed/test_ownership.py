"""Pair ownership on PostgreSQL with a fake clock: fair shares, hand-back, takeover from a
dead worker (noticed from its heartbeat), lapses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from storycheck.batches.models import BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.distributed.liveness import Reaper
from storycheck.distributed.models import PairLease, WorkerHeartbeat
from storycheck.distributed.ownership import OwnershipOptions, PairOwnership
from storycheck.engine.recorder import ItemOutcome, Recorder
from storycheck.proxies.models import Proxy, ProxyUsage
from storycheck.testing import ProxySpec, seed_niche, seed_pairs, seed_profiles

pytestmark = pytest.mark.postgres

OPTIONS = OwnershipOptions(lease_seconds=6, renew_interval=2, takeover_grace=3)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeEngine:
    """Stands in for WorkerPool: which pairs it still uses."""

    def __init__(self) -> None:
        self.in_use: set[str] = set()
        self.refreshes = 0

    def refresh_pairs(self) -> None:
        self.refreshes += 1

    def pairs_in_use(self, timeout: float = 5.0) -> set[str]:
        return set(self.in_use)


@pytest.fixture
def pairs_db(pg_database: str) -> Iterator[tuple[Database, list[str]]]:
    from tests.conftest import _truncate_pg

    _truncate_pg(pg_database)
    db = Database(pg_database)
    specs = [ProxySpec("http", f"127.0.0.{i + 10}", 8000 + i) for i in range(6)]
    ids = seed_pairs(db, SecretBox("k"), specs, [f"session-{i}" for i in range(6)])
    yield db, ids
    db.dispose()


def make(db: Database, name: str, clock: Clock) -> tuple[PairOwnership, FakeEngine]:
    owner = PairOwnership(db, name, OPTIONS, clock=clock)
    engine = FakeEngine()
    owner.attach(engine)
    return owner, engine


def test_a_second_worker_gets_its_fair_share_after_a_clean_hand_back(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, engine_a = make(db, "a", clock)
    b, _ = make(db, "b", clock)
    a.tick()
    assert a.owned() == set(ids)
    assert a.allowed(set(ids)) == set(ids)  # never held before: usable at once

    b.tick()  # b joins: nothing is free yet
    assert b.owned() == set()
    clock.now += 1
    a.tick()  # a sees two live workers: share 3, three pairs start draining
    draining = a.owned() - a.allowed(set(ids))
    assert len(draining) == 3 and len(a.allowed(set(ids))) == 3
    engine_a.in_use = set(ids)  # the engine still has them: nothing is handed back yet
    a._finish_draining()
    assert a.owned() == set(ids)
    engine_a.in_use = set(ids) - draining  # the engine let go of them
    a._finish_draining()
    assert a.owned() == set(ids) - draining
    b.tick()
    assert b.owned() == draining
    assert b.allowed(set(ids)) == draining  # handed back cleanly: no takeover grace


def split_between_a_and_b(db: Database, clock: Clock) -> tuple[PairOwnership, PairOwnership]:
    a, _ = make(db, "a", clock)
    b, _ = make(db, "b", clock)
    b.tick()
    a.tick()
    b.tick()  # b sees a: three pairs drain…
    b._finish_draining()  # …and go back once b's engine let go of them
    a.tick()
    assert len(a.owned()) == 3 and len(b.owned()) == 3
    return a, b


def test_a_dead_workers_pairs_and_items_are_freed_from_its_heartbeat(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, b = split_between_a_and_b(db, clock)
    mine = b.owned()
    # b leases items of a running batch, then dies (stops ticking) with them in flight.
    niche = seed_niche(db)
    names = [f"dead{i:02d}" for i in range(8)]
    seed_profiles(db, niche, names, user_ids={n: str(500 + i) for i, n in enumerate(names)})
    state = BatchStateManager(db)
    batch_id = state.create_batch(niche_id=niche, all_profiles=True).id
    leased = Recorder(db, lease_owner=b.worker_id).claim(
        batch_id, resolved=True, limit=5, lease_seconds=600, now=clock.now
    )
    assert len(leased) == 5
    last_heartbeat = clock.now
    # a keeps ticking (woken every half second here); b's heartbeat ages.
    step = 0.5
    while clock.now + step <= last_heartbeat + OPTIONS.lease_seconds:
        clock.now += step
        a.tick()
        assert len(a.owned()) == 3  # b still counts as live
        assert not a.last_reaped
    clock.now += step  # now older than the lease: b is dead
    a.tick()
    # Freed at this tick — long before the 600 s item leases would have run out — and the
    # pacing ledger is left alone.
    assert set(a.last_reaped.silent_for) == {b.worker_id}
    assert a.last_reaped.silent_for[b.worker_id] == OPTIONS.lease_seconds + step
    assert (a.last_reaped.pairs, a.last_reaped.items) == (3, 5)
    with db.read() as session:
        items = session.execute(
            select(BatchProfile.status, BatchProfile.lease_owner, BatchProfile.lease_token).where(
                BatchProfile.id.in_([i.id for i in leased])
            )
        ).all()
        assert items == [("pending", None, None)] * 5
        assert session.scalars(select(WorkerHeartbeat.worker_id)).all() == ["a"]
    assert a.owned() == set(ids)  # the share grew at the same tick
    # b stopped sending `safety` before its lease's end; a waits the takeover grace after that.
    usable_from = last_heartbeat + OPTIONS.lease_seconds - OPTIONS.safety + OPTIONS.takeover_grace
    assert a.allowed(set(ids)) == set(ids) - mine
    clock.now = usable_from - 0.01
    assert a.allowed(set(ids)) == set(ids) - mine
    clock.now = usable_from + 0.01
    assert a.allowed(set(ids)) == set(ids)
    # b's late answer changes nothing: its lease token is gone.
    late = [
        ItemOutcome(item=item, status="completed", processed_at=clock.now) for item in leased
    ]
    assert Recorder(db).record(late, retention_hours=24, now=clock.now).recorded == set()
    again = Recorder(db, lease_owner="a").claim(
        batch_id, resolved=True, limit=10, lease_seconds=30, now=clock.now
    )
    assert {i.id for i in leased} <= {i.id for i in again}
    assert {i.attempts for i in again} == {0}


def test_the_server_frees_a_dead_workers_leases_too(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, b = split_between_a_and_b(db, clock)
    reaper = Reaper(
        db,
        lease_seconds=OPTIONS.lease_seconds,
        safety=OPTIONS.safety,
        grace=OPTIONS.takeover_grace,
        clock=clock,
    )
    assert not reaper()
    clock.now += OPTIONS.lease_seconds + 0.5  # both silent: both dead
    reaped = reaper()
    assert set(reaped.silent_for) == {"a", "b"} and reaped.pairs == len(ids)
    with db.read() as session:
        rows = session.execute(select(PairLease.owner, PairLease.expires_at)).all()
    assert {owner for owner, _ in rows} == {None}
    # A freed pair is usable again only after its holder stopped and the grace passed.
    assert all(at.timestamp() > clock.now for _, at in rows)
    c, _ = make(db, "c", clock)
    c.tick()
    assert c.owned() == set(ids) and c.allowed(set(ids)) == set()


def test_a_worker_that_cannot_renew_stops_using_its_pairs_before_they_expire(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, _ = make(db, "a", clock)
    a.tick()
    assert a.allowed(set(ids)) == set(ids)
    clock.now += OPTIONS.lease_seconds - OPTIONS.safety - 0.1
    assert a.allowed(set(ids)) == set(ids)
    clock.now += 0.2  # less than `safety` of the lease is confirmed
    assert a.allowed(set(ids)) == set()
    assert a.allowed({ids[0]}) <= {ids[0]}


def test_unusable_pairs_are_neither_claimed_nor_kept(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, _ = make(db, "a", clock)
    b, _ = make(db, "b", clock)
    with db.write() as session:
        session.execute(update(Proxy).where(Proxy.id == ids[0]).values(health="invalid"))
    a.tick()
    b.tick()
    assert ids[0] not in a.owned() | b.owned()
    assert len(a.owned()) == 5  # alone at its first tick: every usable pair
    with db.write() as session:
        session.execute(update(Proxy).where(Proxy.id == ids[1]).values(is_active=False))
    clock.now += 1
    a.tick()
    assert ids[1] not in a.owned()


def test_stop_hands_everything_back_and_leaves(pairs_db: tuple[Database, list[str]]) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, _ = make(db, "a", clock)
    a.tick()
    a.release_all()
    with db.read() as session:
        assert session.scalars(select(PairLease.owner)).all() == [None] * len(ids)
        assert session.scalars(select(WorkerHeartbeat.worker_id)).all() == []
    # Deleting a proxy drops its lease with it.
    with db.write() as session:
        session.execute(delete(ProxyUsage))
        session.execute(delete(Proxy).where(Proxy.id == ids[0]))
    with db.read() as session:
        assert session.get(PairLease, ids[0]) is None


def test_options_from_the_environment() -> None:
    options = OwnershipOptions.from_env(
        {
            "STORYCHECK_PAIR_LEASE_SECONDS": "6",
            "STORYCHECK_PAIR_RENEW_INTERVAL": "1",
            "STORYCHECK_PAIR_TAKEOVER_GRACE": "2",
        }
    )
    assert (options.lease_seconds, options.renew_interval, options.takeover_grace) == (6, 1, 2)
    with pytest.raises(ValueError):
        OwnershipOptions.from_env({"STORYCHECK_PAIR_LEASE_SECONDS": "4"})  # renew 2 ≥ half


def test_a_long_import_does_not_block_ownership_renewal(
    pairs_db: tuple[Database, list[str]],
) -> None:
    """The import lock and the ownership lock are different keys (db.AdvisoryLock): a large
    import holding its lock must not stall the workers' lease renewal."""
    import threading

    from sqlalchemy import func

    from storycheck.db import AdvisoryLock

    db, ids = pairs_db
    clock = Clock()
    owner, _ = make(db, "a", clock)
    with db.engine.connect() as importer:
        with importer.begin():
            importer.execute(select(func.pg_advisory_xact_lock(int(AdvisoryLock.IMPORT))))
            ticked = threading.Event()

            def tick() -> None:
                owner.tick()
                ticked.set()

            worker = threading.Thread(target=tick, daemon=True)
            worker.start()
            # A deadlock detector, not a speed assertion: blocked, the tick would never end.
            worker.join(timeout=60)
            assert ticked.is_set(), "ownership tick blocked behind the import lock"
            assert owner.owned() == set(ids)
    assert len(set(AdvisoryLock)) == len({int(lock) for lock in AdvisoryLock})
