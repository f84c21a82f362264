"""Who has a live story now: the list (keyset pages), counts per niche, streamed exports,
and one account's window history.

A story is live exactly while `at` < the account's `story_expires_at` (its latest window's
end, kept on the profile by `stories.windows`). Soft-deleted profiles are left out.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from storycheck import cursors
from storycheck.db import Database, iso, utcnow
from storycheck.engine.answers import STORY_LIFETIME_SECONDS
from storycheck.errors import NotFound, Unavailable, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.answers import unseen
from storycheck.profiles.counts import stored_count
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryWindow

SORTS: Final = ("posted", "expires")
ORDERS: Final = ("desc", "asc")
LIMIT_MAX = 500
EXPORT_CHUNK = 1000
SEARCH_MAX = 100
# A listing's total is counted exactly up to this many live stories, estimated beyond.
LIVE_EXACT_MAX = 10_000
ESTIMATE_SAMPLE = 1_000  # ±3.1 points at 95 % for a share near one half (a flagged estimate)
_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

CSV_COLUMNS: Final = (
    "username",
    "niche",
    "posted_at",
    "first_posted_at",
    "expires_at",
    "expires_in_seconds",
    "item_count",
    "checked_at",
    "story_url",
    "profile_id",
    "niche_id",
)


@dataclass(frozen=True)
class LiveQuery:
    """Filters, order and the moment of a live-story listing."""

    at: datetime
    niche_id: str | None = None
    search: str | None = None
    since: datetime | None = None
    sort: str = "posted"
    order: str = "desc"


def story_url(username: str) -> str:
    """The address that opens the account's story on Instagram."""
    return f"https://www.instagram.com/stories/{username}/"


def parse_since(raw: str | None, at: datetime) -> datetime | None:
    """`since`: an ISO-8601 time, or a span back from `at` (`90s`, `30m`, `2h`, `1d`)."""
    if raw is None or raw.strip() == "":
        return None
    match = _RELATIVE.match(raw)
    if match:
        try:
            return at - timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        except OverflowError as exc:
            raise ValidationError(
                "since reaches before year 1", details={"field": "since"}
            ) from exc
    return parse_time(raw, "since")


def parse_time(raw: str, field: str) -> datetime:
    """An ISO-8601 time (a trailing `Z` is fine; no offset means UTC)."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(
            f"{field} must be an ISO-8601 time or a span such as 30m, 2h, 1d",
            details={"field": field},
        ) from exc
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def check_query(
    *,
    at: datetime | None,
    niche_id: str | None,
    search: str | None,
    since: str | None,
    sort: str | None,
    order: str | None,
) -> LiveQuery:
    """Validate the listing's parameters (empty strings mean "not given")."""
    moment = at or utcnow()
    sort = sort or "posted"
    if sort not in SORTS:
        raise ValidationError(
            "sort must be 'posted' or 'expires'", details={"field": "sort", "valid_range": SORTS}
        )
    # Newest posts first; for expiry, the stories about to vanish first.
    order = order or ("desc" if sort == "posted" else "asc")
    if order not in ORDERS:
        raise ValidationError(
            "order must be 'desc' or 'asc'", details={"field": "order", "valid_range": ORDERS}
        )
    if search and len(search) > SEARCH_MAX:
        raise ValidationError(
            f"search is longer than {SEARCH_MAX} characters",
            details={"field": "search", "valid_range": f"0-{SEARCH_MAX} characters"},
        )
    return LiveQuery(
        at=moment,
        niche_id=niche_id or None,
        search=search or None,
        since=parse_since(since, moment),
        sort=sort,
        order=order,
    )


# ---------------------------------------------------------------------------------- listing


def _sort_column(query: LiveQuery) -> Any:
    return Profile.story_posted_at if query.sort == "posted" else Profile.story_expires_at


