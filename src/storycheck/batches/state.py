"""BatchStateManager: the only writer of batch status and queue position.

Its length is deliberate: every transition, the queue lock and the promotion rule live in
this one module so that the invariants of DESIGN.md §3 can be checked by reading one file.

State machine (DESIGN.md §3.2)::

                create                      promote (slot free)
        (new) ────────► queued ─────────────────────────────► in_progress
                        │  ▲  ▲                                 │   │
                  stop  │  │  └──────── start (re-run) ────┐    │   │ all items final
                        ▼  │ resume / start                │    │   ▼
                       paused ◄──────────── stop ──────────┼────┘  done
                                                           └────────┘

    queued       position 1..n, contiguous; 1 runs next
    in_progress  position 0; at most `max_concurrent_batches` of them
    paused       position null; progress kept
    done         position null; completed_at set

Every change is one transaction: the queue is locked (SQLite `BEGIN IMMEDIATE`, PostgreSQL an
advisory transaction lock plus `SELECT … FOR UPDATE`), the transition table is checked, status,
positions, counters and a `STATE_CHANGE` log row are written with conditional updates
(`WHERE status = :expected`; zero rows means a lost race and becomes a 409), and only after the
commit is the worker pool told which batches run. The manager's lock (one manager, one pool per
process) spans each change from its transaction to that notification, so the pool hears of its
changes in commit order (without it, a thread's "X runs" could reach the pool after another's
later "X paused").

Lock order, for every writer in the code base (PostgreSQL deadlocks otherwise): the queue lock,
then batch rows (by id), then their items, then profiles (by id). `reconcile()` makes the pool match the
database, so a crash between commit and notification heals itself.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from storycheck.alerts.sources import batch_completed
from storycheck.batches.guard import state_writer
from storycheck.batches.items import BATCH_ITEMS, insert_active_profiles
from storycheck.batches.models import (
    FINAL_ITEM_STATUSES,
    STORY_PREVIEW_LIMIT,
    Batch,
    BatchLog,
    BatchProfile,
    BatchStatus,
    FailureKind,
    ItemStatus,
)
from storycheck.db import (
    AdvisoryLock,
    Database,
    advisory_xact_lock,
    new_id,
    ordered_ids,
    utcnow,
)
from storycheck.errors import Conflict, NotFound, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile
from storycheck.settings.models import SystemSettings

log = logging.getLogger(__name__)

QUEUED = BatchStatus.QUEUED.value
IN_PROGRESS = BatchStatus.IN_PROGRESS.value
PAUSED = BatchStatus.PAUSED.value
DONE = BatchStatus.DONE.value

# The one table of legal changes: event -> {from status: to status}. Legality, the 409
# messages and every batch's `allowed_actions` derive from it; nothing else changes a status.
EVENTS: dict[str, dict[str, str]] = {
    "promote": {QUEUED: IN_PROGRESS},  # a slot is free: the head of the queue runs
    "stop": {QUEUED: PAUSED, IN_PROGRESS: PAUSED},  # "Pause" in the UI; the route stays /stop
    "complete": {IN_PROGRESS: DONE},  # every item has a final outcome
    "resume": {PAUSED: QUEUED},
    "start": {PAUSED: QUEUED, DONE: QUEUED},  # from done: a re-run from scratch
    "retry_failed": {DONE: QUEUED},  # failed items back to pending; the rest is kept
}

# The events a user sends for a list of batches (POST /api/batches/start|stop|resume).
SELECTION_EVENTS = ("start", "stop", "resume")


def allowed_actions(status: str) -> list[str]:
    """The actions a batch in `status` accepts, for the UI's buttons.

    Derived from EVENTS; `start` on a paused batch stays legal for the original client's
    "Start Selected" but is not offered, because it means exactly what `resume` means.
    """
    actions = [
        event
        for event in SELECTION_EVENTS
        if status in EVENTS[event] and not (event == "start" and status == PAUSED)
    ]
    if status == QUEUED:
        actions.append("reorder")
    actions.append("delete")
    return actions


# The items table as a Core table, for executemany inserts without ORM overhead.

MAX_BATCH_PROFILES = 200_000


class PoolListener(Protocol):
    """What the state manager tells the worker pool, always after commit."""

    def register_batch(self, batch_id: str) -> None:
        """Start running `batch_id`."""

    def unregister_batch(self, batch_id: str) -> None:
        """Stop claiming work for `batch_id` at once."""

    def sync(self, running_ids: set[str]) -> None:
        """Make the running set equal `running_ids`."""


@dataclass
class Selection:
    """What a list action did: the batches it changed and the ones it left alone."""

    acted: list[Batch]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (batch id, its status)


@dataclass
class _Effects:
    """What a transaction did, for after-commit notification."""

    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


class BatchStateManager:
    """Owns batch status and queue position: every change goes through this class."""

    def __init__(
        self,
        db: Database,
        pool: PoolListener | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        lease_grace_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.pool = pool
        self.clock = clock
        self.lease_grace_seconds = lease_grace_seconds
        # Spans each change from its transaction to the pool's notification (see `_change`).
        self._notify_order = threading.RLock()

    # ------------------------------------------------------------------ public entry points

    def create_batch(
        self, *, niche_id: str, profile_ids: Sequence[str] | None = None, all_profiles: bool = False
    ) -> Batch:
        """Create a batch of the given profiles at the end of the queue; start it if a slot is free."""
        with self._change() as (session, effects):
            if session.get(Niche, niche_id) is None:
                raise NotFound(f"Niche {niche_id} not found", code="niche_not_found")
            ids = [] if all_profiles else self._chosen_ids(session, profile_ids)
            now = self.clock()
            batch = Batch(
                id=new_id(),
                niche_id=niche_id,
                status=QUEUED,
                queue_position=self.get_next_position(session),
                total_profiles=len(ids),
                created_at=now,
                updated_at=now,
            )
            session.add(batch)
            session.flush()
            if all_profiles:
                # One INSERT … SELECT: a 100,000-profile batch never passes through Python.
                count = insert_active_profiles(
                    session.connection(), batch_id=batch.id, niche_id=niche_id, now=now
                )
                if not count:
                    raise ValidationError(
                        "This niche has no active profiles to check", code="empty_batch"
                    )
                batch.total_profiles = count
            elif ids:
                # Core executemany: a 100,000-profile batch is one fast statement batch.
                session.connection().execute(
                    insert(BATCH_ITEMS),
                    [
                        {
                            "id": item_id,
                            "batch_id": batch.id,
                            "profile_id": pid,
                            "status": ItemStatus.PENDING.value,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for item_id, pid in zip(ordered_ids(len(ids)), ids, strict=True)
                    ],
                )
            total = batch.total_profiles
            self._log(
                session,
                batch.id,
                f"Created batch with {total} profiles; queued at #{batch.queue_position}",
            )
            self._promote(session, effects)
            batch_id = batch.id
        return self._reload(batch_id)

    def transition_state(
        self, batch: Batch | str, new_state: str, queue_position: int | None = None
    ) -> Batch:
        """Move one batch to `new_state` through the transition table (the seed's entry point).

        `queue_position` only matters when re-queueing: the batch is placed there (1 = next)
        instead of at the end.
        """
        batch_id = batch if isinstance(batch, str) else batch.id
        if new_state == IN_PROGRESS:
            raise Conflict(
                "Batches start by promotion from the queue; use start or resume",
                code="illegal_transition",
            )
        if new_state == DONE:
            if not self.complete_if_finished(batch_id):
                raise Conflict(
                    "A batch is done only when it runs and every item has a final outcome",
                    code="illegal_transition",
                )
            return self._reload(batch_id)
        if new_state == PAUSED:
            return self.stop([batch_id])[0]
        if new_state == QUEUED:
            return self._requeue_at(batch_id, queue_position)
        raise ValidationError(f"Unknown batch status: {new_state}")

    def start(self, batch_ids: Sequence[str], *, skip_ineligible: bool = False) -> list[Batch]:
        """Queue paused and done batches (done ones re-run from scratch); queued ones stay."""
        return self.apply_to_selection("start", batch_ids, skip_ineligible=skip_ineligible).acted

    def resume(self, batch_ids: Sequence[str], *, skip_ineligible: bool = False) -> list[Batch]:
        """Re-queue paused batches; the first starts at once when a slot is free."""
        return self.apply_to_selection("resume", batch_ids, skip_ineligible=skip_ineligible).acted

    def apply_to_selection(
        self, event: str, batch_ids: Sequence[str], *, skip_ineligible: bool
    ) -> Selection:
        """Apply `start`, `stop` or `resume` to a list of batches in one transaction.

        Strict (`skip_ineligible=False`): any batch the event does not apply to refuses the
        whole list with a 409 naming it; batches already waiting are a no-op for start and
        resume. Lenient: those batches are skipped and reported in `Selection.skipped` (the
        answer may list no batch at all), except that start/resume of a list whose only
        members are running batches still answers the original's 409 with `running_batch_ids`.
        """
        if event not in SELECTION_EVENTS:
            raise ValidationError(f"Unknown batch action: {event}")
        with self._change() as (session, effects):
            batches = self._load(session, batch_ids)
            moves = EVENTS[event]
            eligible = [b for b in batches if b.status in moves]
            waiting = [b for b in batches if event != "stop" and b.status == QUEUED]
            others = [b for b in batches if b not in eligible and b not in waiting]
            only_running = (
                not eligible and not waiting and all(b.status == IN_PROGRESS for b in others)
            )
            if others and (not skip_ineligible or (event != "stop" and only_running)):
                raise self._refusal(session, event, others)
            vacated: list[int | None] = []
            for batch in eligible:
                if batch.status == IN_PROGRESS:
                    effects.stopped.append(batch.id)
                if batch.status == QUEUED:
                    vacated.append(batch.queue_position)
                if batch.status == DONE:
                    self._reset_items(session, batch.id)
                target = moves[batch.status]
                position = self.get_next_position(session) if target == QUEUED else None
                self._set_state(session, batch, event, position)
            self._close_gaps(session, vacated)
            self._promote(session, effects)
            acted = [b.id for b in eligible]
            skipped = [(b.id, b.status) for b in (*waiting, *others)] if skip_ineligible else []
            if not skip_ineligible:
                acted += [b.id for b in waiting]  # strict callers get every listed batch back
        return Selection(acted=self._reload_many(acted), skipped=skipped)

    def _requeue_at(self, batch_id: str, queue_position: int | None) -> Batch:
        """Queue a paused or done batch, at `queue_position` (1 = next) or at the end, in one
        transaction."""
        with self._change() as (session, effects):
            batch = self._load(session, [batch_id])[0]
            if batch.status != QUEUED:
                if batch.status not in EVENTS["start"]:
                    raise self._refusal(session, "start", [batch])
                if batch.status == DONE:
                    self._reset_items(session, batch.id)
                self._set_state(session, batch, "start", self.get_next_position(session))
            if queue_position is not None:
                queue = list(self._queue(session))
                queue.remove(batch)
                cut = max(0, min(queue_position - 1, len(queue)))
                self._write_positions(session, queue[:cut] + [batch] + queue[cut:])
            self._promote(session, effects)
        return self._reload(batch_id)

    def _refusal(self, session: Session, event: str, batches: Sequence[Batch]) -> Conflict:
        if event == "stop":
            return self._illegal(batches, "stop", "only queued or running batches can be paused")
        running = sorted(session.scalars(select(Batch.id).where(Batch.status == IN_PROGRESS)))
        reason = (
            "running batches are already started"
            if all(b.status == IN_PROGRESS for b in batches)
            else "only paused (or, for start, done) batches can be queued"
        )
        return self._illegal(batches, event, reason, running_batch_ids=running)

    def stop(self, batch_ids: Sequence[str], *, skip_ineligible: bool = False) -> list[Batch]:
        """Pause queued or running batches; running ones stop claiming work at once.

        With `skip_ineligible` (the original client's selection semantics) batches in another
        state are left alone instead of refusing the whole list.
        """
        return self.apply_to_selection("stop", batch_ids, skip_ineligible=skip_ineligible).acted

    def delete(self, batch_ids: Sequence[str]) -> int:
        """Delete batches with their items, results and logs; renumber and promote."""
        with self._change() as (session, effects):
            batches = self._load(session, batch_ids)
            ids = [b.id for b in batches]
            effects.stopped.extend(b.id for b in batches if b.status == IN_PROGRESS)
            vacated = [b.queue_position for b in batches if b.status == QUEUED]
            self._delete_rows(session, ids)
            self._close_gaps(session, vacated)
            self._promote(session, effects)
        return len(ids)

    def delete_niche_batches(
        self, niche_id: str, *, then: Callable[[Session], None] | None = None
    ) -> int:
        """Delete every batch of a niche and run `then` in the same transaction.

        The niche service passes the deletion of the niche row as `then`: under the queue lock
        no batch can be created for the niche between the two, so one transaction suffices.
        """
        with self._change() as (session, effects):
            batches = list(
                session.scalars(
                    select(Batch)
                    .where(Batch.niche_id == niche_id)
                    .order_by(Batch.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
            ids = [b.id for b in batches]
            effects.stopped.extend(b.id for b in batches if b.status == IN_PROGRESS)
            vacated = [b.queue_position for b in batches if b.status == QUEUED]
            if ids:
                self._delete_rows(session, ids)
                self._close_gaps(session, vacated)
            if then is not None:
                then(session)
            self._promote(session, effects)
        return len(ids)

    def reorder(self, batch_ids: Sequence[str], *, first_position: int = 1) -> list[Batch]:
        """Put the listed queued batches, in this order, at `first_position`; others keep order."""
        with state_writer(), self.db.write() as session:
            self._lock_queue(session)
            wanted = _validate_ids(batch_ids)
            batches = self._load(session, wanted)
            not_queued = [b for b in batches if b.status != QUEUED]
            if not_queued:
                raise self._illegal(
                    not_queued, "reorder", "only queued batches have a queue position"
                )
            queue = self._queue(session)
            moved = [b for b in queue if b.id in set(wanted)]
            moved.sort(key=lambda b: wanted.index(b.id))
            rest = [b for b in queue if b.id not in set(wanted)]
            cut = max(0, min(first_position - 1, len(rest)))
            new_order = rest[:cut] + moved + rest[cut:]
            self._write_positions(session, new_order)
            self._log_many(session, [b.id for b in moved], "Queue reordered")
        with self.db.read() as session:
            return list(self._queue(session))

    def retry_failed(self, batch_id: str) -> Batch:
        """Send a batch's failed items back to pending; a done batch is queued again."""
        with self._change() as (session, effects):
            batch = self._load(session, [batch_id])[0]
            failed = (
                session.scalar(
                    select(func.count())
                    .select_from(BatchProfile)
                    .where(
                        BatchProfile.batch_id == batch.id,
                        BatchProfile.status == ItemStatus.FAILED.value,
                    )
                )
                or 0
            )
            if failed == 0:
                raise Conflict("This batch has no failed checks to retry", code="nothing_to_retry")
            session.execute(
                update(BatchProfile)
                .where(
                    BatchProfile.batch_id == batch.id,
                    BatchProfile.status == ItemStatus.FAILED.value,
                )
                .values(
                    status=ItemStatus.PENDING.value,
                    attempts=0,
                    error=None,
                    failure_kind=None,
                    processed_at=None,
                    lease_token=None,
                    lease_expires_at=None,
                    lease_owner=None,
                    not_found_by=None,
                )
            )
            self._recount(session, batch.id)
            self._log(session, batch.id, f"Retrying {failed} failed checks")
            if batch.status == DONE:
                self._set_state(session, batch, "retry_failed", self.get_next_position(session))
                self._promote(session, effects)
        return self._reload(batch_id)

    def complete_if_finished(self, batch_id: str) -> bool:
        """Mark a running batch done when every item is final; promote the next. True if done."""
        with self._change() as (session, effects):
            batch = session.get(Batch, batch_id)
            if batch is None or batch.status != IN_PROGRESS:
                return False
            if self._open_items(session, batch_id):
                return False
            self._recount(session, batch_id)
            completed_at = self.clock()
            self._set_state(session, batch, "complete", None, completed_at=completed_at)
            batch_completed(session, batch_id, completed_at)  # the alert, in this transaction
            effects.stopped.append(batch_id)
            self._promote(session, effects)
        return True

    def get_next_position(self, session: Session | None = None) -> int:
        """The position a batch joining the queue now gets: one past the last queued batch."""
        if session is None:
            with self.db.read() as s:
                return self.get_next_position(s)
        last = session.scalar(select(func.max(Batch.queue_position)).where(Batch.status == QUEUED))
        return (last or 0) + 1

    def reconcile(self, *, release_all_leases: bool = False) -> set[str]:
        """Heal the queue and the pool: expired leases, finished batches, free slots, pool set.

        Runs at start-up (with `release_all_leases` in the embedded single-process mode, where
        every lease in the database belongs to a process that is gone) and every few seconds.
        Returns the ids of the batches that run afterwards.
        """
        effects = _Effects()
        now = self.clock()
        with self._notify_order:  # the pool's set follows this commit, not an older one
            with state_writer(), self.db.write() as session:
                self._lock_queue(session)
                lease_filter = [BatchProfile.status == ItemStatus.IN_FLIGHT.value]
                if not release_all_leases:
                    lease_filter.append(BatchProfile.lease_expires_at < now)
                session.execute(
                    update(BatchProfile)
                    .where(*lease_filter)
                    .values(status=ItemStatus.PENDING.value, lease_token=None, lease_expires_at=None, lease_owner=None)
                    .execution_options(synchronize_session=False)
                )
                running = session.scalars(
                    select(Batch)
                    .where(Batch.status == IN_PROGRESS)
                    .execution_options(populate_existing=True)
                ).all()
                for batch in running:
                    if not self._open_items(session, batch.id):
                        self._recount(session, batch.id)
                        self._set_state(session, batch, "complete", None, completed_at=now)
                        batch_completed(session, batch.id, now)
                self._renumber(session)
                self._promote(session, effects)
                running_ids = set(
                    session.scalars(select(Batch.id).where(Batch.status == IN_PROGRESS)).all()
                )
            if self.pool is not None:
                self.pool.sync(running_ids)
        return running_ids

    def running_batch_ids(self) -> list[str]:
        """Ids of the batches that run now, per the database."""
        with self.db.read() as session:
            return list(session.scalars(select(Batch.id).where(Batch.status == IN_PROGRESS)))

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _change(self) -> Iterator[tuple[Session, _Effects]]:
        """One state change: the queue locked, the transaction committed, then the pool told.

        `_notify_order` is held from before the transaction until the pool has been told, so
        this process's notifications reach the pool in commit order.
        """
        effects = _Effects()
        with self._notify_order:
            with state_writer(), self.db.write() as session:
                self._lock_queue(session)
                yield session, effects
            self._notify(effects)

    def _lock_queue(self, session: Session) -> None:
        advisory_xact_lock(session, AdvisoryLock.QUEUE)

    def _load(self, session: Session, batch_ids: Sequence[str]) -> list[Batch]:
        ids = _validate_ids(batch_ids)
        batches = list(
            session.scalars(
                select(Batch)
                .where(Batch.id.in_(ids))
                .order_by(Batch.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        if not batches:
            raise NotFound("No batches found with the provided IDs", batch_ids=ids)
        order = {bid: i for i, bid in enumerate(ids)}
        batches.sort(key=lambda b: order[b.id])
        return batches

    def _illegal(
        self, batches: Iterable[Batch], verb: str, reason: str, **extra: object
    ) -> Conflict:
        listed = ", ".join(f"{b.id} ({b.status})" for b in batches)
        return Conflict(
            f"Cannot {verb} batch {listed}: {reason}",
            code="illegal_transition",
            **extra,
        )

    def _set_state(
        self,
        session: Session,
        batch: Batch,
        event: str,
        position: int | None,
        *,
        completed_at: datetime | None = None,
    ) -> None:
        old_state = batch.status
        new_state = EVENTS[event].get(old_state)
        if new_state is None:
            raise Conflict(
                f"Cannot {event} batch {batch.id}: it is {old_state}",
                code="illegal_transition",
            )
        now = self.clock()
        values: dict[str, object] = {
            "status": new_state,
            "queue_position": position,
            "updated_at": now,
        }
        if new_state == IN_PROGRESS:
            values["started_at"] = now
        if new_state == DONE:
            values["completed_at"] = completed_at or now
        elif new_state == QUEUED:
            values["completed_at"] = None
        result = session.execute(
            update(Batch)
            .where(Batch.id == batch.id, Batch.status == old_state)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                f"Batch {batch.id} changed while it was being updated; try again",
                code="concurrent_update",
            )
        for key, value in values.items():
            set_committed_value(batch, key, value)
        where = f" at #{position}" if position else ""
        self._log(session, batch.id, f"{old_state} → {new_state} ({event}){where}")

    def _queue(self, session: Session) -> Sequence[Batch]:
        return session.scalars(
            select(Batch)
            .where(Batch.status == QUEUED)
            .order_by(Batch.queue_position, Batch.created_at, Batch.id)
            .execution_options(populate_existing=True)
        ).all()

    def _write_positions(self, session: Session, ordered: Sequence[Batch]) -> None:
        for position, batch in enumerate(ordered, start=1):
            if batch.queue_position != position:
                session.execute(
                    update(Batch)
                    .where(Batch.id == batch.id, Batch.status == QUEUED)
                    .values(queue_position=position)
                    .execution_options(synchronize_session=False)
                )
                set_committed_value(batch, "queue_position", position)

    def _renumber(self, session: Session) -> None:
        """Rewrite every queued position to 1..n in queue order (the reconciler's healer)."""
        self._write_positions(session, self._queue(session))

    def _close_gaps(self, session: Session, vacated: Iterable[int | None]) -> None:
        """Shift the queue up behind each vacated position: O(1) statements, not O(queue)."""
        for position in sorted((p for p in vacated if p), reverse=True):
            session.execute(
                update(Batch)
                .where(Batch.status == QUEUED, Batch.queue_position > position)
                .values(queue_position=Batch.queue_position - 1)
                .execution_options(synchronize_session=False)
            )

    def _promote(self, session: Session, effects: _Effects) -> None:
        limit = _max_concurrent(session)
        running = (
            session.scalar(
                select(func.count()).select_from(Batch).where(Batch.status == IN_PROGRESS)
            )
            or 0
        )
        while running < limit:
            head = session.scalar(
                select(Batch)
                .where(Batch.status == QUEUED)
                .order_by(Batch.queue_position)
                .limit(1)
                .execution_options(populate_existing=True)
            )
            if head is None:
                break
            self._set_state(session, head, "promote", 0)
            effects.started.append(head.id)
            session.execute(
                update(Batch)
                .where(Batch.status == QUEUED)
                .values(queue_position=Batch.queue_position - 1)
                .execution_options(synchronize_session=False)
            )
            running += 1

    def _open_items(self, session: Session, batch_id: str) -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(
                    BatchProfile.batch_id == batch_id,
                    BatchProfile.status.not_in(FINAL_ITEM_STATUSES),
                )
            )
            or 0
        )

    def _reset_items(self, session: Session, batch_id: str) -> None:
        session.execute(
            update(BatchProfile)
            .where(BatchProfile.batch_id == batch_id)
            .values(
                status=ItemStatus.PENDING.value,
                has_story=False,
                story_count=0,
                latest_story_at=None,
                story_expires_at=None,
                error=None,
                outcome=None,
                failure_kind=None,
                attempts=0,
                lease_token=None,
                lease_expires_at=None,
                lease_owner=None,
                not_found_by=None,
                processed_at=None,
                proxy_id=None,
                session_id=None,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(
                completed_profiles=0,
                successful_checks=0,
                failed_checks=0,
                private_profiles=0,
                not_found_profiles=0,
                started_at=None,
                story_preview=None,
            )
            .execution_options(synchronize_session=False)
        )
        self._log(session, batch_id, "Items reset for a re-run")

    def _recount(self, session: Session, batch_id: str) -> None:
        """Rewrite the batch counters from its item rows (keeps I3 exact)."""
        counts = counters_from_items(session, batch_id)
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(**counts, story_preview=story_preview_from_items(session, batch_id))
            .execution_options(synchronize_session=False)
        )

    def _delete_rows(self, session: Session, ids: list[str]) -> None:
        from storycheck.stories.models import StoryResult

        if not ids:
            return
        # Explicit deletes in child-first order work with or without ON DELETE CASCADE.
        session.execute(delete(StoryResult).where(StoryResult.batch_id.in_(ids)))
        session.execute(delete(BatchLog).where(BatchLog.batch_id.in_(ids)))
        session.execute(delete(BatchProfile).where(BatchProfile.batch_id.in_(ids)))
        session.execute(
            delete(Batch).where(Batch.id.in_(ids)).execution_options(synchronize_session=False)
        )
        for bid in ids:
            log.info("Deleted batch %s", bid)

    def _chosen_ids(self, session: Session, profile_ids: Sequence[str] | None) -> list[str]:
        ids = _validate_ids(profile_ids, field_name="profile_ids", limit=MAX_BATCH_PROFILES)
        found: set[str] = set()
        for chunk in _chunks(ids, 5000):
            found.update(session.scalars(select(Profile.id).where(Profile.id.in_(chunk))))
        missing = [pid for pid in ids if pid not in found]
        if missing:
            raise NotFound(
                f"{len(missing)} profile id(s) not found, e.g. {missing[0]}",
                code="profile_not_found",
                missing_profile_ids=missing[:20],
            )
        return ids

    def _log(self, session: Session, batch_id: str, message: str) -> None:
        session.add(
            BatchLog(
                id=new_id(),
                batch_id=batch_id,
                timestamp=self.clock(),
                event_type="STATE_CHANGE",
                message=message[:500],
            )
        )

    def _log_many(self, session: Session, batch_ids: Iterable[str], message: str) -> None:
        for bid in batch_ids:
            self._log(session, bid, message)

    def _notify(self, effects: _Effects) -> None:
        if self.pool is None:
            return
        for bid in effects.stopped:
            if bid not in effects.started:
                self.pool.unregister_batch(bid)
        for bid in effects.started:
            self.pool.register_batch(bid)

    def _reload(self, batch_id: str) -> Batch:
        with self.db.read() as session:
            batch = session.get(Batch, batch_id)
            if batch is None:
                raise NotFound(f"Batch {batch_id} not found")
            return batch

    def _reload_many(self, ids: Sequence[str]) -> list[Batch]:
        with self.db.read() as session:
            found = {b.id: b for b in session.scalars(select(Batch).where(Batch.id.in_(ids)))}
        return [found[i] for i in ids if i in found]


def story_preview_from_items(session: Session, batch_id: str) -> str:
    """The JSON preview of story usernames (at most STORY_PREVIEW_LIMIT), read from the items."""
    names = session.scalars(
        select(Profile.username)
        .join(BatchProfile, BatchProfile.profile_id == Profile.id)
        .where(
            BatchProfile.batch_id == batch_id,
            BatchProfile.status == ItemStatus.COMPLETED.value,
            BatchProfile.has_story.is_(True),
        )
        .order_by(Profile.username)
        .limit(STORY_PREVIEW_LIMIT)
    ).all()
    return json.dumps(list(names))


def counters_from_items(session: Session, batch_id: str) -> dict[str, int]:
    """Batch counters computed from the item rows: the truth that I3 compares against."""
    completed = ItemStatus.COMPLETED.value
    failed = ItemStatus.FAILED.value
    row = session.execute(
        select(
            func.count().filter(BatchProfile.status.in_((completed, failed))),
            func.count().filter(BatchProfile.status == completed, BatchProfile.has_story.is_(True)),
            func.count().filter(BatchProfile.status == failed),
            func.count(),
            func.count().filter(
                BatchProfile.status == completed, BatchProfile.outcome == "private"
            ),
            func.count().filter(
                BatchProfile.status == failed, BatchProfile.failure_kind == FailureKind.NOT_FOUND.value
            ),
        ).where(BatchProfile.batch_id == batch_id)
    ).one()
    return {
        "completed_profiles": row[0],
        "successful_checks": row[1],
        "failed_checks": row[2],
        "total_profiles": row[3],
        "private_profiles": row[4],
        "not_found_profiles": row[5],
    }


def _max_concurrent(session: Session) -> int:
    value = session.scalar(
        select(SystemSettings.max_concurrent_batches).where(SystemSettings.id == 1)
    )
    return max(1, value or 1)


def _validate_ids(
    values: object, *, field_name: str = "batch_ids", limit: int = 10_000
) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        raise ValidationError(
            f"{field_name} is required and must be a non-empty list of ids",
            code="validation_error",
            details={"field": field_name},
        )
    if len(values) > limit:
        raise ValidationError(
            f"{field_name} may hold at most {limit} ids", details={"field": field_name}
        )
    ids: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > 64:
            raise ValidationError(
                f"{field_name} must contain id strings", details={"field": field_name}
            )
        ids.append(value.strip())
    return list(dict.fromkeys(ids))


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
