"""System routes: health, live events (SSE), dashboard, invariants, OpenAPI document."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.progress import ProgressOptions
from storycheck.dashboard import dashboard_payload
from storycheck.db import utcnow
from storycheck.errors import ValidationError
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
    with services().db.read() as session:
        payload = dashboard_payload(
            session, utcnow(), ProgressOptions.from_config(services().config)
        )
    return ok(payload)


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


