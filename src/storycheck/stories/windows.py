"""Story windows: turn each check's answer into "this account had a live story from … to …".

`record_sightings` runs inside the transaction that records the checked items (the engine's
recorder, or a manual `record_check`), so a window and the item that saw it commit together.
A sighting with items extends the account's latest window when they overlap (the window had not
expired before the sighting's oldest item was taken) and opens a new window otherwise. A
sighting without items (a completed check that saw no story) ends a still-live window at the
time of that check: the story was taken down early. The latest window is copied onto the
profile (`story_posted_at`, `story_first_posted_at`, `story_expires_at`, `story_item_count`,
`active_story`) for the "who has a story now" queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from storycheck.db import new_id
from storycheck.engine.answers import STORY_LIFETIME_SECONDS
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryWindow

WINDOWS = cast(Table, StoryWindow.__table__)
PROFILES = cast(Table, Profile.__table__)


@dataclass(frozen=True)
class Sighting:
    """What one check saw of one account's story (`item_count` 0: no story)."""

    profile_id: str
    batch_id: str | None
    seen_at: float  # epoch seconds of the answer
    item_count: int
    first_taken_at: float | None  # oldest live item's taken_at
    last_taken_at: float | None  # newest live item's taken_at
    expires_at: float | None  # latest expiring_at (fallback: last_taken_at + 24 h)

    @property
    def has_story(self) -> bool:
        """True when the check saw at least one live item."""
        return self.item_count > 0

    def start(self) -> float:
        """When the seen story began (the oldest known item), or the check time."""
        for moment in (self.first_taken_at, self.last_taken_at):
            if moment is not None:
                return moment
        return self.seen_at

    def end(self) -> float:
        """When the seen story expires."""
        if self.expires_at is not None:
            return self.expires_at
        if self.last_taken_at is not None:
            return self.last_taken_at + STORY_LIFETIME_SECONDS
        return self.seen_at + STORY_LIFETIME_SECONDS


@dataclass
class _Window:
    id: str
    profile_id: str
    batch_id: str | None
    first_taken_at: datetime | None
    last_taken_at: datetime | None
    expires_at: datetime
    item_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    is_new: bool = False
    changed: bool = False

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "profile_id": self.profile_id,
            "batch_id": self.batch_id,
            "first_taken_at": self.first_taken_at,
            "last_taken_at": self.last_taken_at,
            "expires_at": self.expires_at,
            "item_count": self.item_count,
            "first_seen_at": self.first_seen_at,
            "last_seen_at": self.last_seen_at,
        }


def record_sightings(conn: Connection, sightings: Sequence[Sighting]) -> list[str]:
    """Extend or open story windows (and the profile's story columns) in the caller's
    transaction; return the profile ids whose window is NEW (for live events/alerts)."""
    if not sightings:
        return []
    ordered = sorted(sightings, key=lambda s: (s.profile_id, s.seen_at))
    latest = _latest_windows(conn, ordered)
    touched: dict[str, tuple[_Window, float]] = {}
    opened: list[str] = []
    for sighting in ordered:
        window = latest.get(sighting.profile_id)
        seen = _at(sighting.seen_at)
        if not sighting.has_story:
            if window is not None and window.expires_at > seen:
                window.expires_at = seen  # taken down before it would have expired
                window.last_seen_at = max(window.last_seen_at, seen)
                window.changed = True
                touched[sighting.profile_id] = (window, sighting.seen_at)
            continue
        start, end = _at(sighting.start()), _at(sighting.end())
        if window is not None and window.expires_at >= start:
            oldest = sighting.first_taken_at
            if oldest is None:
                oldest = sighting.last_taken_at
            window.first_taken_at = _earliest(window.first_taken_at, oldest)
            window.last_taken_at = _latest(window.last_taken_at, sighting.last_taken_at)
            window.expires_at = max(window.expires_at, end)
            window.item_count = sighting.item_count
            window.last_seen_at = max(window.last_seen_at, seen)
            window.changed = True
        else:
            first = sighting.first_taken_at
            window = _Window(
                id=new_id(),
                profile_id=sighting.profile_id,
                batch_id=sighting.batch_id,
                first_taken_at=_at(first if first is not None else sighting.last_taken_at),
                last_taken_at=_at(sighting.last_taken_at),
                expires_at=end,
                item_count=sighting.item_count,
                first_seen_at=seen,
                last_seen_at=seen,
                is_new=True,
            )
            latest[sighting.profile_id] = window
            opened.append(sighting.profile_id)
        touched[sighting.profile_id] = (window, sighting.seen_at)
    _write(conn, [w for w, _ in touched.values()])
    _copy_to_profiles(conn, touched.values())
    return list(dict.fromkeys(opened))


