"""Worker liveness: a worker whose heartbeat stopped is dead, and what it held is freed at once.

Every `storycheck worker` writes `worker_heartbeats.last_seen` every pair renew interval
(`PairOwnership.tick`). A worker whose heartbeat is older than the pair lease
(`OwnershipOptions.lease_seconds`, a few renew intervals) is dead. Any live process — every
worker at each of its ownership ticks, and the server at each reconcile — then, in one
transaction under the ownership lock:

* returns the dead worker's item leases (`batch_profiles.lease_owner`) to `pending`, keeping
  their attempts: the items are claimed again at once instead of after their item lease;
* frees its pair leases (owner NULL) with `expires_at` set to the moment the pairs may be used
  again: the dead holder's own confirmed end minus its safety margin (when a stalled holder
  stops sending by itself) plus the takeover grace — never earlier, so a holder that merely
  stalled has stopped before the next one starts;
* removes its heartbeat, so the survivors' fair share grows at the same tick.

The pacing ledger (`proxy_usage`) is untouched: the next holder reads each pair's budget from
it, exactly as after a restart. A late answer of a worker that was only stalled changes
nothing, because outcomes and releases are conditional on the lease token this clears.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storycheck.batches.models import BatchProfile, ItemStatus
from storycheck.db import AdvisoryLock, Database, advisory_xact_lock
from storycheck.distributed.models import PairLease, WorkerHeartbeat

log = logging.getLogger(__name__)


def to_datetime(moment: float) -> datetime:
    """A unix time as the UTC datetime the tables store."""
    return datetime.fromtimestamp(moment, UTC)


@dataclass(frozen=True)
class Reaped:
    """What one pass freed: per dead worker, how old its heartbeat was; pairs and items."""

    silent_for: dict[str, float] = field(default_factory=dict)
    pairs: int = 0
    items: int = 0

    def __bool__(self) -> bool:
        return bool(self.silent_for or self.pairs or self.items)


def reap_dead_workers(
    session: Session, *, now: float, lease_seconds: float, safety: float, grace: float
) -> Reaped:
    """Free the item and pair leases of every worker silent for more than `lease_seconds`.

    The caller holds the ownership lock (`AdvisoryLock.PAIR_OWNERSHIP`) in `session`'s
    transaction. Pair leases held by a worker without any heartbeat row are freed once their
    own lease ran out (a backstop: a live worker always has one).
    """
    cutoff = to_datetime(now - lease_seconds)
    beats = dict(
        session.execute(select(WorkerHeartbeat.worker_id, WorkerHeartbeat.last_seen)).all()
    )
    dead = {worker: seen for worker, seen in beats.items() if seen < cutoff}
    rows = session.execute(
        select(PairLease.proxy_id, PairLease.owner, PairLease.expires_at).where(
            PairLease.owner.is_not(None)
        )
    ).all()
    orphaned = [
        row
        for row in rows
        if row.owner in dead or (row.owner not in beats and row.expires_at.timestamp() < now)
    ]
    pairs = 0
    for row in orphaned:
        # The holder stops sending `safety` before its confirmed end; the next one waits `grace`.
        usable_from = max(now, row.expires_at.timestamp() - safety + grace)
        result = session.execute(
            update(PairLease)
            .where(PairLease.proxy_id == row.proxy_id, PairLease.owner == row.owner)
            .values(owner=None, expires_at=to_datetime(usable_from))
        )
        pairs += result.rowcount or 0  # type: ignore[attr-defined]
    items = 0
    if dead:
        result = session.execute(
            update(BatchProfile)
            .where(
                BatchProfile.status == ItemStatus.IN_FLIGHT.value,
                BatchProfile.lease_owner.in_(sorted(dead)),
            )
            .values(
                status=ItemStatus.PENDING.value,
                lease_token=None,
                lease_expires_at=None,
                lease_owner=None,
            )
            .execution_options(synchronize_session=False)
        )
        items = result.rowcount or 0  # type: ignore[attr-defined]
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id.in_(sorted(dead))))
    reaped = Reaped({w: now - seen.timestamp() for w, seen in dead.items()}, pairs, items)
    if reaped:
        silent = ", ".join(
            f"{w} (silent {age:.1f} s)" for w, age in sorted(reaped.silent_for.items())
        )
        log.warning(
            "%s: released %d pair(s) and %d item(s)",
            f"presumed dead: {silent}" if silent else "pair leases of workers without a heartbeat",
            pairs,
            items,
        )
    return reaped


class Reaper:
    """The server's share of the watch: frees dead workers' leases on its reconcile cadence."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float,
        safety: float,
        grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.safety = safety
        self.grace = grace
        self.clock = clock

    def __call__(self) -> Reaped:
        """One pass in its own short transaction."""
        with self.db.write() as session:
            advisory_xact_lock(session, AdvisoryLock.PAIR_OWNERSHIP)
            return reap_dead_workers(
                session,
                now=self.clock(),
                lease_seconds=self.lease_seconds,
                safety=self.safety,
                grace=self.grace,
            )


__all__ = ["Reaped", "Reaper", "reap_dead_workers", "to_datetime"]
