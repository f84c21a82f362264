"""Pair health: what each classified answer does to a proxy + session pair (DESIGN.md §4.4).

States (columns `proxies.health`, `cooldown_until`)::

      rate limited (full-jitter backoff, honours Retry-After), address blocked (backoff),
      action blocked (`action_block_cooldown_hours`), client version refused (~15 min)
        ready ─────────────────────────────────────────────► cooling
          ▲  ▲ ◄──────────────── cooldown over ─────────────────┘
          │  │
          │  └─ probe succeeds ── open ◄── `proxy_max_failures` transport or connection
          │                       │  ▲         errors in a row
          │                       │  ▲
          │                       └──┘ probe fails (longer cooldown)
          │
          └── user re-enables / replaces the session (API) ── invalid | challenge | disabled

    ready      may take requests
    cooling    rate limited, address blocked, action blocked or client refused; usable
               again at `cooldown_until` (the session stays valid)
    open       circuit open; after `cooldown_until` exactly one probe request (half-open)
    invalid    session logged out (login_required): needs a new cookie
    challenge  checkpoint / challenge (or a masked one): needs a human
    disabled   switched off by the user (also: proxy not active, session not active)

The tracker lives in memory (the hot path); the engine persists its changes in the background
with conditional updates (`WHERE health = :what_we_last_saw`), so a change made through the
API at the same moment wins and is adopted on the next refresh. Every failure and every
health change also becomes a `proxy_error_logs` row; none contains a secret.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from storycheck.engine.errors import Classification, IgError, RateLimited
from storycheck.proxies.models import PairHealth
from storycheck.settings.schemas import DEFAULT_SETTINGS

READY = PairHealth.READY.value
COOLING = PairHealth.COOLING.value
OPEN = PairHealth.OPEN.value
INVALID = PairHealth.INVALID.value
CHALLENGE = PairHealth.CHALLENGE.value
DISABLED = PairHealth.DISABLED.value
INF = math.inf
CLIENT_REFUSED_MESSAGE = "client version refused: update the user agent"

# Instagram answered about the items (even "no such user"): the pair works.
ANSWERED = frozenset(
    {Classification.SUCCESS, Classification.NOT_FOUND, Classification.PROFILE_UNAVAILABLE}
)
# No usable answer arrived: the pair's error score grows and its circuit may open.
TRANSPORT = frozenset({Classification.TRANSIENT, Classification.CONNECTION_FAILED})
# The answers that cool a pair, and what its log calls the cooldown when it ends.
COOLDOWN_CAUSES = {
    Classification.RATE_LIMITED: "rate limit",
    Classification.ADDRESS_BLOCKED: "address block",
    Classification.ACTION_BLOCKED: "action block",
    Classification.CLIENT_REFUSED: "client version refusal",
}


@dataclass(frozen=True)
class HealthPolicy:
    """Thresholds and backoff shape; the settings give `max_failures`, tests shrink times."""

    max_failures: int = DEFAULT_SETTINGS.proxy_max_failures
    cooldown_base: float = 60.0  # first rate-limit backoff ceiling, doubled per level
    cooldown_cap: float = 3600.0
    min_cooldown: float = 5.0
    open_cooldown: float = 60.0  # circuit-open time before the first probe, doubled per level
    # feedback_required ("Action Blocked")
    action_block_cooldown: float = DEFAULT_SETTINGS.action_block_cooldown_hours * 3600.0
    client_refused_cooldown: float = 900.0  # unsupported_version: until the user agent changes

    def backoff(
        self, level: int, *, base: float, retry_after: float | None, rng: Callable[[], float]
    ) -> float:
        """Full-jitter exponential backoff: uniform(0, min(cap, base·2^level)), floored.

        The floor is `min_cooldown`, and Retry-After (when Instagram sent one) wins when longer.
        """
        ceiling = min(self.cooldown_cap, base * float(2 ** min(level, 30)))
        delay = max(self.min_cooldown, rng() * ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, max(self.cooldown_cap, retry_after or 0.0))


@dataclass(frozen=True)
class PairEvent:
    """One `proxy_error_logs` row to write: a failure, or a health change (`state_change`)."""

    proxy_id: str
    session_id: str | None
    at: float
    message: str
    state_change: bool = False
    transition_reason: str | None = None
    recovery_at: float | None = None


@dataclass
class PairHealthState:
    """Health and counters of one pair, as the engine sees it now."""

    proxy_id: str
    session_id: str | None
    label: str
    health: str = READY
    cooldown_until: float | None = None
    error_score: float = 0.0
    consecutive_failures: int = 0
    backoff_level: int = 0
    probing: bool = False
    # What the pair is cooling for (a `COOLDOWN_CAUSES` name), said when the cooldown ends;
    # None when not known (a cooldown read back from the database, or set through the API).
    cooling_for: str | None = None
    # What the database holds: the `expected` of our next conditional write.
    db_health: str = READY
    health_dirty: bool = False
    # Counters since the last flush, and running values.
    requests: int = 0
    failures: int = 0
    avg_response_ms: float = 0.0
    errors_since_success: int = 0
    last_used: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    counters_dirty: bool = False
    events: list[PairEvent] = field(default_factory=list)

    # ------------------------------------------------------------------ availability

    def available_at(self, now: float) -> float:
        """When this pair may send next as far as health goes (inf: not until a human acts)."""
        if self.health == READY:
            return now
        if self.health in (COOLING, OPEN):
            if self.probing:
                return INF
            return max(now, self.cooldown_until or now)
        return INF

    def tick(self, now: float) -> None:
        """Let an expired cooldown end even when no request comes along."""
        if self.health == COOLING and (self.cooldown_until or 0) <= now:
            self._cooldown_over(now)

    def begin_request(self, now: float) -> None:
        """A request starts: a cooled-down pair is ready again; an open circuit sends its probe."""
        self.last_used = now
        self.counters_dirty = True
        if self.health == COOLING and (self.cooldown_until or 0) <= now:
            self._cooldown_over(now)
        elif self.health == OPEN and (self.cooldown_until or 0) <= now:
            self.probing = True

    # ------------------------------------------------------------------ outcomes

    def record(
        self,
        classification: Classification,
        error: IgError | None,
        now: float,
        elapsed: float,
        policy: HealthPolicy,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """Apply one request's classified outcome."""
        self.requests += 1
        self.counters_dirty = True
        ms = elapsed * 1000.0
        self.avg_response_ms = (
            ms if self.avg_response_ms == 0 else self.avg_response_ms * 0.7 + ms * 0.3
        )
        if classification in ANSWERED:
            self._success(now)
            return
        message = error.message if error is not None else classification.value
        if classification is Classification.CLIENT_REFUSED:
            message = f"{CLIENT_REFUSED_MESSAGE} ({message})"
        self.failures += 1
        self.errors_since_success += 1
        self.last_error = message[:500]
        self.cooling_for = COOLDOWN_CAUSES.get(classification, self.cooling_for)
        if classification is Classification.RATE_LIMITED:
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            self._backoff(now, policy, rng, retry_after, f"rate limited: {message}", "rate limited")
        elif classification is Classification.ADDRESS_BLOCKED:
            self._backoff(now, policy, rng, None, message, "address blocked at the edge")
        elif classification is Classification.ACTION_BLOCKED:
            self._cool(now, policy.action_block_cooldown, message, "action blocked")
        elif classification is Classification.CLIENT_REFUSED:
            self._cool(now, policy.client_refused_cooldown, message, "client version refused")
        elif classification is Classification.SESSION_INVALID:
            self.probing = False
            self._change(INVALID, now, message, "session logged out; needs a new cookie")
        elif classification is Classification.CHALLENGE:
            self.probing = False
            self._change(CHALLENGE, now, message, "session challenged; needs a human")
        elif classification in TRANSPORT:
            self._transport_error(now, policy, rng, message)
        else:  # too many ids, dense form refused: not the pair's fault, but a failure to log
            self._event(now, message)

    def _backoff(
        self,
        now: float,
        policy: HealthPolicy,
        rng: Callable[[], float],
        retry_after: float | None,
        message: str,
        what: str,
    ) -> None:
        """Cool with full-jitter exponential backoff (one level deeper each time)."""
        delay = policy.backoff(
            self.backoff_level, base=policy.cooldown_base, retry_after=retry_after, rng=rng
        )
        self.backoff_level += 1
        self._cool(now, delay, message, f"{what} (level {self.backoff_level})")

    def _cool(self, now: float, delay: float, message: str, what: str) -> None:
        self.cooldown_until = now + delay
        self.probing = False
        self._change(
            COOLING,
            now,
            message,
            f"{what}; cooling for {delay:.0f}s",
            recovery_at=self.cooldown_until,
        )

    def _transport_error(
        self, now: float, policy: HealthPolicy, rng: Callable[[], float], message: str
    ) -> None:
        self.consecutive_failures += 1
        self.error_score += 1.0
        if not (self.probing or self.consecutive_failures >= policy.max_failures):
            self._event(now, message)
            return
        delay = policy.backoff(
            self.backoff_level, base=policy.open_cooldown, retry_after=None, rng=rng
        )
        self.backoff_level += 1
        self.cooldown_until = now + delay
        reason = (
            "probe failed"
            if self.probing
            else f"{self.consecutive_failures} transport errors in a row"
        )
        self.probing = False
        self._change(
            OPEN,
            now,
            message,
            f"circuit open ({reason}); probe in {delay:.0f}s",
            recovery_at=self.cooldown_until,
        )

    def _cooldown_over(self, now: float) -> None:
        cause = self.cooling_for
        ended = f"{cause} cooldown ended" if cause else "cooldown ended"
        self._change(READY, now, "cooldown over", ended)

    def _success(self, now: float) -> None:
        self.last_success = now
        self.errors_since_success = 0
        self.consecutive_failures = 0
        self.error_score = round(self.error_score * 0.5, 3) if self.error_score > 0.01 else 0.0
        if self.backoff_level:
            self.backoff_level -= 1
            self.health_dirty = True
        if self.health == OPEN:
            self.probing = False
            self.cooldown_until = None
            self._change(READY, now, "probe succeeded", "circuit closed after a successful probe")
        elif self.health == COOLING:
            self.cooldown_until = None
            self._change(READY, now, "request succeeded", "cooldown over")

    def _event(self, now: float, message: str) -> None:
        self.events.append(PairEvent(self.proxy_id, self.session_id, now, message[:500]))

    def _change(
        self,
        new: str,
        now: float,
        message: str,
        reason: str,
        *,
        recovery_at: float | None = None,
    ) -> None:
        old = self.health
        self.health = new
        self.health_dirty = True
        if new == READY:
            self.cooldown_until = None
        if new != COOLING:
            self.cooling_for = None
        self.events.append(
            PairEvent(
                self.proxy_id,
                self.session_id,
                now,
                message[:500],
                state_change=old != new,
                transition_reason=f"{old} → {new}: {reason}" if old != new else reason,
                recovery_at=recovery_at,
            )
        )

    # ------------------------------------------------------------------ database view

    def adopt(self, db_health: str, cooldown_until: float | None, *, now: float) -> bool:
        """Take over a health value someone else wrote (the API); True when it changed ours."""
        if db_health == self.db_health:
            return False
        old = self.health
        self.db_health = db_health
        self.health = db_health
        self.health_dirty = False
        self.probing = False
        self.cooldown_until = cooldown_until
        self.cooling_for = None  # whatever it is cooling for now, we did not see it begin
        if db_health == READY:
            self.consecutive_failures = 0
            self.backoff_level = 0
            self.error_score = 0.0
            self.cooldown_until = None
        if old != db_health:
            self.events.append(
                PairEvent(
                    self.proxy_id,
                    self.session_id,
                    now,
                    f"health set to {db_health} outside the engine",
                    state_change=True,
                    transition_reason=f"{old} → {db_health}: changed by the user",
                )
            )
        return True

    def new_session(self, now: float) -> None:
        """The cookie was replaced: a logged-out or challenged pair gets another chance."""
        if self.health in (INVALID, CHALLENGE):
            self.consecutive_failures = 0
            self.backoff_level = 0
            self._change(READY, now, "session replaced", "new session cookie")

    def take_events(self) -> list[PairEvent]:
        """Hand over the events collected since the last call."""
        events, self.events = self.events, []
        return events


__all__ = [
    "ANSWERED",
    "CHALLENGE",
    "CLIENT_REFUSED_MESSAGE",
    "COOLING",
    "DISABLED",
    "INVALID",
    "OPEN",
    "READY",
    "HealthPolicy",
    "PairEvent",
    "PairHealthState",
]
