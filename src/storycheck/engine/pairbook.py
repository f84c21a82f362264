"""The pairs the engine may use, and the settings that shape them (no I/O, loop thread only).

`PairBook` turns what the database says (pair rows, the settings row) into run-time state:
one `Pair` per proxy with its decrypted identity and health, the pacing budgets (including
each pair's learned limit, see `adaptive`), the global caps, the health policy and the
story-request form per pair (v1 `reels_media`, or the dense `doc_id` form when configured
and not refused by that pair). The scheduler re-reads rows every few seconds and hands them
here (`apply_settings`, `apply_pairs`), and asks here which pairs may send now
(`free_pairs`). The background flush collects from here what to persist (`pair_writes`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from storycheck.crypto import SecretBox
from storycheck.engine.adaptive import AdaptiveLimit
from storycheck.engine.client import DENSE_IDS_PER_REQUEST, V1_MAX_IDS
from storycheck.engine.health import (
    CHALLENGE,
    INVALID,
    HealthPolicy,
    PairEvent,
    PairHealthState,
)
from storycheck.engine.options import EngineOptions
from storycheck.engine.pacing import (
    INF,
    GlobalLimits,
    InMemoryPacer,
    Kind,
    Pacer,
    PacingLimits,
    UsageLedger,
)
from storycheck.engine.pairs import Pair, build_identity, identity_fields, label_of
from storycheck.engine.types import EngineSettings, PairRow, PairWrite

log = logging.getLogger(__name__)



class PairBook:
    """Run-time pairs, budgets and settings; see the module docstring."""

    def __init__(
        self,
        *,
        secrets: SecretBox,
        options: EngineOptions,
        pacer: Pacer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.secrets = secrets
        self.options = options
        self.rng = rng or random.Random()
        self.settings = EngineSettings()
        self.limits = PacingLimits(
            window_seconds=options.window_seconds, margin=options.pacing_margin
        )
        self.pacer: Pacer = pacer or InMemoryPacer(self.limits, self.rng)
        self.ledger = UsageLedger()
        self.global_limits = GlobalLimits()
        self.policy = self._policy()
        self.pairs: dict[str, Pair] = {}
        self.usable: list[Pair] = []
        self.adaptive: dict[str, AdaptiveLimit] = {}
        self.dense_off_until: dict[str, float] = {}  # pair → when to try the dense form again
        self.dense_size = DENSE_IDS_PER_REQUEST
        self.v1_size = self.settings.reel_ids_per_request
        # session id → (new status, the encrypted cookie it applies to), for the next flush.
        self.session_status: dict[str, tuple[str, str | None]] = {}
        self.loaded = False

    # ------------------------------------------------------------------ settings

    def _policy(self) -> HealthPolicy:
        options = self.options
        hour = options.window_seconds  # the engine's "hour" (compressed in tests)
        return HealthPolicy(
            max_failures=max(1, self.settings.proxy_max_failures),
            cooldown_base=options.cooldown_base,
            cooldown_cap=options.cooldown_cap,
            min_cooldown=options.min_cooldown,
            open_cooldown=options.open_cooldown,
            action_block_cooldown=max(0.0, self.settings.action_block_cooldown_hours) * hour,
            client_refused_cooldown=hour / 4,
        )

    def apply_settings(self, settings: EngineSettings) -> None:
        """Adopt a (re-)read settings row."""
        old = self.settings
        self.settings = settings
        self.limits = PacingLimits(
            stories_limit=max(1, settings.proxy_hourly_limit),
            lookup_limit=max(1, settings.lookup_hourly_limit),
            min_interval=max(0.0, settings.min_request_interval),
            window_seconds=self.options.window_seconds,
            margin=self.options.pacing_margin,
            jitter=max(0.0, settings.request_jitter),
        )
        self.pacer.set_limits(self.limits)
        self.policy = self._policy()
        for proxy_id, learned in self.adaptive.items():
            learned.configure(self.limits.stories_limit)
            self.pacer.set_pair_limit(proxy_id, learned.learned)
        if settings.reel_ids_per_request != old.reel_ids_per_request or not self.loaded:
            self.v1_size = max(1, min(V1_MAX_IDS, settings.reel_ids_per_request))
        # profiles_per_minute is spread evenly; a story request's ids may start together.
        self.global_limits.configure(
            max_in_flight=max(1, settings.max_threads),
            checks_per_minute=max(0, settings.profiles_per_minute),
            burst=self.group_size(),
        )
        if settings.dense_doc_id != old.dense_doc_id:
            self.dense_off_until.clear()  # a new doc_id deserves a fresh try everywhere

    # ------------------------------------------------------------------ pairs

    def apply_pairs(self, rows: Sequence[PairRow], now: float) -> list[Pair]:
        """Adopt re-read pair rows; return the pairs that disappeared."""
        seen: set[str] = set()
        for row in rows:
            seen.add(row.proxy_id)
            pair = self.pairs.get(row.proxy_id)
            if pair is None:
                self._add(row, now)
            else:
                self._update(pair, row, now)
        gone = [self.pairs.pop(proxy_id) for proxy_id in [p for p in self.pairs if p not in seen]]
        for pair in gone:
            self.pacer.forget(pair.proxy_id)
            self.ledger.forget(pair.proxy_id)
            self.adaptive.pop(pair.proxy_id, None)
        self.refresh_usable()
        return gone

    def _add(self, row: PairRow, now: float) -> None:
        identity, problem = build_identity(row, self.secrets)
        health = PairHealthState(
            proxy_id=row.proxy_id,
            session_id=row.session_id,
            label=label_of(row),
            health=row.health,
            cooldown_until=row.cooldown_until.timestamp() if row.cooldown_until else None,
            error_score=row.error_score,
            consecutive_failures=row.consecutive_failures,
            backoff_level=row.backoff_level,
            db_health=row.health,
            avg_response_ms=float(row.avg_response_time),
        )
        pair = self.pairs[row.proxy_id] = Pair(row.proxy_id, row, identity, health, problem=problem)
        self.report_problem(pair, now)
        learned = AdaptiveLimit(self.limits.stories_limit, decrease=self.options.learn_decrease)
        if row.learned_hourly_limit is not None:
            # Restored: the level it was refused at is unknown, so it grows slowly from here.
            learned.learned = row.learned_hourly_limit
            learned.refused_at = row.learned_hourly_limit
            learned.last_change = now
            learned.configure(self.limits.stories_limit)
        self.adaptive[row.proxy_id] = learned
        self.pacer.set_pair_limit(row.proxy_id, learned.learned)
        # Pairs that appear together would fire in lockstep forever (one wave every min
        # interval); a random first phase spreads their requests evenly.
        spread = self.limits.min_interval * self.rng.random()
        if spread > 0:
            self.pacer.not_before(row.proxy_id, now + spread)

    def _update(self, pair: Pair, row: PairRow, now: float) -> None:
        if identity_fields(row) != identity_fields(pair.row):
            pair.identity, pair.problem = build_identity(row, self.secrets)
            self.report_problem(pair, now)
            pair.health.session_id = row.session_id
            pair.health.label = label_of(row)
            if row.session_encrypted != pair.row.session_encrypted:
                pair.health.new_session(now)
        pair.row = row
        pair.health.adopt(
            row.health,
            row.cooldown_until.timestamp() if row.cooldown_until else None,
            now=now,
        )

    def report_problem(self, pair: Pair, now: float) -> None:
        """Log (once per change) why a pair cannot be used."""
        if pair.problem and pair.row.session_id is not None:
            log.warning("pair %s cannot be used: %s", pair.label, pair.problem)
            pair.health.events.append(
                PairEvent(pair.proxy_id, pair.row.session_id, now, f"pair unusable: {pair.problem}")
            )

    def refresh_usable(self) -> None:
        """Recompute which pairs may be used at all (enabled, not invalid/challenged)."""
        self.usable = [
            p
            for p in self.pairs.values()
            if p.enabled and p.health.health not in (INVALID, CHALLENGE)
        ]

    def usable_sessions(self) -> set[str]:
        """Session ids of the usable pairs (routing of followed private accounts)."""
        return {p.row.session_id for p in self.usable if p.row.session_id}

    def take_out(self, pair: Pair, status: str) -> None:
        """Mark the pair's session `invalid` / `challenge` at the next flush."""
        if pair.row.session_id:
            self.session_status[pair.row.session_id] = (status, pair.row.session_encrypted)
        self.refresh_usable()

    # ------------------------------------------------------------------ story form

    def dense_for(self, pair: Pair | None, now: float) -> bool:
        """True when story requests of `pair` (any pair: None) use the dense doc_id form."""
        if not (self.options.dense and self.settings.dense_doc_id):
            return False
        if pair is None:
            return True
        return self.dense_off_until.get(pair.proxy_id, -INF) <= now

    def group_size(self, pair: Pair | None = None, now: float = 0.0) -> int:
        """Ids per story request (of `pair`, or the planning size when None)."""
        return max(1, self.dense_size if self.dense_for(pair, now) else self.v1_size)

    def dense_refused(self, pair: Pair, now: float) -> None:
        """The dense form failed on this pair: it uses v1 for a while; others are unaffected."""
        self.dense_off_until[pair.proxy_id] = now + self.options.dense_retry_after

    def too_many_ids(self, dense: bool, sent: int) -> None:
        """Instagram refused the group size: halve it."""
        if dense:
            self.dense_size = max(1, sent // 2)
        else:
            self.v1_size = max(1, sent // 2)

    # ------------------------------------------------------------------ pacing

    def free_pairs(self, kind: Kind, now: float) -> tuple[list[Pair], float, bool]:
        """Pairs that may send a `kind` request now (longest idle first), when the next busy
        one frees up, and whether one only waits for a usage reservation (flush soon)."""
        free: list[Pair] = []
        soonest = INF
        starved = False
        for pair in self.usable:
            if pair.busy:
                continue
            at = max(self.pacer.next_free(pair.proxy_id, kind, now), pair.health.available_at(now))
            if at > now:
                soonest = min(soonest, at)
            elif self.ledger.allows(pair.proxy_id, kind, now):
                free.append(pair)
            else:
                soonest = min(soonest, now + 0.05)
                starved = True
        free.sort(key=lambda p: p.last_start)
        return free, soonest, starved

    def sent_in_window(self, proxy_id: str, now: float) -> int:
        """Requests of any kind the pair has in its current window."""
        return self.pacer.used(proxy_id, "lookup", now) + self.pacer.used(proxy_id, "stories", now)

    def rate_limited(self, pair: Pair, now: float) -> int:
        """Lower the pair's budget after a rate-limit answer (AIMD); return the new budget."""
        learned = self.adaptive.setdefault(
            pair.proxy_id,
            AdaptiveLimit(self.limits.stories_limit, decrease=self.options.learn_decrease),
        )
        budget = learned.rate_limited(self.sent_in_window(pair.proxy_id, now), now)
        self.pacer.set_pair_limit(pair.proxy_id, learned.learned)
        return budget

    def recover(self, now: float) -> None:
        """Let learned budgets grow back after quiet periods."""
        window = self.options.window_seconds
        period = window * self.options.learn_quiet_share
        forget = window * self.options.learn_forget_windows
        for proxy_id, learned in self.adaptive.items():
            if learned.quiet(now, period, forget):
                self.pacer.set_pair_limit(proxy_id, learned.learned)

    # ------------------------------------------------------------------ persistence

    def pair_writes(self, now: float) -> tuple[list[PairWrite], list[PairEvent]]:
        """What changed on each pair since the last flush (counters reset as taken)."""
        writes: list[PairWrite] = []
        events: list[PairEvent] = []
        for pair in self.pairs.values():
            health = pair.health
            health.tick(now)
            events.extend(health.take_events())
            learned = self.adaptive.get(pair.proxy_id)
            learned_dirty = learned is not None and learned.dirty
            if not (health.counters_dirty or health.health_dirty or learned_dirty):
                continue
            write = PairWrite(
                proxy_id=pair.proxy_id,
                session_id=pair.row.session_id,
                requests=health.requests,
                failures=health.failures,
                requests_this_hour=self.sent_in_window(pair.proxy_id, now),
                avg_response_ms=int(health.avg_response_ms),
                errors_since_success=health.errors_since_success,
                error_score=health.error_score,
                consecutive_failures=health.consecutive_failures,
                backoff_level=health.backoff_level,
                last_used=health.last_used,
                last_success=health.last_success,
                last_error=health.last_error,
            )
            if health.health_dirty:
                write.health = health.health
                write.expected_health = health.db_health
                write.cooldown_until = health.cooldown_until
            if learned is not None and learned_dirty:
                write.learned_limit = (learned.learned,)
                learned.dirty = False
            health.requests = 0
            health.failures = 0
            health.counters_dirty = False
            health.health_dirty = False
            writes.append(write)
        return writes, events

    def writes_failed(self, writes: Sequence[PairWrite], events: Sequence[PairEvent]) -> None:
        """Keep what a failed flush could not write, for the next one."""
        for write in writes:
            owner = self.pairs.get(write.proxy_id)
            if owner is None:
                continue
            owner.health.requests += write.requests
            owner.health.failures += write.failures
            owner.health.counters_dirty = True
            owner.health.health_dirty |= write.health is not None
            learned = self.adaptive.get(write.proxy_id)
            if learned is not None and write.learned_limit is not None:
                learned.dirty = True
        for event in reversed(events):
            owner = self.pairs.get(event.proxy_id)
            if owner is not None:
                owner.health.events.insert(0, event)

    def health_written(self, written: dict[str, str]) -> None:
        """Remember what the database now holds (the `expected` of the next write)."""
        for proxy_id, health_value in written.items():
            pair = self.pairs.get(proxy_id)
            if pair is not None:
                pair.health.db_health = health_value


__all__ = ["PairBook"]