def _conditions(query: LiveQuery, *, with_niche: bool = True) -> list[ColumnElement[bool]]:
    expires = Profile.story_expires_at
    conditions: list[ColumnElement[bool]] = [
        # Sorted by expiry: the range starts the walk of the (niche, expires) index (past the
        # NULLs of accounts without a story). Sorted by posting time: wrapped so that no
        # planner reads an expires index for this range (half a niche can be live), the page
        # walks the (niche, posted) index in order instead.
        (expires if query.sort == "expires" else func.coalesce(expires, None)) > query.at,
        Profile.story_posted_at.is_not(None),
        Profile.status != "deleted",
    ]
    if with_niche and query.niche_id:
        conditions.append(Profile.niche_id == query.niche_id)
    if query.search:
        escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Profile.username.ilike(f"%{escaped}%", escape="\\"))
    if query.since is not None:
        conditions.append(Profile.story_posted_at >= query.since)
    return conditions


_COLUMNS = (
    Profile.id,
    Profile.username,
    Profile.niche_id,
    Niche.name,
    Profile.story_posted_at,
    Profile.story_first_posted_at,
    Profile.story_expires_at,
    Profile.story_item_count,
    Profile.last_checked,
)


def _page_rows(
    session: Session, query: LiveQuery, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    column = _sort_column(query)
    statement = (
        select(*_COLUMNS).outerjoin(Niche, Niche.id == Profile.niche_id).where(*_conditions(query))
    )
    if after is not None:
        value, last_id = after
        if query.order == "desc":
            statement = statement.where(
                or_(column < value, and_(column == value, Profile.id < last_id))
            )
        else:
            statement = statement.where(
                or_(column > value, and_(column == value, Profile.id > last_id))
            )
    if query.order == "desc":
        statement = statement.order_by(column.desc(), Profile.id.desc())
    else:
        statement = statement.order_by(column.asc(), Profile.id.asc())
    return list(session.execute(statement.limit(limit)).all())


def live_story(row: Any, at: datetime) -> dict[str, Any]:
    """One live story as the API shows it."""
    expires: datetime = row.story_expires_at
    return {
        "profile_id": row.id,
        "username": row.username,
        "niche_id": row.niche_id,
        "niche_name": row.name,
        "posted_at": iso(row.story_posted_at),
        "first_posted_at": iso(row.story_first_posted_at),
        "expires_at": iso(expires),
        "expires_in_seconds": max(0, int((expires - at).total_seconds())),
        "item_count": row.story_item_count or 1,
        "checked_at": iso(row.last_checked),
        "story_url": story_url(row.username),
    }


def count_live(session: Session, query: LiveQuery) -> tuple[int, bool]:
    """`(total, is_estimate)` of the accounts matching the listing's filters.

    Exact up to LIVE_EXACT_MAX matches (a capped count reads no more rows than that); beyond,
    the share of live stories among ESTIMATE_SAMPLE of the niche's profiles times the niche's
    stored count (the cost of a page must not grow with the number of live stories). The
    sample is the first profiles in username order, which says nothing about stories; the
    first in an index order of a story or check column would (accounts without a story first).
    """
    capped: Select[Any] = (
        select(literal_column("1"))
        .select_from(Profile)
        .where(*_conditions(query))
        .limit(LIVE_EXACT_MAX + 1)
    )
    matches = int(session.scalar(select(func.count()).select_from(capped.subquery())) or 0)
    if matches <= LIVE_EXACT_MAX:
        return matches, False
    stored = stored_count(session, niche_id=query.niche_id, status=None) - stored_count(
        session, niche_id=query.niche_id, status="deleted"
    )
    scope = [Profile.status != "deleted"]
    if query.niche_id:
        scope.append(Profile.niche_id == query.niche_id)
    hit = case((and_(*_conditions(query)), 1), else_=0)
    sample = (
        select(hit.label("hit"))
        .where(*scope)
        .order_by(Profile.username_key)
        .limit(ESTIMATE_SAMPLE)
        .subquery()
    )
    seen, hits = session.execute(select(func.count(), func.sum(sample.c.hit))).one()
    estimate = round(stored * int(hits or 0) / int(seen)) if seen else 0
    return max(estimate, matches), True


def list_live(
    session: Session, query: LiveQuery, *, limit: int = 100, cursor: str | None = None
) -> dict[str, Any]:
    """One page of live stories; `next_cursor` continues after its last row (keyset paging)."""
    after = decode_cursor(cursor, query) if cursor else None
    rows = _page_rows(session, query, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(query, rows[-1]) if more and rows else None
    total, estimate = count_live(session, query)
    return {
        "stories": [live_story(row, query.at) for row in rows],
        "next_cursor": next_cursor,
        "total": total,
        "total_is_estimate": estimate,
    }


def encode_cursor(query: LiveQuery, row: Any) -> str:
    """An opaque token naming the last row of a page (and the order it belongs to)."""
    value = row.story_posted_at if query.sort == "posted" else row.story_expires_at
    return cursors.pack({"s": query.sort, "o": query.order, "v": value.isoformat(), "id": row.id})


def decode_cursor(cursor: str, query: LiveQuery) -> tuple[datetime, str]:
    """The (sort value, profile id) a cursor names; a foreign or damaged cursor is a 400."""
    invalid = ValidationError(
        "cursor is not valid for this listing (take next_cursor from the previous page "
        "with the same sort and order)",
        details={"field": "cursor"},
    )
    try:
        data = cursors.unpack(cursor)
        value = datetime.fromisoformat(data["v"])
        last_id = data["id"]
        same = data["s"] == query.sort and data["o"] == query.order
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid from exc
    if not same or not isinstance(last_id, str) or value.tzinfo is None:
        raise invalid
    return value, last_id


def live_counts(session: Session, query: LiveQuery) -> dict[str, Any]:
    """Live stories in all and per niche (every niche, zero included), and whether each niche
    was checked, and seen, within a story's lifetime: a zero of a niche nobody checked, or
    whose recent checks could not see any story (private accounts no session follows), is
    unknown."""
    rows = session.execute(
        select(Profile.niche_id, func.count())
        .where(*_conditions(query, with_niche=False))
        .group_by(Profile.niche_id)
    ).all()
    by_niche: dict[str | None, int] = {niche_id: count for niche_id, count in rows}
    niches = session.execute(
        select(Niche.id, Niche.name).order_by(Niche.order, Niche.name, Niche.id)
    ).all()
    cutoff = query.at - timedelta(seconds=STORY_LIFETIME_SECONDS)

    def entry(niche_id: str | None, name: str | None) -> dict[str, Any]:
        count = by_niche.get(niche_id, 0)
        newest = newest_check(session, niche_id, query.at)
        recent = newest is not None and newest >= cutoff
        # A live story was seen; else look for a recent check that could see (one probe).
        seen = count > 0 or (recent and seen_since(session, niche_id, cutoff, query.at))
        return {
            "niche_id": niche_id,
            "name": name,
            "count": count,
            "checked_recently": recent,
            "seen_recently": seen,
        }

    listed = [entry(niche_id, name) for niche_id, name in niches]
    if by_niche.get(None):
        listed.append(entry(None, None))
    return {
        "total": sum(by_niche.values()),
        "checked_recently": any(n["checked_recently"] for n in listed),
        "seen_recently": any(n["seen_recently"] for n in listed),
        "niches": listed,
    }


def _in_niche(niche_id: str | None) -> ColumnElement[bool]:
    return Profile.niche_id == niche_id if niche_id is not None else Profile.niche_id.is_(None)


def newest_check(session: Session, niche_id: str | None, at: datetime) -> datetime | None:
    """The latest check up to `at` of a niche's accounts (None: none), by the niche's
    (niche, last_checked) index: one seek from its end."""
    return session.scalar(
        select(func.max(Profile.last_checked)).where(
            _in_niche(niche_id), Profile.status != "deleted", Profile.last_checked <= at
        )
    )


# `seen_since` reads at most this many of a niche's newest checks.
SEEN_PROBE_LIMIT = 10_000


def seen_since(session: Session, niche_id: str | None, since: datetime, at: datetime) -> bool:
    """Whether a check between `since` and `at` could see whether one of the niche's accounts
    had a story (profiles.answers: `story_seen_at`).

    `story_seen_at` is never after `last_checked`, so the walk stays within the niche's
    checks since `since` on its (niche, last_checked) index, newest first, and stops at the
    first account seen: one row in a niche of public accounts. It reads at most
    SEEN_PROBE_LIMIT checks: a niche whose newest ten thousand could not see (unfollowed
    private accounts) says False — unknown, the cautious side — without reading a million.
    """
    newest = (
        select(Profile.story_seen_at)
        .where(
            _in_niche(niche_id),
            Profile.status != "deleted",
            Profile.last_checked >= since,
            Profile.last_checked <= at,
        )
        .order_by(Profile.last_checked.desc())
        .limit(SEEN_PROBE_LIMIT)
        .subquery()
    )
    found = session.scalar(select(1).where(newest.c.story_seen_at >= since).limit(1))
    return found is not None


# ---------------------------------------------------------------------------------- coverage


def live_coverage(
    session: Session, *, at: datetime, niche_id: str | None, missing_ok: bool = False
) -> dict[str, Any]:
    """How much the live list knows at `at`: accounts in scope, how many were checked within a
    story's lifetime (an older check says nothing about now), and when the last check was.

    An empty live list only means "nobody has a story" for the accounts in `answered`: the
    checked ones minus `private_unknown` (their latest check could not see a story: private,
    and no usable checking session follows them; `profiles.answers`); the others are unknown.
    Counted per niche through the (niche, last_checked) indexes, so the cost grows with the
    accounts checked recently, never with a scan of the whole table. An
    unknown niche is 404, or (`missing_ok`, as the exports list it: empty) no account at all.
    """
    if not missing_ok and niche_id is not None and session.get(Niche, niche_id) is None:
        raise NotFound("Niche not found")
    cutoff = at - timedelta(seconds=STORY_LIFETIME_SECONDS)
    scopes = [niche_id] if niche_id is not None else [*session.scalars(select(Niche.id)), None]
    checked = unknown = 0
    last: datetime | None = None
    for scope in scopes:
        in_scope = Profile.niche_id == scope if scope is not None else Profile.niche_id.is_(None)
        recent = [
            in_scope,
            Profile.status != "deleted",
            Profile.last_checked <= at,
            Profile.last_checked >= cutoff,
        ]
        checked += int(session.scalar(select(func.count()).where(*recent)) or 0)
        # The partial index ix_profiles_niche_unseen_checked serves this (profiles.answers).
        unknown += int(session.scalar(select(func.count()).where(*recent, unseen())) or 0)
        newest = newest_check(session, scope, at)
        if newest is not None and (last is None or newest > last):
            last = newest
    profiles = stored_count(session, niche_id=niche_id, status=None) - stored_count(
        session, niche_id=niche_id, status="deleted"
    )
    return {
        "at": iso(at),
        "window_hours": int(STORY_LIFETIME_SECONDS // 3600),
        "profiles": profiles,
        "checked": checked,
        "answered": checked - unknown,
        "private_unknown": unknown,
        "not_checked": max(0, profiles - checked),
        "last_checked_at": iso(last) if last is not None else None,
    }


# ---------------------------------------------------------------------------------- exports


def iter_live_rows(db: Database, query: LiveQuery) -> Iterator[Any]:
    """Every matching row, read in keyset chunks with a fresh short session per chunk.

    No connection is held between chunks, so a slow download never pins a pooled connection,
    and memory stays one chunk whatever the size of the result.
    """
    after: tuple[datetime, str] | None = None
    while True:
        with db.read() as session:
            rows = _page_rows(session, query, after, EXPORT_CHUNK)
        yield from rows
        if len(rows) < EXPORT_CHUNK:
            return
        last = rows[-1]
        value = last.story_posted_at if query.sort == "posted" else last.story_expires_at
        after = (value, last.id)


def live_csv(db: Database, query: LiveQuery) -> Iterator[str]:
    """The listing as CSV text chunks (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(iter_live_rows(db, query), start=1):
        story = live_story(row, query.at)
        writer.writerow(
            [
                story["username"],
                story["niche_name"] or "",
                story["posted_at"] or "",
                story["first_posted_at"] or "",
                story["expires_at"] or "",
                story["expires_in_seconds"],
                story["item_count"],
                story["checked_at"] or "",
                story["story_url"],
                story["profile_id"],
                story["niche_id"] or "",
            ]
        )
        if count % EXPORT_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def live_json(db: Database, query: LiveQuery) -> Iterator[str]:
    """The listing as one JSON document `{"at", "coverage", "stories": [...], "count"}`,
    streamed; `coverage` says which accounts an empty or short list speaks for."""
    with db.read() as session:
        known = live_coverage(session, at=query.at, niche_id=query.niche_id, missing_ok=True)
    yield from json_array_stream(
        head={"at": iso(query.at), "coverage": known},
        key="stories",
        items=(live_story(row, query.at) for row in iter_live_rows(db, query)),
    )


def json_array_stream(
    *, head: dict[str, Any], key: str, items: Iterator[dict[str, Any]]
) -> Iterator[str]:
    """Stream `{**head, key: [items...], "count": n}` in chunks of EXPORT_CHUNK items."""
    opening = json.dumps(head, separators=(",", ":"))[:-1]
    prefix = f"{opening}," if head else "{"
    parts = [f'{prefix}"{key}":[']
    count = 0
    for item in items:
        parts.append(("," if count else "") + json.dumps(item, separators=(",", ":")))
        count += 1
        if count % EXPORT_CHUNK == 0:
            yield "".join(parts)
            parts = []
    parts.append(f'],"count":{count}}}')
    yield "".join(parts)


# Downloads streamed at once per process. A stalled client lets a download generate several
# megabytes (its socket buffers, then the server's) before it pauses: a cap keeps a crowd of
# slow downloads from taking the CPU the API needs.
MAX_DOWNLOADS = 4
_downloads = threading.BoundedSemaphore(MAX_DOWNLOADS)


def primed(chunks: Iterator[str]) -> Iterator[str]:
    """Take a download slot and run a stream up to its first chunk now (its first database
    read included), so bad input, a database error or no free slot is an ordinary error
    answer, not a broken download. The slot is freed when the stream ends or is dropped."""
    if not _downloads.acquire(blocking=False):
        raise Unavailable(
            f"{MAX_DOWNLOADS} downloads are in progress; try again in a few seconds",
            code="too_many_downloads",
        )
    try:
        first = next(chunks, "")
    except BaseException:
        _downloads.release()
        raise
    return _Download(itertools.chain((first,), chunks))


class _Download:
    """A stream that frees its download slot exactly once: at its end or when the server
    closes it (a client that went away), even if it was never iterated."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._open = True

    def __iter__(self) -> _Download:
        return self

    def __next__(self) -> str:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Free the slot (idempotent)."""
        if self._open:
            self._open = False
            _downloads.release()


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_line_writer() -> Callable[[list[Any]], str]:
    """A function turning one row of values into one CSV line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        writer.writerow(values)
        return _drain(buffer)

    return line


# ---------------------------------------------------------------------------------- history


def profile_windows(
    session: Session, *, profile_id: str, at: datetime | None = None, limit: int = 100
) -> dict[str, Any]:
    """A profile's story windows, newest first (`live` is true for a window live at `at`)."""
    if session.get(Profile, profile_id) is None:
        raise NotFound("Profile not found", details={"profile_id": profile_id})
    moment = at or utcnow()
    windows = session.scalars(
        select(StoryWindow)
        .where(StoryWindow.profile_id == profile_id)
        .order_by(StoryWindow.expires_at.desc(), StoryWindow.id.desc())
        .limit(limit)
    ).all()
    return {
        "windows": [
            {
                "id": w.id,
                "first_taken_at": iso(w.first_taken_at),
                "last_taken_at": iso(w.last_taken_at),
                "expires_at": iso(w.expires_at),
                "item_count": w.item_count,
                "first_seen_at": iso(w.first_seen_at),
                "last_seen_at": iso(w.last_seen_at),
                "batch_id": w.batch_id,
                "live": w.expires_at > moment,
            }
            for w in windows
        ]
    }
