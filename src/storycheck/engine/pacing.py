"""Pacing: when may a pair send its next request, and how the budget survives restarts.

Per pair, i.e. per session (DESIGN.md §4.3; Instagram counts per session):

* at most `stories_limit` requests of any kind — lookups and story requests together — in any
  sliding window of `window_seconds` (an hour in production; tests compress it), and inside
  that budget at most `lookup_limit` username lookups. A pair's budget can be lowered below
  the setting by what the engine learned from rate limits (`set_pair_limit`, see `adaptive`);
* between two request starts a random gap of `min_interval` × (1 ± `jitter`), so a pair
  never fires at a machine-regular beat; one request in flight.

A request occupies its window from the moment its answer arrived (or it failed), not from
when it was sent: the server counts it somewhere in between, so counting from the later time
can never let the window slide too early. `margin` adds a little slack for clock skew.

Globally: at most `max_in_flight` requests at once and `checks_per_minute` profiles checked
in any sliding minute (0 = unlimited), spread evenly over the minute, see `GlobalLimits`.

The budget must survive a restart, yet the hot path must not write to the database before
every request. `UsageLedger` keeps *reservations* in `proxy_usage` (minute buckets): a pair
may only send while the persisted count of the current minute exceeds what it has used, and
the engine tops reservations up in the background in small chunks. After a crash, every
reserved request counts as sent at the end of its minute (or now, if earlier), which is never
earlier than the real send time: conservative by construction.

`Pacer` is the interface; `InMemoryPacer` is the implementation. In distributed mode each pair
is owned by one worker at a time (`storycheck.distributed.ownership`), so the in-memory pacer
of its owner is the only one pacing it, and the ledger carries the budget across a hand-over.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from storycheck.settings.schemas import DEFAULT_SETTINGS

Kind = Literal["lookup", "stories"]
KINDS: tuple[Kind, Kind] = ("lookup", "stories")
INF = math.inf


@dataclass(frozen=True)
class PacingLimits:
    """Per-pair budgets. Defaults are the settings' defaults (DESIGN.md §4.3, settings/schemas.py)."""

    stories_limit: int = DEFAULT_SETTINGS.proxy_hourly_limit  # every request of the session
    lookup_limit: int = DEFAULT_SETTINGS.lookup_hourly_limit  # lookups, inside that budget
    min_interval: float = DEFAULT_SETTINGS.min_request_interval
    window_seconds: float = 3600.0
    margin: float = 0.05
    jitter: float = 0.0  # gap = min_interval × (1 ± jitter), uniformly drawn

    def limit(self, kind: Kind) -> int:
        """The window budget of one request kind."""
        if kind == "stories":
            return self.stories_limit
        return min(self.lookup_limit, self.stories_limit)

    def gap(self, draw: float) -> float:
        """The gap before a pair's next request for a uniform `draw` in [0, 1)."""
        spread = max(0.0, min(0.9, self.jitter))
        return max(0.0, self.min_interval * (1.0 + spread * (2.0 * draw - 1.0)))

    def rate(self, kind: Kind) -> float:
        """Steady-state requests per second one pair may send of `kind`."""
        by_window = self.limit(kind) / self.window_seconds
        return min(by_window, 1.0 / self.min_interval) if self.min_interval > 0 else by_window


class Pacer(Protocol):
    """Decides when each pair may send; implementations may share state across processes."""

    def set_limits(self, limits: PacingLimits) -> None:
        """Apply new budgets (settings changed)."""

    def next_free(self, pair_id: str, kind: Kind, now: float) -> float:
        """The earliest time `pair_id` may start a `kind` request (inf while one is in flight)."""

    def acquire(self, pair_id: str, kind: Kind, now: float) -> None:
        """Take the slot: a request of `kind` starts now."""

    def complete(self, pair_id: str, kind: Kind, now: float, *, sent: bool = True) -> None:
        """The request ended at `now`; `sent=False` gives the slot back unused."""

    def used(self, pair_id: str, kind: Kind, now: float) -> int:
        """Requests of `kind` counted in the pair's current window (in flight included)."""

    def set_pair_limit(self, pair_id: str, limit: int | None) -> None:
        """Cap one pair's session budget below the setting (None: the setting applies)."""

    def restore(self, pair_id: str, kind: Kind, times: Iterable[float]) -> None:
        """Count requests sent before a restart (times are upper bounds of the send times)."""

    def not_before(self, pair_id: str, moment: float) -> None:
        """Let `pair_id` send nothing before `moment` (spreads pairs that start together)."""

    def forget(self, pair_id: str) -> None:
        """Drop a pair that no longer exists."""


