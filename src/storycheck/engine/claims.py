"""Keeping every running batch supplied with leased items: claims, releases, the finish check.

`Claims` is the scheduler's batch side, on the event loop:

* a batch that joins gets a `BatchRun` (its queues and held items) and a place in the
  planner's round-robin; one that leaves returns every item not on the wire and is forgotten
  once nothing of it is held or in flight;
* `top_up` claims more items (lookups and story-ready ones separately) whenever a batch's
  buffer fell under half its target, one claim per kind and batch at a time;
* claimed items are sorted: known-missing profiles fail at once, items with a user id wait
  for a story request, the others for a lookup;
* a batch whose claims came back empty with nothing held asks the state manager to complete
  it; if items came back meanwhile (a released lease), it claims again after a backoff.

Everything here mutates loop-only state; the only cross-thread state (`Scheduler.gate`) is
taken where a run is added or removed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from storycheck.engine import outcomes
from storycheck.engine.planner import BatchRun
from storycheck.engine.types import ItemOutcome, LeasedItem

if TYPE_CHECKING:
    from storycheck.engine.scheduler import Scheduler

log = logging.getLogger(__name__)


class Claims:
    """The batch side of the scheduler; see the module docstring."""

    def __init__(self, host: Scheduler) -> None:
        self.host = host

    # ------------------------------------------------------------------ joining and leaving

    def on_register(self, batch_id: str) -> None:
        """A batch may run: give it a run (or revive the one still closing)."""
        host = self.host
        if batch_id not in host.running_ids():
            return
        run = host.runs.get(batch_id)
        if run is None:
            run = BatchRun(batch_id)
            with host.gate:
                host.runs[batch_id] = run
            host.planner.order.append(batch_id)
        run.closing = False
        run.finishing = False
        run.exhausted = {True: False, False: False}
        host.wake_up()

    def on_unregister(self, batch_id: str) -> None:
        """A batch stopped: return what waits in its queues; forget it once idle."""
        host = self.host
        if batch_id in host.running_ids():
            return  # registered again meanwhile
        run = host.runs.get(batch_id)
        if run is None:
            return
        run.closing = True
        waiting = list(run.lookups) + list(run.ready)
        run.lookups.clear()
        run.ready.clear()
        self.release(run, waiting)
        self.forget_if_idle(run)
        # Completed by the reconciler? Then it still deserves its BATCH_END line.
        host.spawn(self._end_line(batch_id), f"end-{batch_id[:8]}")

    async def _end_line(self, batch_id: str) -> None:
        host = self.host
        try:
            await host.db(host.recorder.batch_end_log, batch_id, now=host.clock())
        except Exception:
            log.exception("could not write the end line of batch %s", batch_id)

    def forget_if_idle(self, run: BatchRun) -> None:
        """Drop a closing run once nothing of it is held, claimed or in flight."""
        host = self.host
        if run.closing and not run.held and run.requests_in_flight == 0 and not run.claiming:
            with host.gate:
                host.runs.pop(run.id, None)
            if run.id in host.planner.order:
                host.planner.order.remove(run.id)
            host.effects.forget_batch(run.id)

    def release(self, run: BatchRun, items: Sequence[LeasedItem]) -> None:
        """Stop holding `items` and return their leases (in the background)."""
        if not items:
            return
        for item in items:
            run.drop(item)
        self.host.spawn(self._release_now(list(items)), f"release-{run.id[:8]}")
        self.forget_if_idle(run)

    async def _release_now(self, items: list[LeasedItem]) -> None:
        host = self.host
        try:
            await host.db(host.recorder.release, items, now=host.clock())
        except Exception:
            log.exception("could not return %d leases; they expire on their own", len(items))

    def release_waiting(self) -> None:
        """Give back every leased item not in flight (no pair left to check them here)."""
        for run in list(self.host.runs.values()):
            waiting = list(run.lookups) + list(run.ready)
            run.lookups.clear()
            run.ready.clear()
            run.exhausted = {True: False, False: False}
            self.release(run, waiting)

    # ------------------------------------------------------------------ claiming

    def top_up(self, now: float) -> None:
        """Claim for every batch whose buffer fell under half its target; start the finish
        check of a batch that looks finished."""
        host = self.host
        if host.stopping or not host.loaded:
            return
        if host.pair_filter is not None and not host.usable:
            return  # leased items would only wait here while other workers could check them
        lookup_target, stories_target = host.planner.claim_targets(host.options.max_claim)
        for run in list(host.runs.values()):
            if run.closing or now < run.claim_after:
                continue
            have_lookups = len(run.lookups) + run.lookups_in_flight
            if (
                not run.exhausted[False]
                and False not in run.claiming
                and have_lookups * 2 <= lookup_target
            ):
                self._claim(run, resolved=False, limit=lookup_target - have_lookups)
            if (
                not run.exhausted[True]
                and True not in run.claiming
                and len(run.ready) * 2 <= stories_target
            ):
                self._claim(run, resolved=True, limit=stories_target - len(run.ready))
            if run.looks_finished() and not run.finishing and host.completer is not None:
                run.finishing = True
                host.spawn(self._finish(run), f"finish-{run.id[:8]}")

    def _claim(self, run: BatchRun, *, resolved: bool, limit: int) -> None:
        run.claiming.add(resolved)
        self.host.spawn(
            self._claim_now(run, resolved, min(limit, self.host.options.max_claim)),
            f"claim-{run.id[:8]}",
        )

    async def _claim_now(self, run: BatchRun, resolved: bool, limit: int) -> None:
        host = self.host
        try:
            items = await host.db(
                host.recorder.claim,
                run.id,
                resolved=resolved,
                limit=limit,
                lease_seconds=host.options.lease_seconds,
                now=host.clock(),
                recheck_days=float(host.book.settings.not_found_recheck_days),
            )
        except Exception:
            log.exception("claim for batch %s failed; retrying", run.id)
            run.claim_after = host.clock() + 1.0
            self.forget_if_idle(run)
            return
        finally:
            run.claiming.discard(resolved)
        if len(items) < limit:
            run.exhausted[resolved] = True
        if not items:
            self.forget_if_idle(run)
            host.wake_up()
            return
        run.hold(items)
        if run.closing or host.stopping:
            self.release(run, items)
            return
        self._queue_claimed(run, items)
        host.wake_up()

    def _queue_claimed(self, run: BatchRun, items: Sequence[LeasedItem]) -> None:
        host = self.host
        now = host.clock()
        missing: list[ItemOutcome] = []
        for item in items:
            if item.known_missing:
                missing.append(outcomes.known_missing(item, now))
            elif item.ig_user_id:
                item.ready_since = now
                run.ready.append(item)
            else:
                run.lookups.append(item)
        host.record(missing)
        if not run.started_logged:
            run.started_logged = True
            book = host.book
            form = "dense GraphQL (doc_id)" if book.dense_for(None, now) else "v1 reels_media"
            host.log_line(
                run.id,
                "INFO",
                f"Engine started checking: {len(host.usable)} usable pair(s), {form} story "
                f"requests with up to {book.group_size()} ids",
            )

    async def _finish(self, run: BatchRun) -> None:
        host = self.host
        assert host.completer is not None
        try:
            done = await host.db(host.completer.complete_if_finished, run.id)
        except Exception:
            log.exception("completion check of batch %s failed", run.id)
            done = False
        # Whoever completed it (this call or the reconciler), the batch gets its end line.
        await host.db(host.recorder.batch_end_log, run.id, now=host.clock())
        if done:
            return
        # Items came back (expired leases returned by the reconciler): claim again shortly.
        run.finishing = False
        run.exhausted = {True: False, False: False}
        run.rechecks += 1
        delay = host.options.recheck_interval * 2 ** min(run.rechecks - 1, 4)
        run.claim_after = host.clock() + delay
        host.wake_up()


__all__ = ["Claims"]
