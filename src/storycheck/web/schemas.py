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


class Health(Answer):
    """Liveness."""

    status: str


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


class MinuteChecks(Answer):
    """Checks finished in one minute."""

    minute: datetime
    checks: int


class Dashboard(Answer):
    """Stories today per niche, checks per minute over the last hour, pairs per health."""

    niches: list[DashboardNiche]
    throughput: list[MinuteChecks]
    pairs: dict[str, int] = Field(description="pair health → number of pairs")


class OpenAPIDocument(BaseModel):
    """This document (OpenAPI 3.0)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any] = absent_key()
