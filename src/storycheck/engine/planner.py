"""What to send next: per running batch, which request, through which pair (no I/O).

Each running batch keeps a small buffer of leased items in two queues — items that need a
username lookup, and items whose user id is known and wait for a story request. `Planner`
walks the batches round-robin (fairness between concurrent batches) and, for the batch's
most valuable work (a full story group, else a lookup, else a partial story group that has
waited long enough), takes the pair that is free soonest for that request kind, within the
global caps (`max_threads` in flight, checks per minute). Items that failed on a pair avoid
it; items of a private account a known session follows go to that session's pair; an item
marked `solo` goes alone.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from storycheck.engine.pacing import INF, Kind
from storycheck.engine.pairbook import PairBook
from storycheck.engine.pairs import Pair
from storycheck.engine.types import LeasedItem, WorkItem


@dataclass
class BatchRun:
    """What the engine holds for one running batch."""

    id: str
    lookups: deque[LeasedItem] = field(default_factory=deque)
    ready: deque[LeasedItem] = field(default_factory=deque)
    held: dict[str, LeasedItem] = field(default_factory=dict)
    tokens: Counter[str] = field(default_factory=Counter)
    claiming: set[bool] = field(default_factory=set)
    exhausted: dict[bool, bool] = field(default_factory=lambda: {True: False, False: False})
    lookups_in_flight: int = 0
    closing: bool = False
    finishing: bool = False
    rechecks: int = 0
    claim_after: float = 0.0
    started_logged: bool = False
    idle_logged: bool = False
    requests_started: int = 0
    requests_in_flight: int = 0
    refused_logged: set[str] = field(default_factory=set)  # pairs whose client was refused

    def hold(self, items: Iterable[LeasedItem]) -> None:
        """Remember leased items (and their lease tokens, for renewal)."""
        for item in items:
            self.held[item.id] = item
            self.tokens[item.lease_token] += 1

    def drop(self, item: WorkItem) -> None:
        """Forget an item that was recorded or released."""
        if self.held.pop(item.id, None) is not None:
            self.tokens[item.lease_token] -= 1
            if self.tokens[item.lease_token] <= 0:
                del self.tokens[item.lease_token]

    def looks_finished(self) -> bool:
        """True when nothing is held, claimed or left to claim."""
        return (
            not self.closing
            and not self.held
            and not self.claiming
            and self.exhausted[True]
            and self.exhausted[False]
        )


@dataclass
class Request:
    """One request being dispatched."""

    pair: Pair
    kind: Kind
    items: list[LeasedItem]
    dense: bool


@dataclass(frozen=True)
class Route:
    """Which items a pair may take: not those avoiding it, not those routed elsewhere."""

    pair_id: str
    session_id: str | None
    strict: bool  # more than one usable pair: avoiding is possible
    sessions: frozenset[str]  # usable sessions (a route to another one is honoured)

    def allows(self, item: LeasedItem) -> bool:
        """True when this pair may take `item` now."""
        if self.strict and item.avoid_pair == self.pair_id:
            return False
        follower = item.followed_by_session_id
        return not (follower and follower != self.session_id and follower in self.sessions)


def take_from(queue: deque[LeasedItem], route: Route, want: int) -> list[LeasedItem]:
    """Pop up to `want` items this route may take (a `solo` item only alone)."""
    taken: list[LeasedItem] = []
    skipped: list[LeasedItem] = []
    while queue and len(taken) < want:
        item = queue.popleft()
        if not route.allows(item) or (item.solo and taken):
            skipped.append(item)
            if len(skipped) > 4 * want + 64:
                break
            continue
        taken.append(item)
        if item.solo:
            break
    queue.extendleft(reversed(skipped))
    return taken


def has_resolved_now(queue: deque[LeasedItem], size: int) -> bool:
    """True when the head of the story queue holds ids whose check was counted at lookup."""
    return any(item.resolved_now for _, item in zip(range(size), queue, strict=False))


def within_check_budget(
    items: list[LeasedItem], allowed: int
) -> tuple[list[LeasedItem], list[LeasedItem]]:
    """Split into the ids whose check is already counted plus at most `allowed` new ones,
    and the rest (to give back)."""
    kept: list[LeasedItem] = []
    returned: list[LeasedItem] = []
    for item in items:
        if item.resolved_now or allowed > 0:
            if not item.resolved_now:
                allowed -= 1
            kept.append(item)
        else:
            returned.append(item)
    return kept, returned


class Planner:
    """Chooses the next request of the running batches (loop thread, no I/O)."""

    def __init__(self, book: PairBook, runs: dict[str, BatchRun], partial_wait: float) -> None:
        self.book = book
        self.runs = runs
        self.order: list[str] = []
        self.cursor = 0
        self.partial_wait = partial_wait
        self.starved = False  # a pair waits only for a usage reservation: flush soon

    def claim_targets(self, max_claim: int) -> tuple[int, int]:
        """How many lookup and story items a batch should hold leased."""
        usable = max(1, len(self.book.usable))
        size = self.book.group_size()
        lookups = max(16, 4 * usable)
        stories = min(max_claim * 2, max(2 * size, 2 * usable * size))
        return lookups, stories

    def next_request(self, now: float, max_claim: int) -> tuple[Request | None, float]:
        """The next request that may start now (round-robin over batches), and when to look
        again if none may."""
        next_at = INF
        count = len(self.order)
        for offset in range(count):
            index = (self.cursor + offset) % count
            run = self.runs.get(self.order[index])
            if run is None or run.closing:
                continue
            request, wake_at = self.choose(run, now, max_claim)
            next_at = min(next_at, wake_at)
            if request is not None:
                self.cursor = (index + 1) % max(1, len(self.order))
                return request, next_at
        return None, next_at

    def _wants(
        self, run: BatchRun, now: float, max_claim: int
    ) -> tuple[list[tuple[Kind, bool]], float]:
        """The kinds of request the batch could use now (best first), and when a partial
        story group becomes due."""
        size = self.book.group_size()
        wants: list[tuple[Kind, bool]] = []
        wake_at = INF
        if len(run.ready) >= size:
            wants.append(("stories", False))
        # Backpressure: look up more ids only while the story queue is not overflowing.
        if run.lookups and len(run.ready) < self.claim_targets(max_claim)[1]:
            wants.append(("lookup", False))
        if run.ready and len(run.ready) < size:
            lookups_done = not run.lookups and run.lookups_in_flight == 0 and run.exhausted[False]
            due_at = run.ready[0].ready_since + self.partial_wait
            if lookups_done or due_at <= now:
                wants.append(("stories", True))
            else:
                wake_at = due_at
        return wants, wake_at

    def choose(self, run: BatchRun, now: float, max_claim: int) -> tuple[Request | None, float]:
        """The next request of `run`, if one may start now, and when to look again."""
        wants, wake_at = self._wants(run, now, max_claim)
        # `profiles_per_minute` counts each profile once: at its lookup, or at its story
        # request when its user id was already known.
        allowed, available_at = self.book.global_limits.checks_allowed(now)
        size = self.book.group_size()
        for kind, partial in wants:
            if allowed <= 0 and (kind == "lookup" or not has_resolved_now(run.ready, size)):
                wake_at = min(wake_at, available_at)
                continue
            free, soonest, starved = self.book.free_pairs(kind, now)
            self.starved |= starved
            wake_at = min(wake_at, soonest)
            for pair in free:
                items = self.take(run, kind, pair, partial, now)
                if kind == "stories":
                    items, returned = within_check_budget(items, allowed)
                    self.give_back(run, returned)
                if items:
                    dense = kind == "stories" and self.book.dense_for(pair, now)
                    return Request(pair, kind, items, dense), wake_at
        return None, wake_at

    def give_back(self, run: BatchRun, items: Sequence[LeasedItem]) -> None:
        """Put items taken for a request that did not start back at the head of their queue."""
        for item in reversed(items):
            owner = self.runs.get(item.batch_id, run)
            (owner.ready if item.ig_user_id else owner.lookups).appendleft(item)

    def route(self, pair: Pair) -> Route:
        """What `pair` may take."""
        book = self.book
        return Route(
            pair.proxy_id,
            pair.row.session_id,
            len(book.usable) > 1,
            frozenset(book.usable_sessions()),
        )

    def take(
        self, run: BatchRun, kind: Kind, pair: Pair, partial: bool, now: float
    ) -> list[LeasedItem]:
        """Pop the items of one request for `pair`."""
        route = self.route(pair)
        queue = run.lookups if kind == "lookup" else run.ready
        want = 1 if kind == "lookup" else self.book.group_size(pair, now)
        taken = take_from(queue, route, want)
        if kind == "stories" and partial and len(taken) < want and not _solo(taken):
            # Fill a partial group with other batches' waiting ids: fewer, denser requests.
            for other_id in self.order:
                other = self.runs.get(other_id)
                if other is None or other is run or other.closing or not other.ready:
                    continue
                if len(other.ready) >= self.book.group_size():
                    continue
                more = take_from(other.ready, route, want - len(taken))
                extra = [i for i in more if not i.solo]
                other.ready.extendleft(reversed([i for i in more if i.solo]))
                taken.extend(extra)
                if len(taken) >= want:
                    break
        return taken


def _solo(items: Sequence[LeasedItem]) -> bool:
    return any(item.solo for item in items)


__all__ = [
    "BatchRun",
    "Planner",
    "Request",
    "Route",
    "has_resolved_now",
    "take_from",
    "within_check_budget",
]
