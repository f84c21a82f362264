"""Why a batch is not moving, whether it is stalled, and its ETA: read once, per request.

`read_picture` reads, in a fixed handful of queries, everything the pool model
(`engine/pool_model.py`) needs: the pairs with their health, cooldown and learned limit, what
each pair spent of its current window (the `proxy_usage` reservations every engine process
persists), the settings, and the remaining work of every running batch (pending items, and
how many of them have no cached user id). `notes` turns it into the payload fields of one
batch (the dashboard's pool summary is `dashboard.pool_summary`). Everything comes from the
database, so the answer is the same whichever process serves the request and however many Celery
workers run the checks.

Usage buckets are minutes: the oldest bucket of the window counts the share that overlaps the
window (as if its requests were spread evenly). A window shorter than a minute (tests compress
the "hour") cannot be placed inside its bucket: a bucket with requests counts whole, i.e. a pair
busy this minute is taken to have spent its window (pessimistic by at most one window).

A running batch is **stalled** when no pair may send now and it made no progress (no outcome
recorded, not started: `last_activity`) for `stall_minutes` (`STORYCHECK_ALERTS_STALL_MINUTES`, default 10): the
payload says so and the maintenance thread records the `batch.stalled` alert
(`alerts/sources.py`), both through `stalled_since`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storycheck.batches.models import Batch, BatchProfile, BatchStatus, ItemStatus
from storycheck.config import Config
from storycheck.db import ORDERED_ID_COUNTER_DIGITS, utcnow
from storycheck.engine.client import DENSE_IDS_PER_REQUEST, V1_MAX_IDS
from storycheck.engine.health import COOLING, DISABLED, OPEN, READY
from storycheck.engine.options import EngineOptions
from storycheck.engine.pool_model import (
    Estimate,
    PairState,
    PoolSettings,
    Reason,
    Work,
    estimate_many,
    waiting_reason,
)
from storycheck.engine.types import EngineSettings
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyUsage
from storycheck.settings.models import SystemSettings
from storycheck.settings.schemas import DEFAULT_SETTINGS, settings_from_row

RUNNING = BatchStatus.IN_PROGRESS.value
QUEUED = BatchStatus.QUEUED.value
OPEN_ITEMS = (ItemStatus.PENDING.value, ItemStatus.IN_FLIGHT.value)


@dataclass(frozen=True)
class ProgressOptions:
    """The engine's time scale (its "hour", the partial-group wait) and the stall threshold."""

    window_seconds: float = 3600.0
    pacing_margin: float = 0.05
    partial_wait: float = 60.0
    stall_minutes: float = 10.0

    @classmethod
    def from_config(cls, config: Config | None = None) -> ProgressOptions:
        """The values the engine of this configuration runs with (env and `Config.extra`)."""
        from storycheck.alerts.delivery import AlertOptions

        engine = EngineOptions.from_env(extra=config.extra if config is not None else None)
        return cls(
            window_seconds=engine.window_seconds,
            pacing_margin=engine.pacing_margin,
            partial_wait=engine.partial_wait,
            stall_minutes=AlertOptions.from_env().stall_minutes,
        )


@dataclass
class Picture:
    """The pool and the running batches at one moment."""

    now: float
    pairs: list[PairState]
    settings: PoolSettings
    max_concurrent: int
    running: int
    works: dict[str, Work] = field(default_factory=dict)
    estimates: dict[str, Estimate | None] = field(default_factory=dict)
    stall_minutes: float = 10.0

    @property
    def ready_now(self) -> int:
        """Pairs that may send now."""
        return sum(p.ready(self.now) for p in self.pairs)

    def reason(self, batch_id: str) -> Reason | None:
        """Why this running batch is held back (None: nothing holds it)."""
        work = self.works.get(batch_id)
        if work is None:
            return None
        return waiting_reason(
            self.pairs, self.settings, work, self.now, self.estimates.get(batch_id)
        )

    def stalled_since(self, batch: Batch) -> datetime | None:
        """When the running batch counts as stalled (None: it does not)."""
        if batch.status != RUNNING or self.ready_now:
            return None
        since = last_activity(batch)
        limit = timedelta(minutes=self.stall_minutes)
        now = datetime.fromtimestamp(self.now, UTC)
        if since is not None and now - since < limit:
            return None
        return since + limit if since is not None else now


