"""A model of the pair pool: why a batch is not moving, and how long the rest will take.

Pure and clock-free (every time is unix seconds passed in), so it runs wherever the database
can be read — the API server, a CLI, any of several Celery workers — and gives the same
answer: it never asks a running engine. `batches/progress.py` feeds it from the database
(pair rows, `proxy_usage` reservations, settings, the batches' pending items).

The model mirrors `pacing.py`. Each pair has a session budget of `session_budget` requests per
window (the setting, or less when the engine learned a lower limit, `adaptive.py`), inside it
`lookup_budget` username lookups, and a cadence of one request per
max(`min_request_interval`, its response time). What is left of the current window is
available at once; after that a pair earns budget at budget / window. A cooling pair starts
when its cooldown ends; a pair whose budget is spent starts when its oldest counted request
leaves the window.

The remaining work of a batch is one lookup per account without a cached user id (plus the
second lookup that confirms "no such user", `NOT_FOUND_SHARE`), one lookup per account whose
privacy is unknown (the engine must tell "no story" from "hidden"), and story requests of
`group_size` ids. Each constraint gives the time the pool needs for its part of the work:

* lookups — Σ lookup budgets;
* requests — Σ session budgets (lookups and story requests together);
* interval — Σ cadences (the gap between a pair's requests, or its response time);
* profiles_per_minute — the global cap, which counts every account once;
* max_threads — requests in flight × response time.

The estimate is the largest of them; that constraint is the one that binds (`bound`). The
range: `low` counts only the accounts without a user id as lookups; `high` adds
`RETRY_SHARE` retries and runs every pair at `HIGH_BUDGET_SHARE` of its budget (Instagram's
real limit may be below the setting until the engine learns it). Batches that run together
share the pool round-robin (processor sharing): a batch finishes after its own work plus, of
every other batch, the part that runs while it does (`estimate_many`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from storycheck.engine.health import CHALLENGE, COOLING, DISABLED, INVALID, OPEN, READY

INF = math.inf
NOT_FOUND_SHARE = 0.05  # lookups answered "no such user", confirmed by a second pair
RETRY_SHARE = 0.10  # extra requests in the high estimate (transient errors, retries)
HIGH_BUDGET_SHARE = 0.8  # budget share per pair in the high estimate

# Why a pair cannot be used, as the reason names it (health values the engine never uses).
NEEDS = {
    INVALID: "invalid (new session needed)",
    CHALLENGE: "challenge (needs a human)",
    DISABLED: "disabled",
    "no_session": "without a session",
}
WAITS = {COOLING: "cooling", OPEN: "open (connection errors)"}


@dataclass(frozen=True)
class PairState:
    """One proxy + session pair as the model sees it."""

    proxy_id: str
    state: str  # ready | cooling | open | invalid | challenge | disabled | no_session | other
    available_at: float  # when health lets it send (its cooldown end; now when ready)
    session_budget: int  # requests of any kind per window (learned limit or the setting)
    lookup_budget: int  # lookups per window, inside the session budget
    used_requests: float = 0.0  # counted in the current window
    used_lookups: float = 0.0
    frees_at: float | None = None  # when the oldest counted request leaves the window
    lookups_free_at: float | None = None  # … the oldest counted lookup
    latency: float = 0.0  # seconds per request (0: unknown)

    @property
    def usable(self) -> bool:
        """True when the engine may use it at all (now or after a cooldown)."""
        return self.state in (READY, COOLING, OPEN)

    def ready(self, now: float) -> bool:
        """True when it may send now as far as health goes."""
        return self.usable and self.available_at <= now

    @property
    def lookups_left(self) -> float:
        """Lookups left in the current window."""
        return max(0.0, min(self.lookup_budget - self.used_lookups, self.requests_left))

    @property
    def requests_left(self) -> float:
        """Requests of any kind left in the current window."""
        return max(0.0, self.session_budget - self.used_requests)


@dataclass(frozen=True)
class PoolSettings:
    """The settings and engine options the model needs."""

    window_seconds: float = 3600.0
    margin: float = 0.05  # pacing slack on every window entry (`EngineOptions.pacing_margin`)
    min_interval: float = 2.0
    profiles_per_minute: int = 0
    max_in_flight: int = 8
    group_size: int = 20
    partial_wait: float = 60.0


@dataclass(frozen=True)
class Work:
    """What is left of a batch."""

    pending: float  # accounts not final yet
    unresolved: float = 0.0  # … without a cached user id: each needs a lookup
    privacy_unknown: float = 0.0  # … with a user id but unknown privacy (a lookup if no story)

    def scaled(self, share: float) -> Work:
        """The part of this work done in `share` of its time (processor sharing)."""
        return Work(self.pending * share, self.unresolved * share, self.privacy_unknown * share)

    def __add__(self, other: Work) -> Work:
        return Work(
            self.pending + other.pending,
            self.unresolved + other.unresolved,
            self.privacy_unknown + other.privacy_unknown,
        )


@dataclass(frozen=True)
class Estimate:
    """Remaining time of a batch: the point estimate, its range and what binds it."""

    seconds: float
    low: float
    high: float
    bound: str  # lookups | requests | interval | profiles_per_minute | max_threads
    bound_by: str  # "bound by lookups: 340 new accounts"

WAITING_CODES = ("no_usable_pair", "lookup_budget", "request_budget", "paced", "queued")


@dataclass(frozen=True)
class Reason:
    """Why a batch is not moving (or moves only at a pace a setting imposes)."""

    code: str  # one of WAITING_CODES
    text: str
    until: float | None = None


# ---------------------------------------------------------------------------- time solving

Term = tuple[float, float, float]  # (starts after, available at once, per second after)


def time_to(amount: float, terms: Sequence[Term]) -> float:
    """Seconds until the pairs' summed capacity reaches `amount` (inf: never)."""
    if amount <= 0:
        return 0.0
    done = 0.0
    rate = 0.0
    at = 0.0
    for start, burst, per_second in sorted(terms):
        if rate > 0 and done + rate * (start - at) >= amount:
            return at + (amount - done) / rate
        done += rate * (start - at)
        at = start
        done += burst
        rate += per_second
        if done >= amount:
            return at
    return at + (amount - done) / rate if rate > 0 else INF


