"""Profile queries and commands: list/filter/sort, create, edit, bulk edit, stats, refresh."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storycheck.db import Database, utcnow
from storycheck.errors import Conflict, NotFound, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.models import PROFILE_STATUSES, Profile, username_key
from storycheck.settings.service import get_settings
from storycheck.stories.models import StoryResult
from storycheck.stories.windows import Sighting, record_sightings
from storycheck.web.http import iso

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

PAGE_MAX = 10_000_000
PAGE_SIZE_MAX = 1000
IDS_MAX = 100_000
BULK_MAX = 100_000
_CHUNK = 5000
_EXPORT_CHUNK = 1000

# `sort_by` values of the original API (plus nothing else).
SORT_COLUMNS: Final = (
    "username",
    "niche__name",
    "status",
    "last_checked",
    "last_detected",
    "detection_rate",
    "total_detections",
    "total_checks",
    "active_story",
    "created_at",
    "updated_at",
)
_NULLABLE_SORTS = ("niche__name", "last_checked", "last_detected")


class _Unset:
    """Marks an argument that was not given (as opposed to an explicit None)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


@dataclass(frozen=True)
class ProfileFilters:
    """Which profiles a list, an id listing or a count covers."""

    niche_id: str | None = None
    status: str | None = None
    search: str | None = None
    active_story: bool | None = None
    not_found: bool | None = None


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
    live = story_live(profile, now or utcnow())
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


def check_filters(
    *,
    niche_id: str | None,
    status: str | None,
    search: str | None,
    active_story: bool | None,
    not_found: bool | None = None,
) -> ProfileFilters:
    """Validate list filters (empty strings mean "no filter")."""
    if status and status not in PROFILE_STATUSES:
        raise ValidationError(
            f"Invalid status filter. Must be one of: {', '.join(PROFILE_STATUSES)}",
            details={"field": "status", "valid_range": list(PROFILE_STATUSES)},
        )
    if search and len(search) > 100:
        raise ValidationError(
            "search is longer than 100 characters",
            details={"field": "search", "valid_range": "0-100 characters"},
        )
    return ProfileFilters(
        niche_id=niche_id or None,
        status=status or None,
        search=search or None,
        active_story=active_story,
        not_found=not_found,
    )


def check_sort(sort_by: str | None, sort_direction: str | None) -> tuple[str | None, str]:
    """Validate `sort_by` (one of SORT_COLUMNS) and `sort_direction` (asc/desc)."""
    direction = (sort_direction or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ValidationError(
            "Sort direction must be 'asc' or 'desc'",
            details={"field": "sort_direction", "valid_range": ["asc", "desc"]},
        )
    column = sort_by or None
    if column is not None and column not in SORT_COLUMNS:
        raise ValidationError(
            f"Invalid sort column: {column[:50]}",
            details={"field": "sort_by", "valid_range": list(SORT_COLUMNS)},
        )
    return column, direction


def list_profiles(
    session: Session,
    *,
    filters: ProfileFilters,
    page: int = 1,
    page_size: int = 50,
    sort_by: str | None = None,
    sort_direction: str = "asc",
) -> dict[str, Any]:
    """One page of profiles matching `filters`, in a stable order, with the total count."""
    query = (
        select(Profile, Niche.name)
        .outerjoin(Niche, Niche.id == Profile.niche_id)
        .where(*_conditions(filters))
        .order_by(*_order(sort_by, sort_direction))
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = session.execute(query).all()
    return {
        "profiles": [profile_to_dict(profile, niche_name) for profile, niche_name in rows],
        "total": count_profiles(session, filters=filters),
        "page": page,
        "page_size": page_size,
        "sort_column": sort_by,
        "sort_direction": sort_direction,
        "filters": {
            "search": filters.search,
            "niche_id": filters.niche_id,
            "status": filters.status,
            "active_story": filters.active_story,
            "not_found": filters.not_found,
        },
    }


def count_profiles(session: Session, *, filters: ProfileFilters) -> int:
    """How many profiles match `filters`."""
    query = select(func.count()).select_from(Profile).where(*_conditions(filters))
    return session.scalar(query) or 0


def profile_ids(
    session: Session,
    *,
    filters: ProfileFilters,
    sort_by: str | None = None,
    sort_direction: str = "asc",
) -> dict[str, Any]:
    """The ids of every profile matching `filters` (at most IDS_MAX), in list order."""
    query: Select[Any] = (
        select(Profile.id)
        .where(*_conditions(filters))
        .order_by(*_order(sort_by, sort_direction))
        .limit(IDS_MAX)
    )
    if sort_by == "niche__name":
        query = query.outerjoin(Niche, Niche.id == Profile.niche_id)
    ids = list(session.scalars(query))
    total = count_profiles(session, filters=filters)
    return {"ids": ids, "total": total, "truncated": total > len(ids)}


def _conditions(filters: ProfileFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.niche_id:
        conditions.append(Profile.niche_id == filters.niche_id)
    if filters.status:
        conditions.append(Profile.status == filters.status)
    if filters.search:
        escaped = filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Profile.username.ilike(f"%{escaped}%", escape="\\"))
    if filters.active_story is not None:
        # Live now, from the story window (the stored flag lags until the maintenance tick).
        live = Profile.story_expires_at > utcnow()
        conditions.append(live if filters.active_story else or_(~live, _no_window()))
    if filters.not_found is not None:
        conditions.append(Profile.not_found.is_(filters.not_found))
    return conditions


def _no_window() -> ColumnElement[bool]:
    return Profile.story_expires_at.is_(None)


def _detection_rate_sql() -> ColumnElement[Any]:
    return case(
        (Profile.total_checks > 0, Profile.total_detections * 100.0 / Profile.total_checks),
        else_=0.0,
    )


def _order(sort_by: str | None, direction: str) -> list[Any]:
    if sort_by is None:
        return [Profile.username_key, Profile.id]
    if sort_by == "username":
        # `username_key` is lower case and unique: a case-insensitive, index-backed order.
        expression: Any = Profile.username_key
    elif sort_by == "niche__name":
        expression = Niche.name
    elif sort_by == "detection_rate":
        expression = _detection_rate_sql()
    else:
        expression = getattr(Profile, sort_by)
    ordered = expression.desc() if direction == "desc" else expression.asc()
    if sort_by in _NULLABLE_SORTS:
        ordered = ordered.nulls_last()
    return [ordered, Profile.id]


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
    after: tuple[str, str] | None = None
    while True:
        now = utcnow()
        query = (
            select(Profile, Niche.name)
            .outerjoin(Niche, Niche.id == Profile.niche_id)
            .where(*_conditions(filters))
            .order_by(Profile.username_key, Profile.id)
            .limit(_EXPORT_CHUNK)
        )
        if after is not None:
            query = query.where(
                or_(
                    Profile.username_key > after[0],
                    and_(Profile.username_key == after[0], Profile.id > after[1]),
                )
            )
        with db.read() as session:
            rows = session.execute(query).all()
            for profile, niche_name in rows:
                item = profile_to_dict(profile, niche_name, now=now)
                writer.writerow([_csv_value(item[column]) for column in EXPORT_COLUMNS])
            if rows:
                last = rows[-1][0]
                after = (last.username_key, last.id)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield text
        if len(rows) < _EXPORT_CHUNK:
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
