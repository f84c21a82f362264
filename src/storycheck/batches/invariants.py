"""The invariants of DESIGN.md §3.3, checked against the database (tests and /api/admin)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storycheck.batches.models import (
    Batch,
    BatchProfile,
    BatchStatus,
    ItemStatus,
    grouped_batch_id,
)
from storycheck.batches.state import counters_from_items
from storycheck.db import utcnow
from storycheck.settings.models import SystemSettings


def check_invariants(session: Session, *, now: datetime | None = None) -> list[str]:
    """Return a description of every violated invariant (an empty list means all hold).

    I1 in_progress ⇔ position 0, and their count ≤ max_concurrent_batches;
    I2 queued positions are exactly 1..n; paused/done have no position;
    I3 batch counters equal the aggregates of the item rows;
    I4 no item is in flight for a batch that is not running, once its lease has expired;
    I5 no free slot while the queue is non-empty.
    """
    now = now or utcnow()
    violations: list[str] = []
    limit = (
        session.scalar(select(SystemSettings.max_concurrent_batches).where(SystemSettings.id == 1))
        or 1
    )
    batches = session.scalars(select(Batch)).all()
    running = [b for b in batches if b.status == BatchStatus.IN_PROGRESS.value]
    queued = [b for b in batches if b.status == BatchStatus.QUEUED.value]

    for batch in batches:
        if (batch.status == BatchStatus.IN_PROGRESS.value) != (batch.queue_position == 0):
            violations.append(
                f"I1: batch {batch.id} is {batch.status} at position {batch.queue_position}"
            )
        if batch.status in (BatchStatus.PAUSED.value, BatchStatus.DONE.value) and (
            batch.queue_position is not None
        ):
            violations.append(f"I2: {batch.status} batch {batch.id} has a queue position")
    if len(running) > limit:
        violations.append(f"I1: {len(running)} batches run, the limit is {limit}")

    positions = sorted(b.queue_position or 0 for b in queued)
    if positions != list(range(1, len(queued) + 1)):
        violations.append(f"I2: queued positions are {positions}, expected 1..{len(queued)}")

    for batch in batches:
        counts = counters_from_items(session, batch.id)
        stored = {
            "completed_profiles": batch.completed_profiles,
            "successful_checks": batch.successful_checks,
            "failed_checks": batch.failed_checks,
            "private_profiles": batch.private_profiles,
            "not_found_profiles": batch.not_found_profiles,
            "total_profiles": batch.total_profiles,
        }
        if counts != stored:
            violations.append(f"I3: batch {batch.id} counters {stored} != items {counts}")

    batch_id = grouped_batch_id(session)
    stale = session.execute(
        select(batch_id, func.count())
        .select_from(BatchProfile)
        .join(Batch, Batch.id == BatchProfile.batch_id)
        .where(
            BatchProfile.status == ItemStatus.IN_FLIGHT.value,
            Batch.status != BatchStatus.IN_PROGRESS.value,
            BatchProfile.lease_expires_at < now,
        )
        .group_by(batch_id)
    ).all()
    for batch_id, count in stale:
        violations.append(f"I4: {count} items in flight for batch {batch_id}, which is not running")

    if queued and len(running) < limit:
        violations.append(
            f"I5: {len(running)} of {limit} slots used while {len(queued)} batches wait"
        )
    return violations