def _start(pair: PairState, left: float, frees_at: float | None, now: float) -> float:
    """When a pair starts adding budget: after its cooldown, and when its window is spent,
    after its oldest counted request left."""
    start = max(0.0, pair.available_at - now)
    if left <= 0 and frees_at is not None:
        start = max(start, frees_at - now)
    return start


# ---------------------------------------------------------------------------- the estimate


def _story_requests(work: Work, group: int, lookup_seconds: float, partial_wait: float) -> float:
    """Story requests the work needs: full groups of resolved ids, and for looked-up ids full
    groups or one partial group per `partial_wait` while the lookups trickle in."""
    resolved = max(0.0, work.pending - work.unresolved)
    from_lookups = work.unresolved / group
    if partial_wait > 0 and math.isfinite(lookup_seconds):
        from_lookups = max(from_lookups, lookup_seconds / partial_wait)
    return math.ceil(resolved / group) + min(work.unresolved, from_lookups)


def bounds(
    pairs: Sequence[PairState],
    settings: PoolSettings,
    work: Work,
    now: float,
    *,
    lookups: float,
    budget_share: float = 1.0,
) -> dict[str, float]:
    """Seconds each constraint needs for `work` with `lookups` lookups (see the docstring)."""
    usable = [p for p in pairs if p.usable]
    group = max(1, settings.group_size)
    # A request occupies its window from its answer on (pacing.py): a slot comes back after
    # the window, the margin and the time the request took.
    lookup_terms = [
        (_start(p, p.lookups_left, p.lookups_free_at, now), p.lookups_left * budget_share,
         p.lookup_budget * budget_share / _slot_seconds(p, settings))
        for p in usable
    ]
    request_terms = [
        (_start(p, p.requests_left, p.frees_at, now), p.requests_left * budget_share,
         p.session_budget * budget_share / _slot_seconds(p, settings))
        for p in usable
    ]
    result = {"lookups": time_to(lookups, lookup_terms)}
    requests = lookups + _story_requests(work, group, result["lookups"], settings.partial_wait)
    result["requests"] = time_to(requests, request_terms)
    cadence = [
        (max(0.0, p.available_at - now), 0.0, 1.0 / max(settings.min_interval, p.latency))
        for p in usable
        if max(settings.min_interval, p.latency) > 0
    ]
    if len(cadence) == len(usable):  # every pair has a known pace
        result["interval"] = time_to(requests, cadence)
    if settings.profiles_per_minute > 0:
        result["profiles_per_minute"] = work.pending * 60.0 / settings.profiles_per_minute
    latencies = [p.latency for p in usable if p.latency > 0]
    if latencies:
        mean = sum(latencies) / len(latencies)
        result["max_threads"] = requests * mean / max(1, settings.max_in_flight)
    return result


