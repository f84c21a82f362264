"""The live-event hub behind `GET /api/events` (Server-Sent Events).

One thread per application reads the batches, the pairs and the story feed once per tick,
works out what changed and serialises it once; every open stream only copies those ready
events from its own bounded queue to its client (all that are waiting, in one write). So a
stream never holds a database session while it waits on a slow client, the cost of a tick
does not grow with the number of browsers, and a client too slow to keep up loses its stream
(its `EventSource` reconnects and starts from the current state) instead of making the
server buffer without bound.

At most `max_streams` streams are open at once; one more gets 503 (the web client then polls).
The thread runs only while someone listens.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storycheck.batches.models import Batch, BatchStatus
from storycheck.batches.progress import ProgressOptions, needs_picture, read_picture
from storycheck.batches.service import serialize_batches
from storycheck.db import Database
from storycheck.proxies.models import Proxy
from storycheck.stories.events import StoryFeed

log = logging.getLogger(__name__)

Event = tuple[str, str]  # (SSE event name, JSON data)
ProxySerializer = Callable[[Session, list[Proxy]], list[dict[str, Any]]]


def sse(event: str, data: str) -> str:
    """One Server-Sent Events message."""
    return f"event: {event}\ndata: {data}\n\n"


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _batch_key(batch: Batch) -> tuple[Any, ...]:
    return (
        batch.status,
        batch.queue_position,
        batch.completed_profiles,
        batch.successful_checks,
        batch.failed_checks,
        batch.not_found_profiles,
        batch.updated_at,
    )


def _proxy_key(proxy: Proxy) -> tuple[Any, ...]:
    return (proxy.health, proxy.status, proxy.total_requests, proxy.cooldown_until, proxy.updated_at)


@dataclass(eq=False)
class Subscription:
    """One open stream: a bounded queue of ready events."""

    events: queue.Queue[Event | None] = field(default_factory=lambda: queue.Queue(maxsize=2000))
    overflowed: bool = False

    def push(self, event: Event) -> None:
        """Queue an event; a full queue marks the stream as too slow (it will end)."""
        if self.overflowed:
            return
        try:
            self.events.put_nowait(event)
        except queue.Full:
            self.overflowed = True


class TooManyStreams(Exception):
    """Every stream slot is taken."""


class EventHub:
    """Computes changes once per tick and fans them out to every open stream."""

    def __init__(
        self,
        db: Database,
        serialize_proxies: ProxySerializer,
        story_feed: StoryFeed,
        *,
        tick: float = 1.0,
        max_streams: int = 32,
        progress: ProgressOptions | None = None,
    ) -> None:
        self.db = db
        self.progress = progress
        self.serialize_proxies = serialize_proxies
        self.story_feed = story_feed
        self.tick = tick
        self.max_streams = max_streams
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._batches: dict[str, tuple[tuple[Any, ...], str]] = {}  # id → (key, payload JSON)
        self._proxies: dict[str, tuple[tuple[Any, ...], str]] = {}
        self._story_position = story_feed.position()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ streams

    def subscribe(self) -> Subscription:
        """Open a stream: it starts with the current state of every batch and pair."""
        with self._lock:
            if len(self._subscribers) >= self.max_streams:
                raise TooManyStreams
            running = self._thread is not None and self._thread.is_alive()
        if not running:
            self._refresh()  # the state may be old: bring it up to date before the snapshot
        subscription = Subscription()
        with self._lock:
            for _, payload in self._batches.values():
                subscription.push(("batch", payload))
            for _, payload in self._proxies.values():
                subscription.push(("proxy", payload))
            self._subscribers.add(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Close a stream."""
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def streams(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._subscribers)

    def stop(self) -> None:
        """End the thread and wake every stream (server shutdown)."""
        self._stop.set()
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.push(("end", "{}"))

    # ------------------------------------------------------------------ the tick

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if not self._subscribers:
                    self._thread = None
                    return
            try:
                events = self._refresh()
            except Exception:  # a database hiccup: try again next tick
                log.exception("Live event tick failed")
                continue
            with self._lock:
                subscribers = list(self._subscribers)
            for subscription in subscribers:
                for event in events:
                    subscription.push(event)

    def _refresh(self) -> list[Event]:
        """Read the state once; return the events that describe what changed since last time."""
        events: list[Event] = []
        with self.db.read() as session:
            batches = session.scalars(select(Batch)).all()
            # A running batch's waiting reason and ETA change without its row changing: it is
            # serialised every tick and sent when its payload differs.
            changed = [
                b
                for b in batches
                if self._batches.get(b.id, ((),))[0] != _batch_key(b)
                or b.status == BatchStatus.IN_PROGRESS.value
            ]
            picture = read_picture(session, self.progress) if needs_picture(changed) else None
            payloads = serialize_batches(session, changed, picture=picture)
            proxies = session.scalars(select(Proxy)).all()
            changed_proxies = [
                p for p in proxies if self._proxies.get(p.id, ((),))[0] != _proxy_key(p)
            ]
            proxy_payloads = self.serialize_proxies(session, changed_proxies)
        with self._lock:
            for batch, payload in zip(changed, payloads, strict=True):
                data = _json(payload)
                known = self._batches.get(batch.id)
                self._batches[batch.id] = (_batch_key(batch), data)
                if known is None or known[1] != data:
                    events.append(("batch", data))
            for batch_id in set(self._batches) - {b.id for b in batches}:
                del self._batches[batch_id]
                events.append(("batch_deleted", _json({"id": batch_id})))
            for proxy, payload in zip(changed_proxies, proxy_payloads, strict=True):
                data = _json(payload)
                self._proxies[proxy.id] = (_proxy_key(proxy), data)
                events.append(("proxy", data))
            for proxy_id in set(self._proxies) - {p.id for p in proxies}:
                del self._proxies[proxy_id]
                events.append(("proxy_deleted", _json({"id": proxy_id})))
            self._story_position, story_events = self.story_feed.poll(self._story_position)
        events.extend((kind, _json(data)) for kind, data in story_events)
        return events


def _drain(subscription: Subscription, first: Event | None) -> tuple[str, bool]:
    """`first` and every event already waiting behind it as one chunk (one write to the
    client per tick rather than one per event); True when the stream must end."""
    parts: list[str] = []
    event = first
    while event is not None:
        if event[0] == "end":
            return "".join(parts), True
        parts.append(sse(*event))
        try:
            event = subscription.events.get_nowait()
        except queue.Empty:
            event = None
    return "".join(parts), False


def stream_events(
    hub: EventHub,
    subscription: Subscription,
    *,
    limit: float,
    ping_every: float,
    stopping: threading.Event,
    clock: Callable[[], float],
    now_iso: Callable[[], str],
) -> Iterator[str]:
    """The text of one stream: ready events as they come, a ping when quiet, until `limit`."""
    started = last_ping = clock()
    try:
        yield "retry: 2000\n\n"
        while not stopping.is_set() and not subscription.overflowed:
            remaining = limit - (clock() - started)
            if remaining <= 0:
                break
            try:
                event = subscription.events.get(timeout=min(1.0, remaining))
            except queue.Empty:
                event = None
            if event is not None:
                ready, ended = _drain(subscription, event)
                if ready:
                    yield ready
                if ended:
                    break
            if clock() - last_ping >= ping_every:
                last_ping = clock()
                yield sse("ping", _json({"time": now_iso()}))
    finally:
        hub.unsubscribe(subscription)