def _latest_windows(conn: Connection, sightings: Sequence[Sighting]) -> dict[str, _Window]:
    """Each profile's latest window that can still matter to these sightings.

    Windows of one profile never overlap, so the latest is the one that expires last; one that
    expired before every sighting's start can neither be extended nor ended early.
    """
    profile_ids = sorted({s.profile_id for s in sightings})
    horizon = _at(min(s.start() if s.has_story else s.seen_at for s in sightings))
    found: dict[str, _Window] = {}
    for begin in range(0, len(profile_ids), 500):
        rows = conn.execute(
            select(WINDOWS)
            .where(
                WINDOWS.c.profile_id.in_(profile_ids[begin : begin + 500]),
                WINDOWS.c.expires_at >= horizon,
            )
            .order_by(WINDOWS.c.profile_id, WINDOWS.c.expires_at)
        )
        for row in rows:
            found[row.profile_id] = _Window(**{k: getattr(row, k) for k in _WINDOW_FIELDS})
    return found


_WINDOW_FIELDS = (
    "id",
    "profile_id",
    "batch_id",
    "first_taken_at",
    "last_taken_at",
    "expires_at",
    "item_count",
    "first_seen_at",
    "last_seen_at",
)


def _write(conn: Connection, windows: Iterable[_Window]) -> None:
    new_rows = [w.row() for w in windows if w.is_new]
    changed = [w for w in windows if w.changed and not w.is_new]
    if new_rows:
        conn.execute(insert(WINDOWS), new_rows)
    if changed:
        conn.execute(
            update(WINDOWS)
            .where(WINDOWS.c.id == bindparam("w_id"))
            .values(
                first_taken_at=bindparam("w_first"),
                last_taken_at=bindparam("w_last"),
                expires_at=bindparam("w_expires"),
                item_count=bindparam("w_items"),
                last_seen_at=bindparam("w_seen"),
            ),
            [
                {
                    "w_id": w.id,
                    "w_first": w.first_taken_at,
                    "w_last": w.last_taken_at,
                    "w_expires": w.expires_at,
                    "w_items": w.item_count,
                    "w_seen": w.last_seen_at,
                }
                for w in changed
            ],
        )


def _copy_to_profiles(conn: Connection, touched: Iterable[tuple[_Window, float]]) -> None:
    rows = [
        {
            "p_id": window.profile_id,
            # Without item times, the first sight is the best known "posted" time.
            "p_posted": window.last_taken_at or window.first_seen_at,
            "p_first": window.first_taken_at,
            "p_expires": window.expires_at,
            "p_items": window.item_count,
            "p_live": window.expires_at > _at(seen_at),
        }
        for window, seen_at in touched
    ]
    if rows:
        conn.execute(
            update(PROFILES)
            .where(PROFILES.c.id == bindparam("p_id"))
            .values(
                story_posted_at=bindparam("p_posted"),
                story_first_posted_at=bindparam("p_first"),
                story_expires_at=bindparam("p_expires"),
                story_item_count=bindparam("p_items"),
                active_story=bindparam("p_live"),
            ),
            rows,
        )


class _ItemLike(Protocol):
    @property
    def profile_id(self) -> str: ...
    @property
    def batch_id(self) -> str: ...
    @property
    def is_private(self) -> bool | None: ...


class OutcomeLike(Protocol):
    """The fields of the engine's `ItemOutcome` that a sighting is built from."""

    @property
    def item(self) -> _ItemLike: ...
    @property
    def status(self) -> str: ...
    @property
    def processed_at(self) -> float: ...
    @property
    def has_story(self) -> bool: ...
    @property
    def story_count(self) -> int: ...
    @property
    def newest_taken_at(self) -> int | None: ...
    @property
    def expiring_at(self) -> int | None: ...


def sightings_from_outcomes(outcomes: Iterable[OutcomeLike]) -> list[Sighting]:
    """Sightings of the completed items: a story, or a definite "no story".

    A private account's empty answer says nothing about its story (the session may not follow
    it), so it neither opens nor ends a window.
    """
    sightings: list[Sighting] = []
    for outcome in outcomes:
        if outcome.status != "completed":
            continue
        if not outcome.has_story and not _definitely_no_story(outcome):
            continue
        oldest = getattr(outcome, "oldest_taken_at", None)
        newest = outcome.newest_taken_at
        sightings.append(
            Sighting(
                profile_id=outcome.item.profile_id,
                batch_id=outcome.item.batch_id,
                seen_at=outcome.processed_at,
                item_count=max(1, outcome.story_count) if outcome.has_story else 0,
                first_taken_at=float(oldest) if oldest is not None else None,
                last_taken_at=float(newest) if newest is not None else None,
                expires_at=float(outcome.expiring_at) if outcome.expiring_at is not None else None,
            )
        )
    return sightings


def _definitely_no_story(outcome: OutcomeLike) -> bool:
    kind = getattr(outcome, "outcome", None)  # engine-core's item outcome, when present
    if kind is not None:
        return bool(kind == "no_story")
    return not outcome.item.is_private


def _at(moment: float | None) -> Any:
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


def _earliest(current: datetime | None, moment: float | None) -> datetime | None:
    if moment is None:
        return current
    candidate: datetime = _at(moment)
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, moment: float | None) -> datetime | None:
    if moment is None:
        return current
    candidate: datetime = _at(moment)
    return candidate if current is None or candidate > current else current