@dataclass
class _Window:
    """Completion times of the requests in one pair's sliding window, sorted."""

    times: list[float] = field(default_factory=list)
    in_flight: int = 0

    def trim(self, horizon: float) -> None:
        cut = bisect.bisect_right(self.times, horizon)
        if cut:
            del self.times[:cut]

    def free_at(self, limit: int, span: float) -> float:
        """When one more request fits under `limit` (-inf: now; inf: not before an answer)."""
        if limit <= 0:
            return INF
        excess = len(self.times) + self.in_flight - limit
        if excess < 0:
            return -INF
        if excess >= len(self.times):
            return INF
        return self.times[excess] + span


@dataclass
class _PairPace:
    windows: dict[str, _Window] = field(default_factory=lambda: {kind: _Window() for kind in KINDS})
    total: _Window = field(default_factory=_Window)  # every kind: the session budget
    last_start: float = -INF
    in_flight: int = 0
    not_before: float = -INF
    gap: float | None = None  # drawn at each start; None: the plain min interval
    limit: int | None = None  # learned session budget (below the setting), None: the setting


class InMemoryPacer:
    """The single-process pacer: per-pair sliding windows in memory."""

    def __init__(
        self, limits: PacingLimits | None = None, rng: random.Random | None = None
    ) -> None:
        self.limits = limits or PacingLimits()
        self.rng = rng or random.Random()
        self._pairs: dict[str, _PairPace] = {}

    def set_limits(self, limits: PacingLimits) -> None:
        """Apply new budgets; windows keep their entries."""
        self.limits = limits

    def _pair(self, pair_id: str) -> _PairPace:
        pace = self._pairs.get(pair_id)
        if pace is None:
            pace = self._pairs[pair_id] = _PairPace()
        return pace

    def _span(self) -> float:
        return self.limits.window_seconds + self.limits.margin

    def session_limit(self, pair_id: str) -> int:
        """The pair's session budget now: the setting, or less when it learned a lower one."""
        pace = self._pairs.get(pair_id)
        configured = self.limits.stories_limit
        if pace is None or pace.limit is None:
            return configured
        return max(1, min(configured, pace.limit))

    def next_free(self, pair_id: str, kind: Kind, now: float) -> float:
        """The earliest start time for a `kind` request of `pair_id` (≥ now)."""
        pace = self._pair(pair_id)
        if pace.in_flight:
            return INF
        limits = self.limits
        gap = limits.min_interval if pace.gap is None else pace.gap
        at = max(now, pace.last_start + gap, pace.not_before)
        span = self._span()
        pace.total.trim(now - span)
        session = self.session_limit(pair_id)
        at = max(at, pace.total.free_at(session, span))
        if kind == "lookup":
            window = pace.windows[kind]
            window.trim(now - span)
            at = max(at, window.free_at(min(limits.lookup_limit, session), span))
        return at

    def acquire(self, pair_id: str, kind: Kind, now: float) -> None:
        """Count a request starting now, and draw the gap before the pair's next one."""
        pace = self._pair(pair_id)
        pace.in_flight += 1
        pace.last_start = now
        pace.gap = self.limits.gap(self.rng.random())
        pace.windows[kind].in_flight += 1
        pace.total.in_flight += 1

    def complete(self, pair_id: str, kind: Kind, now: float, *, sent: bool = True) -> None:
        """Turn the in-flight slot into a window entry at `now` (or free it when not sent)."""
        pace = self._pair(pair_id)
        pace.in_flight = max(0, pace.in_flight - 1)
        for window in (pace.windows[kind], pace.total):
            window.in_flight = max(0, window.in_flight - 1)
            if sent:
                bisect.insort(window.times, now)

    def used(self, pair_id: str, kind: Kind, now: float) -> int:
        """Requests counted in the current window, in flight included."""
        pace = self._pairs.get(pair_id)
        if pace is None:
            return 0
        window = pace.windows[kind]
        window.trim(now - self._span())
        return len(window.times) + window.in_flight

    def set_pair_limit(self, pair_id: str, limit: int | None) -> None:
        """Cap one pair's session budget (None: back to the setting)."""
        self._pair(pair_id).limit = limit

    def restore(self, pair_id: str, kind: Kind, times: Iterable[float]) -> None:
        """Add entries for requests persisted before a restart."""
        pace = self._pair(pair_id)
        for moment in times:
            bisect.insort(pace.windows[kind].times, moment)
            bisect.insort(pace.total.times, moment)

    def not_before(self, pair_id: str, moment: float) -> None:
        """Hold the pair back until `moment`."""
        pace = self._pair(pair_id)
        pace.not_before = max(pace.not_before, moment)

    def forget(self, pair_id: str) -> None:
        """Drop the pair's windows."""
        self._pairs.pop(pair_id, None)


