"""The partial indexes of batch items (migration 0015) still serve every query that used them.

A new batch's items are pending, with no lease expiry, lease owner or processing time, so those
indexes only hold the items that have one and creating a batch adds nothing to them. Each
statement below is captured from the code that runs it and explained on both databases: a
query whose condition no longer implies the index's (or a dropped index) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, update

from storycheck.batches import service
from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import BatchProfile
from storycheck.dashboard import checks_per_minute
from storycheck.db import Database, utcnow
from storycheck.distributed.liveness import reap_dead_workers
from storycheck.distributed.models import WorkerHeartbeat
from storycheck.engine.leases import LeaseStore
from tests.factories import make_niche, make_profiles
from tests.helpers import migrate, recorded_statements, revision_before

IN_FLIGHT_INDEX = "ix_batch_profiles_in_flight_lease"
OWNER_INDEX = "ix_batch_profiles_lease_owner"
PROCESSED_INDEX = "ix_batch_profiles_processed_at"


def _plan(db: Database, statement: str, parameters: Any) -> str:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plan = "\n".join(str(row[-1]) for row in rows)
        else:
            # Small tables: make the planner show whether an index *can* serve the query.
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            plan = "\n".join(str(row[0]) for row in rows)
        conn.rollback()
    return plan


def _plans_of(db: Database, run: Callable[[], object], pattern: str) -> list[str]:
    """The plans of the item statements `run` executes whose text matches `pattern`."""
    with recorded_statements(db) as seen:
        run()
    found = [
        (s, p) for s, p in seen if "batch_profiles" in s and re.search(pattern, s, re.I | re.S)
    ]
    assert found, [s for s, _ in seen]
    return [_plan(db, s, p) for s, p in found]


def _reads_only(plan: str, *indexes: str) -> None:
    """The items are read through one of `indexes`, never by walking the table or another one."""
    item_lines = [
        line for line in plan.splitlines() if "batch_profiles" in line and "batches " not in line
    ]
    assert item_lines, plan
    assert any(index in plan for index in indexes), plan
    for line in item_lines:
        assert "Seq Scan" not in line and not re.search(r"SCAN batch_profiles\s*$", line), plan
        assert "ix_batch_profiles_batch_status" not in line, plan


@pytest.fixture
def leased(database: Database, manager: Any) -> tuple[Database, str]:
    """A running batch of 40 items: 5 in flight (two leases expired, owner `w-dead`), 10
    processed a minute ago, the rest pending."""
    niche = make_niche(database)
    make_profiles(database, niche, 40)
    batch = manager.create_batch(niche_id=niche, all_profiles=True)
    batch_id = batch.id
    now = utcnow()
    with database.write() as session:
        ids = list(
            session.scalars(
                BatchProfile.__table__.select()
                .with_only_columns(BatchProfile.id)
                .where(BatchProfile.batch_id == batch_id)
                .order_by(BatchProfile.id)
            )
        )
        for number, item_id in enumerate(ids[:5]):
            session.execute(
                update(BatchProfile)
                .where(BatchProfile.id == item_id)
                .values(
                    status="in_flight",
                    lease_token=f"t{number}",
                    lease_expires_at=now + timedelta(seconds=-30 if number < 2 else 60),
                    lease_owner="w-dead",
                )
            )
        session.execute(
            update(BatchProfile)
            .where(BatchProfile.id.in_(ids[5:15]))
            .values(status="completed", processed_at=now - timedelta(seconds=20))
        )
        session.add(
            WorkerHeartbeat(
                worker_id="w-dead", hostname="h", pid=1, last_seen=now - timedelta(hours=1)
            )
        )
    return database, batch_id


def test_expired_leases_read_the_in_flight_index(leased, manager):
    db, _ = leased
    for plan in _plans_of(db, manager.reconcile, r"UPDATE batch_profiles.*lease_expires_at <"):
        _reads_only(plan, IN_FLIGHT_INDEX)


def test_releasing_every_lease_reads_the_in_flight_index(leased, manager):
    db, _ = leased
    plans = _plans_of(
        db, lambda: manager.reconcile(release_all_leases=True), r"UPDATE batch_profiles SET"
    )
    for plan in plans:
        _reads_only(plan, IN_FLIGHT_INDEX)


def test_renewing_leases_reads_the_in_flight_index(leased):
    db, _ = leased
    store = LeaseStore(db)
    renew = lambda: store.renew(["t2", "t3"], lease_seconds=60, now=utcnow().timestamp())  # noqa: E731
    for plan in _plans_of(db, renew, r"UPDATE batch_profiles SET lease_expires_at"):
        _reads_only(plan, IN_FLIGHT_INDEX)


def test_in_flight_counts_and_stale_leases_read_the_in_flight_index(leased):
    db, batch_id = leased

    def counts() -> None:
        with db.read() as session:
            assert service._in_flight_counts(session, [batch_id]) == {batch_id: 5}

    for plan in _plans_of(db, counts, r"count"):
        _reads_only(plan, IN_FLIGHT_INDEX)

    def invariants() -> None:
        with db.snapshot() as session:
            check_invariants(session)

    for plan in _plans_of(db, invariants, r"lease_expires_at <"):
        _reads_only(plan, IN_FLIGHT_INDEX)


def test_a_dead_workers_items_are_found_by_an_index_of_leased_items(leased):
    db, _ = leased

    def reap() -> None:
        with db.write() as session:
            reaped = reap_dead_workers(
                session, now=utcnow().timestamp(), lease_seconds=10, safety=1, grace=1
            )
            assert reaped.items == 5

    for plan in _plans_of(db, reap, r"UPDATE batch_profiles.*lease_owner IN"):
        # SQLite reads the owner's entries; PostgreSQL may read the (as few) in-flight ones.
        if db.is_sqlite:
            _reads_only(plan, OWNER_INDEX)
        else:
            _reads_only(plan, OWNER_INDEX, IN_FLIGHT_INDEX)


def test_recent_checks_read_the_processed_index(leased):
    db, batch_id = leased

    def rates() -> None:
        with db.read() as session:
            assert service._recent_rates(session, [batch_id]) == {batch_id: 10}
            per_minute = checks_per_minute(session, utcnow())
            assert sum(m["checks"] for m in per_minute) == 10

    for plan in _plans_of(db, rates, r"processed_at >="):
        _reads_only(plan, PROCESSED_INDEX)


def test_the_three_indexes_are_partial(leased):
    db, _ = leased
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'batch_profiles' AND sql LIKE '% WHERE %'"
            ).all()
        else:
            rows = conn.exec_driver_sql(
                "SELECT indexrelid::regclass::text, pg_get_expr(indpred, indrelid) FROM pg_index"
                " WHERE indrelid = 'batch_profiles'::regclass AND indpred IS NOT NULL"
            ).all()
    assert {name for name, _ in rows} == {IN_FLIGHT_INDEX, OWNER_INDEX, PROCESSED_INDEX}, rows


def test_the_migration_downgrades_and_upgrades(database_url):
    db = Database(database_url)
    try:
        migrate(db, database_url, revision_before(database_url, "_partial_item_indexes.py"), down=True)
        names = {i["name"] for i in inspect(db.engine).get_indexes("batch_profiles")}
        assert {"ix_batch_profiles_status_lease", OWNER_INDEX, PROCESSED_INDEX} <= names
        assert IN_FLIGHT_INDEX not in names
        migrate(db, database_url, "head")
        names = {i["name"] for i in inspect(db.engine).get_indexes("batch_profiles")}
        assert {IN_FLIGHT_INDEX, OWNER_INDEX, PROCESSED_INDEX} <= names
        assert "ix_batch_profiles_status_lease" not in names
    finally:
        db.dispose()
