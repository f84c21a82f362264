"""Profile queries and commands: list/filter/sort, create, edit, bulk edit, stats, refresh."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storycheck.db import Database, iso, utcnow
from storycheck.errors import Conflict, NotFound, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.answers import story_answer
from storycheck.profiles.listing import (
    IDS_MAX,
    Position,
    ProfileFilters,
    Sort,
    conditions,
    count_total,
    decode_cursor,
    encode_cursor,
    full_order,
    load_rows,
    page_rows,
)
from storycheck.profiles.models import PROFILE_STATUSES, Profile, username_key
from storycheck.settings.service import get_settings
from storycheck.stories.models import StoryResult
from storycheck.stories.windows import Sighting, record_sightings

USERNAME_RE = re.compile(r"\A[A-Za-z0-9._]{1,30}\Z")
INVALID_FORMAT = "Invalid username format"

# First path segments of instagram.com that are pages, not profiles.
RESERVED_PATHS = frozenset(
    (
        "about accounts api ar challenge developer direct directory emails explore graphql "
        "legal p press privacy reel reels s stories terms tv web"
    ).split()
)

_URL_RE = re.compile(
    r"^(?:https?://)?(?:(?:www|m)\.)?(?:instagram\.com|instagr\.am)"
    r"(?:/(?P<path>[^?#]*))?(?:[?#].*)?$",
    re.IGNORECASE,
)

BULK_MAX = 100_000
_CHUNK = 5000
_EXPORT_CHUNK = 1000


class _Unset:
    """Marks an argument that was not given (as opposed to an explicit None)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


# ---------------------------------------------------------------------------------- usernames


def extract_username(text: str) -> tuple[str | None, str | None]:
    """Read a username from `name`, `@name` or an instagram.com / instagr.am profile URL.

    Returns `(username, None)` or `(None, reason)`; the reason always contains
    "Invalid username format" so clients can classify it.
    """
    candidate = text.strip()
    match = _URL_RE.match(candidate)
    if match:
        segments = [s for s in (match.group("path") or "").split("/") if s]
        if not segments:
            return None, f"{INVALID_FORMAT} (the URL names no profile)"
        first = segments[0]
        if first.lower() == "stories" and len(segments) >= 2:
            first = segments[1]  # a story link: instagram.com/stories/<name>/<id>
        candidate = first
    elif candidate.startswith("@"):
        candidate = candidate[1:]
    if not USERNAME_RE.match(candidate):
        return None, INVALID_FORMAT
    if candidate.lower() in RESERVED_PATHS:
        return None, f"{INVALID_FORMAT} ('{candidate}' is an Instagram page, not a profile)"
    return candidate, None


def profile_url(username: str) -> str:
    """The profile's Instagram address."""
    return f"https://instagram.com/{username}"


# ---------------------------------------------------------------------------------- queries