def _slot_seconds(pair: PairState, settings: PoolSettings) -> float:
    """How long one unit of a pair's window budget stays taken."""
    return max(1e-9, settings.window_seconds + settings.margin + pair.latency)


def bound_text(bound: str, work: Work, settings: PoolSettings) -> str:
    """The binding constraint in words, about this batch's own work."""
    if bound == "lookups":
        unknown = round(work.privacy_unknown)
        extra = f" and {unknown} of unknown privacy" if unknown else ""
        return f"bound by lookups: {round(work.unresolved)} new accounts{extra}"
    if bound == "requests":
        return "bound by proxy_hourly_limit (requests per pair and window)"
    if bound == "interval":
        return (
            "bound by the gap between requests (min_request_interval = "
            f"{settings.min_interval:g} s) and the pairs' response time"
        )
    if bound == "profiles_per_minute":
        return f"bound by profiles_per_minute = {settings.profiles_per_minute}"
    return f"bound by max_threads = {settings.max_in_flight}"


def estimate(
    pairs: Sequence[PairState], settings: PoolSettings, work: Work, now: float
) -> Estimate | None:
    """The remaining time of `work` on the pool alone (None when no pair is usable at all)."""
    if work.pending <= 0:
        return Estimate(0.0, 0.0, 0.0, "lookups", "nothing left to check")
    if not any(p.usable for p in pairs):
        return None
    point_lookups = work.unresolved * (1 + NOT_FOUND_SHARE) + work.privacy_unknown
    point = bounds(pairs, settings, work, now, lookups=point_lookups)
    low = bounds(pairs, settings, work, now, lookups=work.unresolved)
    high = bounds(
        pairs, settings, work, now,
        lookups=point_lookups * (1 + RETRY_SHARE),
        budget_share=HIGH_BUDGET_SHARE,
    )
    bound = max(point, key=lambda k: point[k])
    seconds = point[bound]
    if not math.isfinite(seconds):
        return None
    return Estimate(
        seconds=seconds,
        low=min(seconds, max(low.values())),
        high=max(seconds, max(high.values())),
        bound=bound,
        bound_by=bound_text(bound, work, settings),
    )


def estimate_many(
    pairs: Sequence[PairState],
    settings: PoolSettings,
    works: Mapping[str, Work],
    now: float,
) -> dict[str, Estimate | None]:
    """Remaining time of each running batch while they share the pool round-robin.

    A batch whose work alone takes T finishes once the pool did its work plus, of every other
    batch j, the share min(1, T / T_j) of j's work (what runs beside it until it ends).
    """
    alone = {key: estimate(pairs, settings, work, now) for key, work in works.items()}
    if len(works) < 2:
        return alone
    shared: dict[str, Estimate | None] = {}
    for key, work in works.items():
        mine = alone[key]
        if mine is None or mine.seconds <= 0:
            shared[key] = mine
            continue
        combined = work
        for other, other_work in works.items():
            theirs = alone[other]
            if other == key or theirs is None or theirs.seconds <= 0:
                continue
            combined = combined + other_work.scaled(min(1.0, mine.seconds / theirs.seconds))
        together = estimate(pairs, settings, combined, now)
        shared[key] = mine if together is None else replace(
            together, bound_by=bound_text(together.bound, work, settings)
        )
    return shared


