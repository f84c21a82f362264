"""Where an answer's items go: the story queue, back to their queue, or the record queue.

`AnswerRouter.handle` takes one finished request and its answer, asks `outcomes.decide` what
the answer does to its items (pure), lets the pair's health and the engine-wide effects learn
from it, and then moves each item on: looked-up ids are saved at once and their items join
the story queue; items to retry go back to the front of their queue (with a RETRY log line
when an attempt was spent); final outcomes go to the record queue. An item of a batch that
is closing (or of an engine that is stopping) is released instead of queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from storycheck.engine import outcomes
from storycheck.engine.checker import CheckOutcome
from storycheck.engine.pairs import Pair
from storycheck.engine.planner import Request
from storycheck.engine.types import LeasedItem

if TYPE_CHECKING:
    from storycheck.engine.scheduler import Scheduler


class AnswerRouter:
    """The answer side of the scheduler; see the module docstring."""

    def __init__(self, host: Scheduler) -> None:
        self.host = host

    def handle(
        self, request: Request, items: list[LeasedItem], outcome: CheckOutcome, now: float
    ) -> None:
        """Apply one answer to its pair, the engine and its items."""
        host = self.host
        book = host.book
        pair = request.pair
        decision = outcomes.decide(
            outcomes.Request(pair.proxy_id, pair.row.session_id, request.kind, items),
            outcome.failure,
            outcome.answers,
            at=outcome.answered_at or now,
            context=outcomes.Context(
                max_attempts=book.settings.max_attempts,
                other_pairs=len(host.usable) > 1,
                privacy_max_age=host.options.privacy_max_age,
            ),
        )
        cls, error = decision.classification, decision.error
        pair.health.record(cls, error, now, outcome.elapsed, book.policy, host.rng.random)
        batches = sorted({i.batch_id for i in items})
        host.effects.apply(pair, batches, len(items), request.dense, cls, error, now)
        assert host.queue is not None
        if decision.identities or decision.opinions:
            saver = host.queue.save_soon(decision.identities, decision.opinions)
            if saver is not None:
                host.spawn(saver, "identities")
        for resolved in decision.resolved:
            self._to_story_queue(resolved.apply(), now)
        self._requeue_decided(decision.requeue, pair)
        host.record(decision.finals)

    def requeue(self, items: Sequence[LeasedItem]) -> None:
        """Put items back at the front of their queue (released if their batch closes)."""
        host = self.host
        for item in reversed(items):
            run = host.runs.get(item.batch_id)
            if run is None or item.id not in run.held:
                continue
            if run.closing or host.stopping:
                host.claims.release(run, [item])
            elif item.ig_user_id:
                run.ready.appendleft(item)
            else:
                run.lookups.appendleft(item)

    def _to_story_queue(self, item: LeasedItem, now: float) -> None:
        host = self.host
        item.ready_since = now
        run = host.runs.get(item.batch_id)
        if run is None:
            return
        if run.closing or host.stopping:
            host.claims.release(run, [item])
        else:
            run.ready.append(item)

    def _requeue_decided(self, requeue: Sequence[outcomes.Requeue], pair: Pair) -> None:
        host = self.host
        spent = [r for r in requeue if r.spent_attempt]
        for renamed in (r for r in requeue if r.relookup):
            # Worth telling: the tracked username now leads to another account (or none).
            host.log_line(
                renamed.item.batch_id,
                "INFO",
                f"{renamed.last_error}; @{renamed.item.username} is looked up again",
                profile_id=renamed.item.profile_id,
                proxy_id=pair.proxy_id,
            )
        items = [r.apply() for r in requeue]
        for batch_id in sorted({r.item.batch_id for r in spent}):
            mine = [r.item for r in spent if r.item.batch_id == batch_id]
            host.log_line(
                batch_id,
                "RETRY",
                f"{len(mine)} profile(s) retry on another pair after '{mine[0].last_error}' on "
                f"{pair.label} (attempt {mine[0].attempts + 1} of "
                f"{host.book.settings.max_attempts})",
                proxy_id=pair.proxy_id,
            )
        self.requeue(items)


__all__ = ["AnswerRouter"]