def profile_to_dict(
    profile: Profile, niche_name: str | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The profile object of the API (original fields plus storycheck's).

    `active_story` is `story_live`: the latest story window has not expired (`now` <
    `story_expires_at`), never "some hours after the check".
    """
    now = now or utcnow()
    live = story_live(profile, now)
    answer, unknown_reason = story_answer(profile, now)
    return {
        "id": profile.id,
        "username": profile.username,
        "url": profile.url,
        "niche_id": profile.niche_id,
        "niche": niche_name,
        "status": profile.status,
        "active_story": live,
        "last_story_detected": iso(profile.last_story_detected),
        "total_checks": profile.total_checks or 0,
        "total_detections": profile.total_detections or 0,
        "last_checked": iso(profile.last_checked),
        "last_detected": iso(profile.last_detected),
        "detection_rate": profile.detection_rate,
        "is_private": profile.is_private,
        "not_found": bool(profile.not_found),
        # Set by engine-core's migration 0003 when a second pair confirms "no such user".
        "not_found_at": iso(getattr(profile, "not_found_at", None)),
        "story_posted_at": iso(profile.story_posted_at),
        "story_expires_at": iso(profile.story_expires_at),
        "story_live": live,
        "story_answer": answer,
        "story_unknown_reason": unknown_reason,
        "created_at": iso(profile.created_at),
        "updated_at": iso(profile.updated_at),
    }


def story_live(profile: Profile, now: datetime) -> bool:
    """True while the profile's latest story window has not expired."""
    return profile.story_expires_at is not None and now < profile.story_expires_at


def profile_payload(session: Session, profile: Profile) -> dict[str, Any]:
    """One profile as the API shows it (with its niche's name)."""
    niche = session.get(Niche, profile.niche_id) if profile.niche_id else None
    return profile_to_dict(profile, niche.name if niche else None)


def get_profile(session: Session, *, profile_id: str) -> Profile:
    """The profile with this id, or a 404."""
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound("Profile not found", details={"profile_id": profile_id})
    return profile


def list_profiles(
    session: Session,
    *,
    filters: ProfileFilters,
    page: int = 1,
    page_size: int = 50,
    sort_by: str | None = None,
    sort_direction: str = "asc",
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of profiles matching `filters` in a stable order, with the total count.

    The page starts at `(page - 1) * page_size`, or right after the row `cursor` names
    (keyset paging; `next_cursor` of the answer continues the list). `total` is exact unless
    `total_is_estimate` says otherwise (see `profiles.listing`).
    """
    sort = Sort(column=sort_by, direction=sort_direction)
    after = decode_cursor(cursor, sort) if cursor else None
    offset = 0 if after else (page - 1) * page_size
    found = page_rows(session, filters, sort, limit=page_size + 1, offset=offset, after=after)
    more = len(found) > page_size
    found = found[:page_size]
    rows = load_rows(session, [row.key for row in found])
    total, estimate = count_total(
        session, filters, at_least=(0 if after else offset) + len(found) + int(more)
    )
    return {
        "profiles": [profile_to_dict(profile, niche_name) for profile, niche_name in rows],
        "total": total,
        "total_is_estimate": estimate,
        "page": page,
        "page_size": page_size,
        "next_cursor": encode_cursor(sort, found[-1]) if more and found else None,
        "sort_column": sort_by,
        "sort_direction": sort_direction,
        "filters": {
            "search": filters.search,
            "niche_id": filters.niche_id,
            "status": filters.status,
            "active_story": filters.active_story,
            "not_found": filters.not_found,
            "story": filters.story,
        },
    }


def profile_ids(
    session: Session,
    *,
    filters: ProfileFilters,
    sort_by: str | None = None,
    sort_direction: str = "asc",
) -> dict[str, Any]:
    """The ids of every profile matching `filters` (at most IDS_MAX), in list order."""
    sort = Sort(column=sort_by, direction=sort_direction)
    query = (
        select(Profile.id)
        .where(*conditions(session, filters))
        .order_by(*full_order(sort, filters))
        .limit(IDS_MAX + 1)
    )
    if sort_by == "niche__name" and not filters.niche_id:
        query = query.outerjoin(Niche, Niche.id == Profile.niche_id)
    ids = list(session.scalars(query))
    truncated = len(ids) > IDS_MAX
    ids = ids[:IDS_MAX]
    total, _ = count_total(session, filters, at_least=len(ids) + int(truncated))
    return {"ids": ids, "total": max(total, len(ids)), "truncated": truncated}


# ---------------------------------------------------------------------------------- commands


def create_profile(session: Session, *, username: str, niche_id: str | None = None) -> Profile:
    """Create an active profile; a username equal after normalisation is a 409."""
    if niche_id is not None:
        _ensure_niche(session, niche_id)
    _ensure_username_free(session, username)
    profile = Profile(
        username=username,
        username_key=username_key(username),
        url=profile_url(username),
        niche_id=niche_id,
        status="active",
    )
    session.add(profile)
    session.flush()
    return profile


def update_profile(
    session: Session,
    *,
    profile_id: str,
    username: str | _Unset = UNSET,
    status: str | _Unset = UNSET,
    niche_id: str | None | _Unset = UNSET,
) -> Profile:
    """Change a profile's username, status or niche (only the arguments that are given)."""
    profile = get_profile(session, profile_id=profile_id)
    if not isinstance(status, _Unset):
        profile.status = check_status(status)
    if not isinstance(niche_id, _Unset):
        if niche_id is not None:
            _ensure_niche(session, niche_id)
        profile.niche_id = niche_id
    if not isinstance(username, _Unset) and username != profile.username:
        key = username_key(username)
        if key != profile.username_key:
            _ensure_username_free(session, username, exclude_id=profile.id)
            # Another account: the cached Instagram identity no longer applies.
            profile.ig_user_id = None
            profile.is_private = None
            profile.not_found = False
        if profile.url in (None, profile_url(profile.username)):
            profile.url = profile_url(username)
        profile.username = username
        profile.username_key = key
    session.flush()
    return profile


def check_status(value: object) -> str:
    """Validate a profile status."""
    if not isinstance(value, str) or value not in PROFILE_STATUSES:
        raise ValidationError(
            f"Invalid status. Must be one of: {', '.join(PROFILE_STATUSES)}",
            details={"field": "status", "valid_range": list(PROFILE_STATUSES)},
        )
    return value


def bulk_update(
    session: Session,
    *,
    profile_ids: Sequence[str],
    status: str | _Unset = UNSET,
    niche_id: str | None | _Unset = UNSET,
) -> dict[str, int]:
    """Set status and/or niche of many profiles at once; unknown ids are counted, not fatal."""
    values: dict[str, Any] = {}
    if not isinstance(status, _Unset):
        values["status"] = check_status(status)
    if not isinstance(niche_id, _Unset):
        if niche_id is not None:
            _ensure_niche(session, niche_id)
        values["niche_id"] = niche_id
    if not values:
        raise ValidationError("Give status and/or niche_id to change", details={"field": "status"})
    values["updated_at"] = utcnow()
    updated = 0
    for start in range(0, len(profile_ids), _CHUNK):
        chunk = list(profile_ids[start : start + _CHUNK])
        result = session.execute(
            update(Profile)
            .where(Profile.id.in_(chunk))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        updated += result.rowcount  # type: ignore[attr-defined]
    return {"updated": updated, "not_found": len(profile_ids) - updated}


def soft_delete(session: Session, *, profile_id: str) -> Profile:
    """Mark a profile deleted; the row (and its history) stays."""
    profile = get_profile(session, profile_id=profile_id)
    profile.status = "deleted"
    profile.updated_at = utcnow()
    session.flush()
    return profile


def reactivate(session: Session, *, profile_id: str) -> Profile:
    """Make a profile active again."""
    profile = get_profile(session, profile_id=profile_id)
    profile.status = "active"
    session.flush()
    return profile


def record_check(
    session: Session, *, profile_id: str, story_detected: bool, now: datetime | None = None
) -> Profile:
    """Count one manual check of a profile (and a detection when `story_detected`).

    The check is a sighting like the engine's: a story opens or extends a window (live for
    24 hours when no item time is known), "no story" ends a live one.
    """
    profile = get_profile(session, profile_id=profile_id)
    now = now or utcnow()
    profile.total_checks = (profile.total_checks or 0) + 1
    profile.last_checked = now
    profile.story_seen_at = now  # whoever records it looked
    if story_detected:
        profile.total_detections = (profile.total_detections or 0) + 1
        profile.last_detected = now
        profile.last_story_detected = now
    session.flush()
    sighting = Sighting(
        profile_id=profile.id,
        batch_id=None,
        seen_at=now.timestamp(),
        item_count=1 if story_detected else 0,
        first_taken_at=None,
        last_taken_at=None,
        expires_at=None,
    )
    record_sightings(session.connection(), [sighting])
    session.expire(profile)
    return profile


def refresh_stories(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """Clear `active_story` where the latest story window has expired.

    Story results older than their retention are deleted too. Returns how many profiles were
    cleared. The maintenance thread runs this every minute, so the stored flag (read by the
    original client's sort and by old queries) follows the windows.
    """
    now = now or utcnow()
    hours = get_settings(session).story_retention_hours
    cleared = session.execute(
        update(Profile)
        .where(
            Profile.active_story.is_(True),
            or_(Profile.story_expires_at.is_(None), Profile.story_expires_at <= now),
        )
        .values(active_story=False, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    expired = session.execute(
        delete(StoryResult)
        .where(StoryResult.expires_at < now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return {
        "message": "Stories refreshed successfully",
        "cleared": cleared,
        "expired_results_deleted": expired,
        "retention_hours": hours,
    }


def clear_not_found(session: Session, *, profile_ids: Sequence[str]) -> dict[str, int]:
    """Clear the "not found" flag of these profiles by hand (they are checked normally again)."""
    values: dict[str, Any] = {"not_found": False, "updated_at": utcnow()}
    if hasattr(Profile, "not_found_at"):  # engine-core's migration 0003
        values["not_found_at"] = None
    cleared = 0
    for start in range(0, len(profile_ids), _CHUNK):
        chunk = list(profile_ids[start : start + _CHUNK])
        result = session.execute(
            update(Profile)
            .where(Profile.id.in_(chunk), Profile.not_found.is_(True))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        cleared += result.rowcount  # type: ignore[attr-defined]
    return {"cleared": cleared}


EXPORT_COLUMNS: Final = (
    "username",
    "url",
    "niche",
    "status",
    "story_live",
    "story_answer",
    "story_unknown_reason",
    "story_posted_at",
    "story_expires_at",
    "last_checked",
    "not_found",
    "not_found_at",
    "is_private",
    "total_checks",
    "total_detections",
    "id",
    "niche_id",
)


def export_csv(db: Database, *, filters: ProfileFilters) -> Iterator[str]:
    """Every profile matching `filters` as CSV (username order), streamed in keyset chunks.

    Each chunk is read in its own short session: a slow download holds no connection and
    memory stays one chunk whatever the number of profiles.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    after: Position | None = None
    while True:
        now = utcnow()
        with db.read() as session:
            page = page_rows(session, filters, Sort(), limit=_EXPORT_CHUNK, after=after)
            for profile, niche_name in load_rows(session, [row.key for row in page]):
                item = profile_to_dict(profile, niche_name, now=now)
                writer.writerow([_csv_value(item[column]) for column in EXPORT_COLUMNS])
        if page:
            after = Position(value=None, key=page[-1].key)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield text
        if len(page) < _EXPORT_CHUNK:
            return


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _ensure_niche(session: Session, niche_id: str) -> None:
    if not isinstance(niche_id, str) or session.get(Niche, niche_id) is None:
        raise NotFound(
            f"Niche {str(niche_id)[:64]} not found",
            code="niche_not_found",
            details={"field": "niche_id"},
        )


def _ensure_username_free(
    session: Session, username: str, *, exclude_id: str | None = None
) -> None:
    query = select(Profile.username).where(Profile.username_key == username_key(username))
    if exclude_id is not None:
        query = query.where(Profile.id != exclude_id)
    existing = session.scalar(query.limit(1))
    if existing is not None:
        raise Conflict(
            f"Username already exists (as {existing})",
            code="duplicate_profile",
            details={"field": "username", "existing_username": existing},
        )
