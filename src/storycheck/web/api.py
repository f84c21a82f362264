"""System routes: health, live events (SSE), dashboard, invariants, OpenAPI document."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import Integer, cast, func, select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchProfile, BatchStatus
from storycheck.batches.progress import Picture, ProgressOptions, iso_time, notes, read_picture
from storycheck.db import utcnow
from storycheck.engine.pool_model import Work, clock_time, pool_picture, waiting_reason
from storycheck.errors import ValidationError
from storycheck.niches.autotrigger import stories_seen_today
from storycheck.niches.models import Niche
from storycheck.niches.service import profile_counts
from storycheck.proxies.models import PAIR_HEALTH_VALUES, Proxy
from storycheck.stories.events import StoryFeed
from storycheck.web.context import services
from storycheck.web.errors import error_response
from storycheck.web.events import EventHub, TooManyStreams, stream_events
from storycheck.web.http import ok

bp = Blueprint("system", __name__, url_prefix="/api")

EVENT_POLL_SECONDS = 1.0
EVENT_PING_SECONDS = 15.0
# Streams end after a while; EventSource reconnects by itself, and no thread is held forever.
EVENT_STREAM_SECONDS = 300.0
STORY_FEED_KEY = "storycheck.story_feed"
EVENT_HUB_KEY = "storycheck.event_hub"
# Each stream holds one server thread while it is open (web/server.py has 48).
MAX_EVENT_STREAMS = 32
_FEED_LOCK = threading.RLock()  # event_hub() creates the story feed while holding it


@bp.get("/health")
def health() -> Response:
    """Liveness: the process answers and the database is reachable; with the engine in this
    process, also how many times it has re-read its pairs and settings."""
    found = services()
    with found.db.read() as session:
        session.execute(select(1))
    if found.pool is None:
        return ok({"status": "ok"})
    return ok({"status": "ok", "engine_refreshes": found.pool.refreshes})


@bp.get("/admin/invariants")
def invariants() -> Response:
    """Check the batch-state invariants I1–I5 now."""
    with services().db.snapshot() as session:
        violations = check_invariants(session)
    return ok({"ok": not violations, "violations": violations})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    from storycheck.web.openapi import build_spec

    return ok(build_spec())


@bp.get("/dashboard")
def dashboard() -> Response:
    """Stories seen today per niche against its target, checks per minute, pair health, and
    the pool summary (`pool`: what holds the pairs back, budgets left, running batches' notes)."""
    db = services().db
    now = utcnow()
    with db.read() as session:
        niches = session.scalars(select(Niche).order_by(Niche.order, Niche.name)).all()
        counts = profile_counts(session)
        seen_today = stories_seen_today(session, now)
        health_counts = dict(
            session.execute(select(Proxy.health, func.count()).group_by(Proxy.health)).all()
        )
        throughput = _checks_per_minute(session, now)
        running = session.scalars(
            select(Batch).where(Batch.status == BatchStatus.IN_PROGRESS.value).order_by(Batch.id)
        ).all()
        picture = read_picture(session, ProgressOptions.from_config(services().config), now=now)
        pool = pool_summary(picture, running)
    return ok(
        {
            "niches": [
                {
                    "id": n.id,
                    "name": n.name,
                    "daily_story_target": n.daily_story_target,
                    "stories_today": seen_today.get(n.id, 0),
                    "profile_count": counts.get(n.id, 0),
                }
                for n in niches
            ],
            "throughput": throughput,
            "pairs": {h: health_counts.get(h, 0) for h in PAIR_HEALTH_VALUES},
            "pool": pool,
        }
    )


def pool_summary(picture: Picture, running: Sequence[Batch] = ()) -> dict[str, Any]:
    """The dashboard's pool: what holds the pairs, budgets left, and the running batches'
    waiting reasons, stall flags and ETAs (docs/API.md)."""
    now = picture.now
    pairs = picture.pairs
    ready = [p for p in pairs if p.ready(now)]
    usable = [p for p in pairs if p.usable]
    held, back = pool_picture(pairs, now)
    per_hour = 3600.0 / max(1e-9, picture.settings.window_seconds)
    summary = f"{len(ready)} of {len(pairs)} pairs ready" if pairs else "no pairs configured"
    if held:
        summary += f"; {held}"
    if ready and all(p.lookups_left <= 0 for p in ready):
        until = min((p.lookups_free_at for p in ready if p.lookups_free_at), default=None)
        summary += "; lookup budget exhausted" + (
            f" until {clock_time(until, now)}" if until else ""
        )
    if picture.settings.profiles_per_minute:
        summary += f"; paced: profiles_per_minute = {picture.settings.profiles_per_minute}"
    reason = waiting_reason(pairs, picture.settings, Work(pending=1), now)
    return {
        "pairs": len(pairs),
        "ready": len(ready),
        "usable": len(usable),
        "next_ready_at": iso_time(back) if not ready else None,
        "lookups_left": round(sum(p.lookups_left for p in usable)),
        "requests_left": round(sum(p.requests_left for p in usable)),
        "lookups_per_hour": round(sum(p.lookup_budget for p in usable) * per_hour),
        "requests_per_hour": round(sum(p.session_budget for p in usable) * per_hour),
        "summary": summary,
        "waiting_reason": reason.text if reason and reason.code == "no_usable_pair" else None,
        "running_batches": [
            {"id": b.id, "niche_id": b.niche_id, **notes(b, picture)} for b in running
        ],
    }


def _checks_per_minute(session: Any, now: datetime) -> list[dict[str, Any]]:
    since = (now - timedelta(minutes=59)).replace(second=0, microsecond=0)
    if session.get_bind().dialect.name == "sqlite":
        minute = cast(func.strftime("%s", BatchProfile.processed_at), Integer) // 60
    else:
        minute = func.floor(func.extract("epoch", BatchProfile.processed_at) / 60)
    rows = session.execute(
        select(minute, func.count())
        .where(BatchProfile.processed_at >= since)
        .group_by(minute)
    ).all()
    by_minute = {int(m): c for m, c in rows if m is not None}
    first = int(since.timestamp()) // 60
    return [
        {
            "minute": datetime.fromtimestamp((first + i) * 60, tz=now.tzinfo).isoformat(),
            "checks": by_minute.get(first + i, 0),
        }
        for i in range(60)
    ]


@bp.get("/events")
def events() -> Response:
    """Server-Sent Events: `batch`, `batch_deleted`, `proxy`, `proxy_deleted`,
    `story_detected`, `story_expired`, `ping` — fanned out by the app's event hub."""
    limit = _stream_seconds(request.args.get("max_seconds"))
    hub = event_hub()
    try:
        subscription = hub.subscribe()
    except TooManyStreams:
        response = error_response(
            503,
            "too_many_streams",
            f"{hub.max_streams} live-update streams are open already; the page will poll instead",
        )
        response.headers["Retry-After"] = "10"
        return response
    body = stream_events(
        hub,
        subscription,
        limit=limit,
        ping_every=EVENT_PING_SECONDS,
        stopping=services().stopping,
        clock=time.monotonic,
        now_iso=lambda: utcnow().isoformat(),
    )
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def event_hub() -> EventHub:
    """The application's one event hub (created with its story feed on first use)."""
    extensions = current_app.extensions
    hub = extensions.get(EVENT_HUB_KEY)
    if hub is None:
        with _FEED_LOCK:
            hub = extensions.get(EVENT_HUB_KEY)
            if hub is None:
                hub = extensions[EVENT_HUB_KEY] = EventHub(
                    services().db,
                    _proxy_serializer(),
                    story_feed(),
                    tick=EVENT_POLL_SECONDS,
                    max_streams=MAX_EVENT_STREAMS,
                    progress=ProgressOptions.from_config(services().config),
                )
    return hub


def story_feed() -> StoryFeed:
    """The application's one story feed (the event hub reads from it)."""
    extensions = current_app.extensions
    feed = extensions.get(STORY_FEED_KEY)
    if feed is None:
        with _FEED_LOCK:
            feed = extensions.get(STORY_FEED_KEY)
            if feed is None:
                feed = extensions[STORY_FEED_KEY] = StoryFeed(
                    services().db, tick=EVENT_POLL_SECONDS
                )
    return feed


def _stream_seconds(raw: str | None) -> float:
    """How long this stream lasts: `max_seconds` when given (tests), capped at the default."""
    if raw is None or raw == "":
        return EVENT_STREAM_SECONDS
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValidationError(
            "max_seconds must be a number", details={"field": "max_seconds"}
        ) from exc
    if not 0 <= value <= EVENT_STREAM_SECONDS:
        raise ValidationError(
            f"max_seconds must be within 0-{EVENT_STREAM_SECONDS:g}",
            details={"field": "max_seconds", "valid_range": f"0-{EVENT_STREAM_SECONDS:g}"},
        )
    return value


def _proxy_serializer() -> Any:
    from storycheck.proxies.service import serialize_proxies

    secrets = services().secrets
    return lambda session, proxies: serialize_proxies(session, proxies, secrets=secrets)


