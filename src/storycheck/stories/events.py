"""Live story events for the SSE stream, computed once per tick for every listener.

`StoryFeed.poll` reads the database at most once per `tick` seconds, whatever the number of
open streams: new windows (`story_windows.first_seen_at` past the watermark) become
`story_detected`, latest windows whose `expires_at` passed become `story_expired`. The events
go into a short numbered log; each stream keeps its own position in it.

The watermark looks back `lookback` seconds, because a window's `first_seen_at` is the time of
the answer while its transaction commits a little later; ids already announced are remembered
for that long so nothing is sent twice.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from storycheck.db import Database, iso, utcnow
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryWindow

Event = tuple[str, dict[str, Any]]


class StoryFeed:
    """The shared source of `story_detected` / `story_expired` events of one application."""

    def __init__(
        self,
        db: Database,
        *,
        tick: float = 1.0,
        lookback: float = 60.0,
        keep: int = 5000,
        batch_limit: int = 2000,
    ) -> None:
        self.db = db
        self.tick = tick
        self.lookback = timedelta(seconds=lookback)
        self.batch_limit = batch_limit
        self._lock = threading.Lock()
        self._log: deque[tuple[int, Event]] = deque(maxlen=keep)
        self._seq = 0
        self._last_tick: float | None = None
        self._watermark: datetime | None = None
        self._announced: dict[tuple[str, str], datetime] = {}

    def position(self) -> int:
        """The log position a new listener starts from (it gets later events only)."""
        with self._lock:
            return self._seq

    def poll(self, after: int) -> tuple[int, list[Event]]:
        """Events logged after position `after` (ticking first when a tick is due)."""
        with self._lock:
            self._maybe_tick()
            events = [event for seq, event in self._log if seq > after]
            return self._seq, events

    def _maybe_tick(self) -> None:
        moment = time.monotonic()
        if self._last_tick is not None and moment - self._last_tick < self.tick:
            return
        idle = self._last_tick is None or moment - self._last_tick > max(30.0, 10 * self.tick)
        self._last_tick = moment
        now = utcnow()
        if idle or self._watermark is None:
            # Nobody listened for a while: start afresh rather than replay old changes.
            self._watermark = now
            self._announced.clear()
            return
        since = self._watermark - self.lookback
        for event in self._read(since, now):
            self._seq += 1
            self._log.append((self._seq, event))
        self._watermark = now
        horizon = now - 2 * self.lookback
        self._announced = {k: v for k, v in self._announced.items() if v >= horizon}

    def _read(self, since: datetime, now: datetime) -> list[Event]:
        events: list[Event] = []
        with self.db.read() as session:
            detected = session.execute(
                select(StoryWindow, Profile.username, Profile.niche_id)
                .join(Profile, Profile.id == StoryWindow.profile_id)
                .where(StoryWindow.first_seen_at > since, StoryWindow.expires_at > now)
                .order_by(StoryWindow.first_seen_at, StoryWindow.id)
                .limit(self.batch_limit)
            ).all()
            for window, username, niche_id in detected:
                key = ("detected", window.id)
                if key in self._announced:
                    continue
                self._announced[key] = window.first_seen_at
                events.append(
                    (
                        "story_detected",
                        {
                            "profile_id": window.profile_id,
                            "username": username,
                            "niche_id": niche_id,
                            "posted_at": iso(window.last_taken_at or window.first_seen_at),
                            "expires_at": iso(window.expires_at),
                            "item_count": window.item_count,
                        },
                    )
                )
            expired = session.execute(
                select(Profile.id, Profile.niche_id, Profile.story_expires_at)
                .where(Profile.story_expires_at > since, Profile.story_expires_at <= now)
                .order_by(Profile.story_expires_at, Profile.id)
                .limit(self.batch_limit)
            ).all()
            for profile_id, niche_id, expires_at in expired:
                if expires_at is None:
                    continue
                key = (profile_id, expires_at.isoformat())
                if key in self._announced:
                    continue
                self._announced[key] = expires_at
                events.append(("story_expired", {"profile_id": profile_id, "niche_id": niche_id}))
        return events