class GlobalLimits:
    """Process-wide caps: requests in flight and profiles checked per sliding minute.

    `checks_per_minute` holds in every sliding minute, and checks are also spread evenly over
    it: they earn one credit per 60 / `checks_per_minute` seconds (at most one is saved up),
    and a request may start with a whole credit, taking up to `burst` checks at once (a story
    request's ids) into debt that later checks wait out. In any span of t seconds at
    most `burst` + t × `checks_per_minute` / 60 checks start, so progress moves steadily;
    without the spread the minute's whole allowance went out in its first second and the
    progress bar jumped once a minute.
    """

    def __init__(self, max_in_flight: int = 8, checks_per_minute: int = 0, burst: int = 20) -> None:
        self.max_in_flight = max(1, max_in_flight)
        self.checks_per_minute = max(0, checks_per_minute)
        self.burst = max(1, burst)
        self.in_flight = 0
        self._checks: deque[tuple[float, int]] = deque()
        self._checks_in_window = 0
        self._credit = 1.0
        self._credit_at: float | None = None

    def configure(
        self, *, max_in_flight: int, checks_per_minute: int, burst: int | None = None
    ) -> None:
        """Apply new settings."""
        self.max_in_flight = max(1, max_in_flight)
        self.checks_per_minute = max(0, checks_per_minute)
        if burst is not None:
            self.burst = max(1, burst)

    @property
    def slot_free(self) -> bool:
        """True when another request may start."""
        return self.in_flight < self.max_in_flight

    @property
    def checks_in_window(self) -> int:
        """Checks counted in the sliding minute (as of the last call that trimmed it)."""
        return self._checks_in_window

    def checks_allowed(self, now: float) -> tuple[int, float]:
        """How many checks may start now, and (when none) the time one becomes available."""
        if self.checks_per_minute <= 0:
            return (1 << 30), now
        self._trim(now)
        left = min(self.checks_per_minute - self._checks_in_window, self.burst)
        credit = self._credit_now(now)
        if left > 0 and credit >= 1.0 - 1e-9:
            return left, now
        at = now + max(0.0, 1.0 - credit) * 60.0 / self.checks_per_minute
        if left <= 0 and self._checks:
            at = max(at, self._checks[0][0] + 60.0)
        return 0, at

    def take_checks(self, count: int, now: float) -> None:
        """Count `count` profiles whose check starts now."""
        if self.checks_per_minute > 0 and count > 0:
            self._credit = self._credit_now(now) - count
            self._checks.append((now, count))
            self._checks_in_window += count

    def _credit_now(self, now: float) -> float:
        if self._credit_at is not None and now > self._credit_at:
            earned = (now - self._credit_at) * self.checks_per_minute / 60.0
            self._credit = min(1.0, self._credit + earned)
        if self._credit_at is None or now > self._credit_at:
            self._credit_at = now
        return self._credit

    def _trim(self, now: float) -> None:
        while self._checks and self._checks[0][0] <= now - 60.0:
            self._checks_in_window -= self._checks.popleft()[1]


UsageKey = tuple[str, str, int]  # (proxy_id, kind, minute)


