"""Helpers for state tests: play the engine's part (finish items) and read the queue."""

from __future__ import annotations

from sqlalchemy import select, update

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchProfile
from storycheck.batches.state import counters_from_items
from storycheck.db import Database


def finish_items(db: Database, batch_id: str, *, story: bool = False, status: str = "completed") -> None:
    """Give every open item of a batch a final outcome and update counters, as the engine does."""
    with db.write() as session:
        # Lock order of every writer: the batch row first, then its items (no deadlocks).
        session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
        session.execute(
            update(BatchProfile)
            .where(BatchProfile.batch_id == batch_id, BatchProfile.status.in_(("pending", "in_flight")))
            .values(status=status, has_story=story, lease_token=None, lease_expires_at=None)
        )
        counts = counters_from_items(session, batch_id)
        session.execute(update(Batch).where(Batch.id == batch_id).values(**counts))


def snapshot(db: Database) -> dict[str, tuple[str, int | None]]:
    """Map batch id → (status, queue_position)."""
    with db.read() as session:
        return {b.id: (b.status, b.queue_position) for b in session.scalars(select(Batch))}


def assert_invariants(db: Database) -> None:
    """Fail with the list of violations when any invariant of §3.3 is broken."""
    with db.snapshot() as session:
        violations = check_invariants(session)
    assert violations == []