# ---------------------------------------------------------------------------- reasons


def clock_time(moment: float, now: float) -> str:
    """`14:05 UTC (in 3 min)`: a wall-clock time with how far away it is."""
    at = datetime.fromtimestamp(moment, UTC)
    left = max(0.0, moment - now)
    if left < 90:
        away = f"in {max(1, round(left))} s"
    elif left < 5400:
        away = f"in {round(left / 60)} min"
    else:
        away = f"in {left / 3600:.1f} h"
    return f"{at:%H:%M} UTC ({away})"


def pool_picture(pairs: Sequence[PairState], now: float) -> tuple[str, float | None]:
    """What holds the pairs that cannot send now: `2 invalid (new session needed), 1 cooling
    until 14:05 UTC (in 3 min)`, and the moment the first waiting pair is back (None: no pair
    comes back by itself)."""
    parts: list[str] = []
    counts: dict[str, int] = {}
    for pair in pairs:
        if not pair.usable:
            counts[pair.state] = counts.get(pair.state, 0) + 1
    for state in [*NEEDS, *sorted(set(counts) - set(NEEDS))]:
        if counts.get(state):
            parts.append(f"{counts[state]} {NEEDS.get(state, state)}")
    back: float | None = None
    for state, label in WAITS.items():
        waiting = [p.available_at for p in pairs if p.state == state and p.available_at > now]
        if waiting:
            first = min(waiting)
            back = first if back is None else min(back, first)
            parts.append(f"{len(waiting)} {label} until {clock_time(first, now)}")
    return ", ".join(parts), back


def waiting_reason(
    pairs: Sequence[PairState],
    settings: PoolSettings,
    work: Work,
    now: float,
    estimate_: Estimate | None = None,
) -> Reason | None:
    """Why a running batch is held back, or None when nothing holds it."""
    if work.pending <= 0:
        return None
    if not pairs:
        return Reason("no_usable_pair", "no usable pair: none configured (add a proxy + session)")
    ready = [p for p in pairs if p.ready(now)]
    if not ready:
        held, back = pool_picture(pairs, now)
        return Reason("no_usable_pair", f"no usable pair: {held}", back)
    if all(p.requests_left <= 0 for p in ready):
        until = _first_free(ready)
        when = f" until {clock_time(until, now)}" if until is not None else ""
        return Reason(
            "request_budget",
            f"request budget exhausted{when}: proxy_hourly_limit reached on every ready pair",
            until,
        )
    if work.unresolved > 0 and all(p.lookups_left <= 0 for p in ready):
        until = _first_free(ready, lookups=True)
        when = f" until {clock_time(until, now)}" if until is not None else ""
        return Reason(
            "lookup_budget",
            f"lookup budget exhausted{when}: {round(work.unresolved)} new accounts need a "
            "username lookup",
            until,
        )
    if estimate_ is not None and estimate_.bound == "profiles_per_minute":
        return Reason("paced", f"paced: profiles_per_minute = {settings.profiles_per_minute}")
    return None


def _first_free(pairs: Sequence[PairState], *, lookups: bool = False) -> float | None:
    moments = [
        moment
        for p in pairs
        if (moment := p.lookups_free_at if lookups else p.frees_at) is not None
    ]
    return min(moments) if moments else None


__all__ = [
    "Estimate",
    "PairState",
    "PoolSettings",
    "Reason",
    "Work",
    "bound_text",
    "bounds",
    "clock_time",
    "estimate",
    "estimate_many",
    "pool_picture",
    "time_to",
    "waiting_reason",
]