def minute_of(moment: float) -> int:
    """The `proxy_usage.minute` bucket of a unix time."""
    return int(moment // 60)


class UsageLedger:
    """Reservations in `proxy_usage`: the persisted count always covers the requests sent.

    `allows` is the hot-path check (no I/O); `wanted` computes the top-ups the engine writes
    in the background (`Recorder.persist_usage`), `applied` books them after the commit.
    """

    def __init__(self, *, horizon: float = 2.0, min_chunk: int = 2, max_chunk: int = 64) -> None:
        self.horizon = horizon
        self.min_chunk = min_chunk
        self.max_chunk = max_chunk
        self._reserved: dict[UsageKey, int] = {}
        self._used: dict[UsageKey, int] = {}
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._starved: set[tuple[str, str]] = set()

    def allows(self, pair_id: str, kind: Kind, now: float) -> bool:
        """True when a reserved, unused request is left in the current minute."""
        key = (pair_id, kind, minute_of(now))
        if self._used.get(key, 0) < self._reserved.get(key, 0):
            return True
        self._starved.add((pair_id, kind))
        return False

    @property
    def starved(self) -> bool:
        """True when some pair waits for a reservation (flush soon)."""
        return bool(self._starved)

    def consume(self, pair_id: str, kind: Kind, now: float) -> None:
        """Book one request sent now against the reservation."""
        key = (pair_id, kind, minute_of(now))
        self._used[key] = self._used.get(key, 0) + 1
        recent = self._recent.setdefault((pair_id, kind), deque())
        recent.append(now)

    def restore(self, pair_id: str, kind: str, minute: int, count: int) -> None:
        """Adopt a persisted bucket after a restart: all of it counts as used."""
        key = (pair_id, kind, minute)
        self._reserved[key] = max(self._reserved.get(key, 0), count)
        self._used[key] = max(self._used.get(key, 0), count)

    def wanted(self, now: float, limits: PacingLimits) -> dict[UsageKey, int]:
        """Top-ups to persist now: enough for the next `horizon` seconds of each busy pair."""
        minute = minute_of(now)
        near_end = (minute + 1) * 60 - now < self.horizon + 0.5
        deltas: dict[UsageKey, int] = {}
        active = set(self._starved)
        for pair_kind, recent in list(self._recent.items()):
            while recent and recent[0] < now - 10.0:
                recent.popleft()
            if recent:
                active.add(pair_kind)
            else:
                del self._recent[pair_kind]
        for pair_id, kind in active:
            recent_count = len(self._recent.get((pair_id, kind), ()))
            rate = recent_count / 10.0
            chunk = math.ceil(rate * self.horizon) + 1
            limit = max(1, limits.limit(kind))  # type: ignore[arg-type]
            chunk = max(self.min_chunk, min(self.max_chunk, chunk, limit))
            for bucket in (minute, minute + 1) if near_end else (minute,):
                key = (pair_id, kind, bucket)
                reserved = self._reserved.get(key, 0)
                left = reserved - self._used.get(key, 0)
                if left * 2 <= chunk:
                    deltas[key] = chunk - left
        return deltas

    def applied(self, deltas: dict[UsageKey, int]) -> None:
        """Book reservations that are now committed."""
        for key, delta in deltas.items():
            self._reserved[key] = self._reserved.get(key, 0) + delta
            self._starved.discard((key[0], key[1]))

    def prune(self, now: float, keep_seconds: float) -> None:
        """Forget buckets older than `keep_seconds`."""
        oldest = minute_of(now - keep_seconds)
        for table in (self._reserved, self._used):
            for key in [k for k in table if k[2] < oldest]:
                del table[key]

    def forget(self, pair_id: str) -> None:
        """Drop a pair that no longer exists."""
        for table in (self._reserved, self._used):
            for key in [k for k in table if k[0] == pair_id]:
                del table[key]
        for pair_kind in [k for k in self._recent if k[0] == pair_id]:
            del self._recent[pair_kind]
        self._starved = {k for k in self._starved if k[0] != pair_id}


def restored_times(minute: int, count: int, now: float) -> list[float]:
    """Upper bounds of the send times of `count` requests persisted in bucket `minute`."""
    moment = min(now, (minute + 1) * 60.0)
    return [moment] * count
