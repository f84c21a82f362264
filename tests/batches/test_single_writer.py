"""Only `batches/state.py` writes batch status or queue position (DESIGN.md §3, STYLE habit 1).

The guard (`storycheck/batches/guard.py`) is on for every engine of the test suite; these
tests show it catching each statement shape a regression would likely take, on SQLite and
PostgreSQL, and letting the state manager through.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Table, text, update

from storycheck.batches.guard import SingleWriterViolation, guard_enabled, writes_batch_state
from storycheck.batches.models import Batch
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from tests.batches.helpers import snapshot

BATCHES = Batch.__table__
assert isinstance(BATCHES, Table)


@pytest.fixture
def batch_id(manager: BatchStateManager, niche_profiles: tuple[str, list[str]]) -> str:
    niche_id, profile_ids = niche_profiles
    return manager.create_batch(niche_id=niche_id, profile_ids=profile_ids).id


def test_the_suite_runs_with_the_guard_on() -> None:
    assert guard_enabled()


def _core_update_over_three_lines(session, batch_id):  # type: ignore[no-untyped-def]
    session.execute(
        update(BATCHES)
        .where(BATCHES.c.id == batch_id)
        .values(status="paused", queue_position=None)
    )


def _values_with_a_column_key(session, batch_id):  # type: ignore[no-untyped-def]
    session.execute(update(Batch).where(Batch.id == batch_id).values({Batch.queue_position: 7}))


def _setattr_and_flush(session, batch_id):  # type: ignore[no-untyped-def]
    batch = session.get(Batch, batch_id)
    setattr(batch, "status", "paused")  # noqa: B010 - the shape under test
    batch.queue_position = None
    session.flush()


def _orm_bulk_update(session, batch_id):  # type: ignore[no-untyped-def]
    session.execute(update(Batch), [{"id": batch_id, "status": "paused", "queue_position": None}])


def _raw_sql(session, batch_id):  # type: ignore[no-untyped-def]
    session.execute(
        text("UPDATE batches SET queue_position = NULL, status = 'paused' WHERE id = :id"),
        {"id": batch_id},
    )


@pytest.mark.parametrize(
    "write",
    [
        _core_update_over_three_lines,
        _values_with_a_column_key,
        _setattr_and_flush,
        _orm_bulk_update,
        _raw_sql,
    ],
)
def test_the_guard_refuses_every_shape_of_write(database: Database, batch_id: str, write) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(database)
    with pytest.raises(SingleWriterViolation):
        with database.write() as session:
            write(session, batch_id)
    assert snapshot(database) == before


def test_counters_and_other_columns_stay_writable(database: Database, batch_id: str) -> None:
    with database.write() as session:
        session.execute(
            update(Batch).where(Batch.id == batch_id).values(completed_profiles=1, failed_checks=0)
        )


def test_the_state_manager_passes(manager: BatchStateManager, batch_id: str) -> None:
    paused = manager.stop([batch_id])[0]
    assert paused.status == "paused"
    assert manager.resume([batch_id])[0].status == "in_progress"


def test_the_statement_matcher() -> None:
    assert writes_batch_state("UPDATE batches SET status=?, updated_at=? WHERE batches.id = ?")
    assert writes_batch_state('UPDATE "batches" SET queue_position=%(q)s WHERE id=%(id)s')
    assert not writes_batch_state(
        "UPDATE batches SET completed_profiles=? WHERE batches.status = ?"
    )
    assert not writes_batch_state("UPDATE batch_profiles SET status=? WHERE id=?")
    assert not writes_batch_state("SELECT status FROM batches")
