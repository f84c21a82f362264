"""Profile request bodies and answers: the profile object, its page, bulk and import reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from storycheck.fields import Answer, Body, Choice, Flag, IdList, absent_key, invalid
from storycheck.profiles.answers import STORY_ANSWERS, UNKNOWN_REASONS
from storycheck.profiles.models import PROFILE_STATUSES
from storycheck.profiles.service import BULK_MAX, extract_username

ProfileIds = Annotated[
    list[str],
    IdList(
        limit=BULK_MAX,
        wrong="must be a non-empty list of id strings",
        bad_item="must be a non-empty list of id strings",
    ),
]
ProfileStatus = Annotated[str, Choice(PROFILE_STATUSES)]
# A niche id, or null / "" for "no niche".
NicheRef = Annotated[str | None, BeforeValidator(lambda value: None if value == "" else value)]


def clean_username(value: Any) -> str:
    """A username given in a body: the import's forms are accepted (`@name`, profile URLs)."""
    if value is None:
        raise invalid("username", "username is required")
    if not isinstance(value, str):
        raise invalid("username", "username must be a string")
    if not value.strip():
        raise invalid("username", "Username cannot be empty")
    username, reason = extract_username(value[:300])
    if username is None:
        raise invalid(
            "username",
            f"{reason}: use 1-30 letters, digits, '.' or '_'",
            "^[A-Za-z0-9._]{1,30}$",
        )
    return username


class ProfileCreate(Body):
    """`POST /api/profiles`."""

    username: str = Field(description="A username, @name or profile URL")
    niche_id: NicheRef = None

    _username = field_validator("username", mode="before")(clean_username)


class ProfileUpdate(Body):
    """`PUT /api/profiles/{id}`: the given fields change (`niche_id: null` removes the niche)."""

    username: str = absent_key("A username, @name or profile URL")
    status: ProfileStatus = absent_key()
    niche_id: NicheRef = None

    _username = field_validator("username", mode="before")(clean_username)


class ProfileBulk(Body):
    """`POST /api/profiles/bulk`: a status and/or a niche for many profiles."""

    profile_ids: ProfileIds
    status: ProfileStatus = absent_key()
    niche_id: NicheRef = None


class ProfileIdList(Body):
    """A list of profiles (`POST /api/profiles/clear-not-found`)."""

    profile_ids: ProfileIds


class RecordCheck(Body):
    """`POST /api/profiles/{id}/record_check`: no body (or null) means no story."""

    story_detected: Annotated[bool, Flag(strict=True)] | None = None


def changes(body: ProfileUpdate | ProfileBulk) -> dict[str, Any]:
    """The fields a body sets, by name (a given `niche_id: null` is a change)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


class Profile(Answer):
    """A profile (the original's fields plus storycheck's)."""

    id: str
    username: str
    url: str | None
    niche_id: str | None
    niche: str | None = Field(description="The niche's name")
    status: Annotated[str, Choice(PROFILE_STATUSES)]
    active_story: bool = Field(description="Same as story_live")
    last_story_detected: datetime | None
    total_checks: int
    total_detections: int
    last_checked: datetime | None
    last_detected: datetime | None
    detection_rate: float
    is_private: bool | None
    not_found: bool
    not_found_at: datetime | None
    story_posted_at: datetime | None
    story_expires_at: datetime | None
    story_live: bool
    story_answer: Annotated[str, Choice(STORY_ANSWERS)] = Field(
        description="live, none (checked within a story's lifetime and seen: no story), "
        "unknown (not checked within it, or its latest check could not see: private and "
        "followed by no usable checking session) "
        "or not_found (confirmed: no such account)"
    )
    story_unknown_reason: Annotated[str, Choice(UNKNOWN_REASONS)] | None = Field(
        description="why the answer is unknown: not_checked, stale, private (the latest check "
        "could not see a private account) or unseen (it could not see for another reason)"
    )
    created_at: datetime | None
    updated_at: datetime | None


class ProfileFilters(Answer):
    """The filters a page was read with."""

    search: str | None
    niche_id: str | None
    status: str | None
    active_story: bool | None
    not_found: bool | None
    story: str | None


class ProfilePage(Answer):
    """A page of profiles."""

    profiles: list[Profile]
    total: int
    total_is_estimate: bool = Field(
        description="true when `total` is estimated (a search over a very large niche)"
    )
    page: int
    page_size: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page (keyset paging); null on the last page"
    )
    sort_column: str | None
    sort_direction: Annotated[str, Choice(("asc", "desc"))]
    filters: ProfileFilters


class ProfileIdPage(Answer):
    """The ids of every matching profile (at most 100,000)."""

    ids: list[str]
    total: int
    truncated: bool


class BulkResult(Answer):
    """How many profiles a bulk change updated, and how many ids were unknown."""

    updated: int
    not_found: int


class ClearedCount(Answer):
    """How many flags were cleared."""

    cleared: int


class RefreshResult(Answer):
    """What a refresh of the story flags did."""

    message: str
    cleared: int
    expired_results_deleted: int
    retention_hours: int


class ImportLineError(Answer):
    """A line of an import that was not imported, and why."""

    line: str
    error: str
    line_number: int


class ImportReport(Answer):
    """What an import created and which lines it refused."""

    created: list[Profile]
    errors: list[ImportLineError]
    total: int
    created_count: int
    error_count: int
    duplicate_count: int
    invalid_format_count: int
    created_truncated: bool
    errors_truncated: bool