def last_activity(batch: Batch) -> datetime | None:
    """When the batch last moved: started, or its counters changed (the recorder's updates
    stamp `updated_at`); reading each item's `processed_at` would cost a scan of the batch."""
    moments = [t for t in (_aware(batch.started_at), _aware(batch.updated_at)) if t is not None]
    return max(moments) if moments else None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(moment: datetime | None) -> float | None:
    aware = _aware(moment)
    return aware.timestamp() if aware is not None else None


# ---------------------------------------------------------------------------- reading


def read_settings(session: Session, options: ProgressOptions) -> tuple[EngineSettings, PoolSettings]:
    """The settings row, and the part of it the pool model needs."""
    engine = settings_from_row(session.get(SystemSettings, 1))
    group = max(1, min(V1_MAX_IDS, engine.reel_ids_per_request))
    if engine.dense_doc_id:
        group = DENSE_IDS_PER_REQUEST
    return engine, PoolSettings(
        window_seconds=options.window_seconds,
        margin=options.pacing_margin,
        min_interval=max(0.0, engine.min_request_interval),
        profiles_per_minute=max(0, engine.profiles_per_minute),
        max_in_flight=max(1, engine.max_threads),
        group_size=group,
        partial_wait=options.partial_wait,
    )


@dataclass
class _Usage:
    requests: float = 0.0
    lookups: float = 0.0
    oldest: float | None = None  # start of the oldest bucket with a count (unix seconds)
    oldest_lookup: float | None = None

    def add(self, kind: str, count: float, start: float) -> None:
        if count <= 0:
            return
        self.requests += count
        self.oldest = start if self.oldest is None else min(self.oldest, start)
        if kind == "lookup":
            self.lookups += count
            self.oldest_lookup = (
                start if self.oldest_lookup is None else min(self.oldest_lookup, start)
            )


