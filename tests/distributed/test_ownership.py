"""Pair ownership on PostgreSQL with a fake clock: fair shares, hand-back, takeover, lapses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.distributed.models import PairLease, WorkerHeartbeat
from storycheck.distributed.ownership import OwnershipOptions, PairOwnership
from storycheck.proxies.models import Proxy, ProxyUsage
from storycheck.testing import ProxySpec, seed_pairs

pytestmark = pytest.mark.postgres

OPTIONS = OwnershipOptions(lease_seconds=15, renew_interval=5, takeover_grace=10)


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


def test_a_dead_workers_pairs_are_taken_over_after_expiry_and_grace(
    pairs_db: tuple[Database, list[str]],
) -> None:
    db, ids = pairs_db
    clock = Clock()
    a, _ = make(db, "a", clock)
    b, _ = make(db, "b", clock)
    b.tick()
    a.tick()
    b.tick()  # b sees a: three pairs drain…
    b._finish_draining()  # …and go back once b's engine let go of them
    a.tick()
    assert len(a.owned()) == 3 and len(b.owned()) == 3
    mine = b.owned()
    # b dies (stops ticking). a keeps renewing; b's leases run out.
    for _ in range(3):
        clock.now += 5
        a.tick()
    assert len(a.owned()) == 3  # b still counts as live and its leases still run
    clock.now += 5
    a.tick()
    assert a.owned() == set(ids)
    # Taken from an expired holder: unusable until the takeover grace has passed.
    assert a.allowed(set(ids)) == set(ids) - mine
    for _ in range(2):
        clock.now += OPTIONS.takeover_grace / 2 + 0.1
        a.tick()
    assert a.allowed(set(ids)) == set(ids)


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
        OwnershipOptions.from_env({"STORYCHECK_PAIR_LEASE_SECONDS": "4"})  # renew 5 ≥ half


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
