"""Models of the answers that belong to no domain: errors, health, invariants, dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storycheck.fields import Answer, absent_key


class Error(BaseModel):
    """Every failure: a code or short text in `error`, a sentence in `message`."""

    error: str
    message: str
    errors: list[str] = absent_key("Validation errors: every problem found, one sentence each")
    details: dict[str, Any] = absent_key(
        "For bad input: `field` and, when it has one, `valid_range`"
    )
    running_batch_ids: list[str] = absent_key("A refused start: the batches that are running")


class Health(BaseModel):
    """Liveness (a plain model: `engine_refreshes` is absent when no engine runs here)."""

    status: str
    engine_refreshes: int = absent_key(
        "With the engine in this process: how many times it has re-read its pairs and "
        "settings since it started (a change saved before one reading is in force once this "
        "has grown by two)"
    )


class Invariants(Answer):
    """The batch-state invariants I1–I5 and what violates them."""

    ok: bool
    violations: list[str]


class DashboardNiche(Answer):
    """One niche's stories seen today against its daily target."""

    id: str
    name: str
    daily_story_target: int
    stories_today: int
    profile_count: int
    checked_today: bool = Field(
        description="Some account of the niche was checked since midnight (UTC); false: its"
        " 0 stories today is unknown, not 'no story'"
    )
    seen_today: bool = Field(
        description="Some check of the niche since midnight (UTC) could see whether the account"
        " had a story (a story, or a proven 'no story'); false: its 0 stories today is unknown"
        " even if accounts were checked (e.g. private ones no session follows)"
    )


class MinuteChecks(Answer):
    """Checks finished in one minute."""

    minute: datetime
    checks: int


class PoolBatch(Answer):
    """A running batch as the pool sees it: why it waits, whether it stalled, its ETA."""

    id: str
    niche_id: str
    waiting_reason: str | None
    waiting_code: str | None
    waiting_until: datetime | None
    stalled: bool
    stalled_since: datetime | None
    eta_seconds: int | None
    eta_range_seconds: list[int] | None
    eta_bound_by: str | None


class Pool(Answer):
    """What holds the pairs, the budgets left, and the running batches (batches/progress.py)."""

    pairs: int
    ready: int
    usable: int
    next_ready_at: datetime | None
    lookups_left: int
    requests_left: int
    lookups_per_hour: int
    requests_per_hour: int
    summary: str
    waiting_reason: str | None
    running_batches: list[PoolBatch]


class Dashboard(Answer):
    """Stories today per niche, checks per minute, pairs per health, the pool's summary."""

    niches: list[DashboardNiche]
    throughput: list[MinuteChecks]
    pairs: dict[str, int] = Field(description="pair health → number of pairs")
    pool: Pool


class OpenAPIDocument(BaseModel):
    """This document (OpenAPI 3.0)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any] = absent_key()