def read_usage(session: Session, now: float, window: float) -> dict[str, _Usage]:
    """Requests each pair has in its current window, from the minute reservations."""
    first = int((now - window) // 60)
    current = int(now // 60)
    usage: dict[str, _Usage] = {}
    # Buckets wholly inside the window count whole: one aggregate row per pair and kind.
    if current - first > 1:
        rows = session.execute(
            select(
                ProxyUsage.proxy_id, ProxyUsage.kind, func.sum(ProxyUsage.requests),
                func.min(ProxyUsage.minute),
            )
            .where(ProxyUsage.minute > first, ProxyUsage.minute < current)
            .group_by(ProxyUsage.proxy_id, ProxyUsage.kind)
        ).all()
        for proxy_id, kind, count, minute in rows:
            usage.setdefault(proxy_id, _Usage()).add(kind, float(count or 0), minute * 60.0)
    # The two edge buckets count by their overlap with the window.
    edges = session.execute(
        select(ProxyUsage.proxy_id, ProxyUsage.kind, ProxyUsage.minute, ProxyUsage.requests)
        .where(ProxyUsage.minute.in_({first, current}))
    ).all()
    for proxy_id, kind, minute, count in edges:
        start = minute * 60.0
        end = min(start + 60.0, now)
        share = 1.0
        if window >= 60.0 and end > start:
            share = max(0.0, end - max(start, now - window)) / (end - start)
        usage.setdefault(proxy_id, _Usage()).add(kind, float(count or 0) * share, start)
    return usage


def read_pairs(
    session: Session, engine: EngineSettings, settings: PoolSettings, now: float
) -> list[PairState]:
    """Every proxy as a `PairState` (budgets, spent window, health, response time)."""
    rows = session.execute(
        select(
            Proxy.id, Proxy.is_active, Proxy.status, Proxy.health, Proxy.cooldown_until,
            Proxy.learned_hourly_limit, Proxy.avg_response_time,
            IgSession.id, IgSession.status,
        ).outerjoin(IgSession, IgSession.proxy_id == Proxy.id)
    ).all()
    usage = read_usage(session, now, settings.window_seconds)
    configured = max(1, engine.proxy_hourly_limit)
    window = settings.window_seconds
    pairs = []
    for proxy_id, active, status, health, cooldown, learned, latency, session_id, s_status in rows:
        if session_id is None:
            state = "no_session"
        elif not active or status != "active" or s_status not in ("active", None):
            state = DISABLED if s_status in ("active", "disabled", None) else str(s_status)
        else:
            state = str(health or READY)
        available = now
        if state in (COOLING, OPEN):
            available = max(now, _timestamp(cooldown) or now)
        budget = max(1, min(configured, learned)) if learned else configured
        spent = usage.get(proxy_id, _Usage())
        oldest = spent.oldest
        pairs.append(
            PairState(
                proxy_id=proxy_id,
                state=state,
                available_at=available,
                session_budget=budget,
                lookup_budget=max(1, min(engine.lookup_hourly_limit, budget)),
                used_requests=spent.requests,
                used_lookups=spent.lookups,
                frees_at=max(now, oldest + window) if oldest is not None else None,
                lookups_free_at=(
                    max(now, spent.oldest_lookup + window)
                    if spent.oldest_lookup is not None
                    else None
                ),
                latency=max(0.0, float(latency or 0) / 1000.0),
            )
        )
    return pairs


# A batch with more open items than EXACT_LIMIT is counted on a sample of about SAMPLE_SIZE of
# them. A batch's items get one run of ordered ids (`db.ordered_ids`: a shared prefix and a
# counter, counted in the order the items are claimed), so the sample is SAMPLE_SIZE ids
# spread evenly over the counter's range, each read through the primary key: the count costs
# the sample, not the batch (`_probe_ids`). Items with other ids (a database from before
# ordered ids) are sampled by the last two hex digits of the id instead — random in a random
# UUID — which reads every item of the batch to pick them (±1 % on the shares; at least
# 1/256 of the items).
EXACT_LIMIT = 5000
SAMPLE_SIZE = 2000
# The probed ids must find at least this share of items, else the batch is sampled by digits.
PROBE_MIN_FOUND = 0.95


def read_work(
    session: Session,
    batch_ids: Sequence[str],
    *,
    now: float,
    recheck_days: float = DEFAULT_SETTINGS.not_found_recheck_days,
    open_items: dict[str, int] | None = None,
) -> dict[str, Work]:
    """Remaining work of these batches, as the engine claims it (`engine/leases.py`): open
    items, those that need a username lookup (no cached user id, or a "not found" due for a
    re-check) and those whose privacy is unknown. A recently confirmed "not found" costs no
    request and is not counted. `open_items` (batch id → total − completed) lets a big batch
    be counted on a sample."""
    if not batch_ids:
        return {}
    cutoff = datetime.fromtimestamp(now - recheck_days * 86400.0, UTC)
    missing = Profile.not_found.is_(True)
    recent = missing & (Profile.not_found_at >= cutoff)
    lookup = (~missing & Profile.ig_user_id.is_(None)) | (missing & ~recent)
    unknown_privacy = ~missing & Profile.ig_user_id.is_not(None) & Profile.is_private.is_(None)
    query = (
        select(
            BatchProfile.batch_id,
            func.count(),
            func.sum(case((recent, 0), else_=1)),
            func.sum(case((lookup, 1), else_=0)),
            func.sum(case((unknown_privacy, 1), else_=0)),
        )
        .join(Profile, Profile.id == BatchProfile.profile_id)
        .where(BatchProfile.status.in_(OPEN_ITEMS))
        .group_by(BatchProfile.batch_id)
    )
    sizes = open_items or {}
    big = [b for b in batch_ids if sizes.get(b, 0) > EXACT_LIMIT]
    small = [b for b in batch_ids if b not in big]
    rows: list[tuple[str, float, float, float, float]] = []
    if small:
        for batch_id, _, pending, unresolved, privacy in session.execute(
            query.where(BatchProfile.batch_id.in_(small))
        ):
            rows.append((batch_id, 1.0, pending or 0, unresolved or 0, privacy or 0))
    # The probe of a run of ids: every probed item (found), and the open ones counted as above.
    is_open = BatchProfile.status.in_(OPEN_ITEMS)
    probed = select(
        func.count(),
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((is_open & ~recent, 1), else_=0)),
        func.sum(case((is_open & lookup, 1), else_=0)),
        func.sum(case((is_open & unknown_privacy, 1), else_=0)),
    ).join(Profile, Profile.id == BatchProfile.profile_id)
    for batch_id in big:
        probe = _probe_ids(session, batch_id)
        if probe is not None:
            # Only this batch's items have ids of its run (one prefix per run).
            found, *counts = session.execute(probed.where(BatchProfile.id.in_(probe))).one()
            if (found or 0) >= PROBE_MIN_FOUND * len(probe):
                sampled, pending, unresolved, privacy = (float(c or 0) for c in counts)
                scale = sizes[batch_id] / sampled if sampled else 0.0
                rows.append((batch_id, scale, pending, unresolved, privacy))
                continue
        share = min(1.0, SAMPLE_SIZE / sizes[batch_id])
        cut = f"{min(0xFF, max(1, round(share * 0x100))):02x}"
        last_digits = func.substr(BatchProfile.id, 35, 2)
        sample = query.where(BatchProfile.batch_id == batch_id, last_digits < cut)
        for _, sampled, pending, unresolved, privacy in session.execute(sample):
            scale = sizes[batch_id] / sampled if sampled else 0.0
            rows.append((batch_id, scale, pending or 0, unresolved or 0, privacy or 0))
    works = {batch_id: Work(0) for batch_id in batch_ids}
    for batch_id, scale, pending, unresolved, privacy in rows:
        works[batch_id] = Work(
            round(float(pending) * scale), round(float(unresolved) * scale),
            round(float(privacy) * scale),
        )
    return works


def _probe_ids(session: Session, batch_id: str) -> list[str] | None:
    """SAMPLE_SIZE ids spread evenly over the batch's run of ordered ids, or None when its
    items do not have one (then the caller samples by the ids' last digits)."""
    digits = ORDERED_ID_COUNTER_DIGITS
    first = session.scalar(
        select(BatchProfile.id).where(BatchProfile.batch_id == batch_id).limit(1)
    )
    if first is None or len(first) != 36:
        return None
    prefix = first[:-digits]
    # The run's lowest and highest ids: one seek of the primary key each (`g` sorts after
    # every hex digit, in a byte order and in a language's collation alike).
    low = session.scalar(
        select(BatchProfile.id).where(BatchProfile.id >= prefix).order_by(BatchProfile.id).limit(1)
    )
    high = session.scalar(
        select(BatchProfile.id)
        .where(BatchProfile.id < prefix + "g")
        .order_by(BatchProfile.id.desc())
        .limit(1)
    )
    if not (low and high and low.startswith(prefix) and high.startswith(prefix)):
        return None
    try:
        start, end = int(low[-digits:], 16), int(high[-digits:], 16)
    except ValueError:
        return None  # not a counter
    if end - start < EXACT_LIMIT:
        return None  # no run as long as a big batch: random ids, or not one run
    step = (end - start + 1) / SAMPLE_SIZE
    numbers = sorted({start + int(k * step) for k in range(SAMPLE_SIZE)})
    return [f"{prefix}{number:0{digits}x}" for number in numbers]


# Counting a large batch's open items costs a join over all of them (about 0.3 s for 100,000
# items on SQLite). Each process keeps the counts for WORK_COST_FACTOR × what the count took
# (at most WORK_TTL_MAX seconds), so counting takes at most ~1/WORK_COST_FACTOR of the time
# however often the list, the dashboard and the event stream ask; a small batch is counted
# afresh on nearly every request.
WORK_COST_FACTOR = 20.0
WORK_TTL_MAX = 10.0
_work_cache: dict[tuple[str, str], tuple[float, Work]] = {}
_work_lock = threading.Lock()


def cached_work(
    session: Session,
    batch_ids: Sequence[str],
    *,
    now: float,
    recheck_days: float = DEFAULT_SETTINGS.not_found_recheck_days,
    open_items: dict[str, int] | None = None,
) -> dict[str, Work]:
    """`read_work`, reusing counts this process made a moment ago (see WORK_COST_FACTOR)."""
    url = str(session.get_bind().engine.url)
    clock = time.monotonic()
    found: dict[str, Work] = {}
    with _work_lock:
        for batch_id in batch_ids:
            entry = _work_cache.get((url, batch_id))
            if entry is not None and entry[0] > clock:
                found[batch_id] = entry[1]
    missing = [b for b in batch_ids if b not in found]
    if missing:
        started = time.monotonic()
        fresh = read_work(
            session, missing, now=now, recheck_days=recheck_days, open_items=open_items
        )
        until = time.monotonic() + min(WORK_TTL_MAX, (time.monotonic() - started) * WORK_COST_FACTOR)
        with _work_lock:
            if len(_work_cache) > 1000:
                _work_cache.clear()
            for batch_id, work in fresh.items():
                _work_cache[(url, batch_id)] = (until, work)
        found.update(fresh)
    return found


def read_picture(
    session: Session,
    options: ProgressOptions | None = None,
    *,
    now: datetime | None = None,
    with_work: bool = True,
) -> Picture:
    """Everything the notes of any batch need, in a fixed number of queries."""
    options = options or ProgressOptions.from_config()
    moment = (now or utcnow()).timestamp()
    engine, settings = read_settings(session, options)
    pairs = read_pairs(session, engine, settings, moment)
    running = session.execute(
        select(Batch.id, Batch.total_profiles, Batch.completed_profiles)
        .where(Batch.status == RUNNING)
        .order_by(Batch.id)
    ).all()
    running_ids = [row[0] for row in running]
    open_items = {row[0]: max(0, (row[1] or 0) - (row[2] or 0)) for row in running}
    picture = Picture(
        now=moment,
        pairs=pairs,
        settings=settings,
        max_concurrent=max(1, engine.max_concurrent_batches),
        running=len(running_ids),
        stall_minutes=options.stall_minutes,
    )
    if with_work and running_ids:
        picture.works = cached_work(
            session,
            running_ids,
            now=moment,
            recheck_days=engine.not_found_recheck_days,
            open_items=open_items,
        )
        picture.estimates = estimate_many(pairs, settings, picture.works, moment)
    return picture


# ---------------------------------------------------------------------------- payloads


def iso_time(moment: float | None) -> str | None:
    """A unix time as ISO-8601 UTC (None stays None)."""
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment is not None else None


def queued_reason(batch: Batch, picture: Picture) -> Reason:
    """Where a queued batch waits."""
    position = batch.queue_position or 0
    running = picture.running
    ahead = f"{position - 1} ahead in the queue, " if position > 1 else ""
    return Reason(
        "queued",
        f"queued #{position}: {ahead}{running} running "
        f"(max_concurrent_batches = {picture.max_concurrent})",
    )


def notes(batch: Batch, picture: Picture | None) -> dict[str, Any]:
    """The progress fields of one batch's payload (see docs/API.md, "Why is it not moving")."""
    empty: dict[str, Any] = {
        "waiting_reason": None,
        "waiting_code": None,
        "waiting_until": None,
        "stalled": False,
        "stalled_since": None,
        "eta_seconds": None,
        "eta_range_seconds": None,
        "eta_bound_by": None,
    }
    if picture is None:
        return empty
    if batch.status == QUEUED:
        queued = queued_reason(batch, picture)
        return {**empty, "waiting_reason": queued.text, "waiting_code": queued.code}
    if batch.status != RUNNING:
        return empty
    reason = picture.reason(batch.id)
    estimate = picture.estimates.get(batch.id)
    stalled = picture.stalled_since(batch)
    result = dict(empty)
    if reason is not None:
        result.update(
            waiting_reason=reason.text, waiting_code=reason.code, waiting_until=iso_time(reason.until)
        )
    if stalled is not None:
        result.update(stalled=True, stalled_since=stalled.isoformat())
    if estimate is not None and math.isfinite(estimate.seconds):
        result.update(
            eta_seconds=round(estimate.seconds),
            eta_range_seconds=[round(estimate.low), round(estimate.high)],
            eta_bound_by=estimate.bound_by,
        )
    return result


def needs_picture(batches: Iterable[Batch]) -> bool:
    """True when any of these batches carries progress notes (running or queued)."""
    return any(b.status in (RUNNING, QUEUED) for b in batches)


__all__ = [
    "Picture",
    "ProgressOptions",
    "needs_picture",
    "notes",
    "read_picture",
    "iso_time",
    "read_work",
]
