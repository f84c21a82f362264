"""Batch request bodies and answers: the batch object, its items, log and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, model_validator

from storycheck.batches.models import (
    ITEM_ANSWERS,
    ITEM_UNKNOWN_REASONS,
    BatchStatus,
    FailureKind,
    ItemStatus,
)
from storycheck.batches.state import MAX_BATCH_PROFILES, SELECTION_EVENTS
from storycheck.engine.pool_model import WAITING_CODES
from storycheck.fields import Answer, Body, Flag, IdList, Text, absent_key, invalid, one_of
from storycheck.niches.schemas import Niche

OUTCOMES = ("story", "no_story", "private", "failed", "pending")
FAILURE_KINDS = tuple(kind.value for kind in FailureKind)
ACTIONS = (*SELECTION_EVENTS, "reorder", "delete")

BatchIdList = Annotated[list[str], IdList()]
PROFILE_IDS_SCHEMA = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_PROFILES,
                      "items": {"type": "string"}}


class BatchIds(Body):
    """A list of batches to act on (start, stop, resume, reorder, delete)."""

    batch_ids: BatchIdList


class BatchCreate(Body):
    """`POST /api/batches`: profiles of one niche, listed or all of them."""

    niche_id: Annotated[str, Text(64)]
    all_profiles: Annotated[bool, Flag(strict=True)] = False
    # Checked below (ignored with all_profiles); the state manager checks each id.
    profile_ids: Annotated[Any, WithJsonSchema(PROFILE_IDS_SCHEMA)] = absent_key(
        "Required unless all_profiles is true"
    )

    @model_validator(mode="after")
    def _profiles_given(self) -> BatchCreate:
        if self.all_profiles:
            return self
        if self.profile_ids is None or self.profile_ids == []:
            raise invalid("profile_ids", "profile_ids is required")
        if not isinstance(self.profile_ids, list):
            raise invalid("profile_ids", "profile_ids must be a non-empty list")
        if len(self.profile_ids) > MAX_BATCH_PROFILES:
            raise invalid(
                "profile_ids",
                f"A batch may hold at most {MAX_BATCH_PROFILES} profiles",
                f"1-{MAX_BATCH_PROFILES}",
            )
        return self


class Batch(Answer):
    """A batch with its niche and live figures (the original's fields plus storycheck's)."""

    id: str
    niche_id: str
    niche: Niche
    status: Annotated[str, one_of(s.value for s in BatchStatus)]
    queue_position: int | None
    total_profiles: int
    completed_profiles: int
    successful_checks: int
    failed_checks: int
    completion_rate: float
    profiles_with_stories: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    stories_found: int
    checks_failed: int
    private_profiles: int
    not_found_profiles: int = Field(
        description="failed checks whose account two pairs confirmed does not exist"
        " (part of checks_failed): an answer, not a check that could not be made"
    )
    pending_profiles: int
    in_flight_profiles: int
    rate_per_minute: int
    eta_seconds: int | None = Field(description="remaining time from the pool model")
    eta_range_seconds: list[int] | None = Field(
        description="[low, high] remaining seconds", min_length=2, max_length=2
    )
    eta_bound_by: str | None = Field(description="what binds the ETA, in words")
    waiting_reason: str | None = Field(description="why it is not moving (null: nothing holds it)")
    waiting_code: Annotated[str, one_of(WAITING_CODES)] | None
    waiting_until: datetime | None
    stalled: bool = Field(description="waited with no usable pair past the stall threshold")
    stalled_since: datetime | None
    allowed_actions: list[Annotated[str, one_of(ACTIONS)]]


class BatchItem(Answer):
    """One profile of a batch and how its check went."""

    id: str
    profile_id: str
    username: str
    status: Annotated[str, one_of(s.value for s in ItemStatus)]
    has_story: bool
    story_count: int
    latest_story_at: datetime | None
    outcome: Annotated[str, one_of(OUTCOMES[:3])] | None
    failure_kind: Annotated[str, one_of(FAILURE_KINDS)] | None
    error: str | None
    attempts: int
    proxy_id: str | None
    processed_at: datetime | None


class BatchDetail(Batch):
    """A batch with every story username and a page of its items."""

    items: list[BatchItem]
    items_total: int


class BatchLog(Answer):
    """One line of a batch's log."""

    id: str
    batch_id: str
    timestamp: datetime | None
    event_type: str
    message: str
    profile_id: str | None
    proxy_id: str | None


class BatchLogPage(Answer):
    """A page of a batch's log, newest first."""

    logs: list[BatchLog]
    total: int
    limit: int
    offset: int


class BatchResult(Answer):
    """One account of a batch with its outcome and the three times."""

    profile_id: str
    username: str
    outcome: Annotated[str, one_of(OUTCOMES)]
    answer: Annotated[str, one_of(ITEM_ANSWERS)] = Field(
        description="What the check says about the account's story: story, no_story, "
        "not_found (two pairs confirmed it does not exist), or unknown (see unknown_reason)"
    )
    unknown_reason: Annotated[str, one_of(ITEM_UNKNOWN_REASONS)] | None = Field(
        description="Why the answer is unknown: private (a private account no session "
        "follows), failed (the check could not be made), not_checked (not yet); else null"
    )
    posted_at: datetime | None
    expires_at: datetime | None
    checked_at: datetime | None
    item_count: int
    failure_kind: Annotated[str, one_of(FAILURE_KINDS)] | None
    error: str | None


class BatchResultCounts(Answer):
    """How many accounts of the batch have each outcome."""

    story: int
    no_story: int
    private: int
    failed: int
    pending: int
    not_found: int = Field(
        description="Of `failed`: accounts two pairs confirmed do not exist (an answer, not a "
        "check that could not be made)"
    )


class BatchResultPage(Answer):
    """A page of a batch's results."""

    results: list[BatchResult]
    total: int
    page: int
    page_size: int
    counts: BatchResultCounts


class BatchResultsDocument(Answer):
    """Every result of a batch in one document (`results.json`)."""

    batch_id: str
    results: list[BatchResult]
    count: int
