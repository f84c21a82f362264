"""Batch, its items (one per profile) and its log.

Only `storycheck.batches.state` writes `Batch.status` and `Batch.queue_position`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from storycheck.db import Base, new_id, partial, utcnow


class BatchStatus(enum.StrEnum):
    """Where a batch is in its life; see the state machine in `batches/state.py`."""

    QUEUED = "queued"  # waiting in the queue at position 1..n; 1 runs next
    IN_PROGRESS = "in_progress"  # running; holds position 0
    PAUSED = "paused"  # stopped by the user, progress kept; no position
    DONE = "done"  # every item has a final outcome; no position


class ItemStatus(enum.StrEnum):
    """Where one profile of a batch is."""

    PENDING = "pending"  # waiting to be checked
    IN_FLIGHT = "in_flight"  # leased to a request; returns to pending if the lease is lost
    COMPLETED = "completed"  # checked: has_story tells the answer
    FAILED = "failed"  # gave up: `error` tells why


FINAL_ITEM_STATUSES = (ItemStatus.COMPLETED.value, ItemStatus.FAILED.value)


class FailureKind(enum.StrEnum):
    """Why a failed item failed (`batch_profiles.failure_kind`)."""

    NOT_FOUND = "not_found"  # two pairs confirmed the account does not exist: an answer
    UNAVAILABLE = "unavailable"  # Instagram cannot show the profile (no retry)
    TRANSIENT = "transient"  # the check could not be made (unknown); a retry may answer


# What one item's check says about its account's story (a batch's results and their exports):
# `story` / `no_story` are answers, and so is `not_found` (two pairs confirmed the account does
# not exist); everything else is `unknown`, with why: `private` (a private account no session
# follows), `failed` (the check could not be made), `not_checked` (not yet).
ITEM_ANSWERS = ("story", "no_story", "unknown", "not_found")
ITEM_UNKNOWN_REASONS = ("private", "failed", "not_checked")


def item_answer(outcome: str, failure_kind: str | None) -> tuple[str, str | None]:
    """`(answer, unknown_reason)` of an item's outcome (story | no_story | private | failed |
    pending) and failure kind, in the words of ITEM_ANSWERS and ITEM_UNKNOWN_REASONS."""
    if outcome in ("story", "no_story"):
        return outcome, None
    if outcome == "failed":
        if failure_kind == FailureKind.NOT_FOUND.value:
            return "not_found", None
        return "unknown", "failed"
    return "unknown", "private" if outcome == "private" else "not_checked"


class Batch(Base):
    """A set of profiles of one niche to check once, run through the queue."""

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'in_progress', 'paused', 'done')", name="status_valid"
        ),
        # The database agrees with the state machine: running ⇔ position 0, queued ⇔ ≥ 1,
        # paused/done ⇔ no position.
        CheckConstraint(
            "(status = 'in_progress' AND queue_position = 0)"
            " OR (status = 'queued' AND queue_position >= 1)"
            " OR (status IN ('paused', 'done') AND queue_position IS NULL)",
            name="position_matches_status",
        ),
        Index("ix_batches_status_position", "status", "queue_position"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    niche_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("niches.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.QUEUED.value)
    queue_position: Mapped[int | None] = mapped_column(Integer)
    total_profiles: Mapped[int] = mapped_column(Integer, default=0)
    completed_profiles: Mapped[int] = mapped_column(Integer, default=0)
    successful_checks: Mapped[int] = mapped_column(Integer, default=0)
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    # Completed items whose account is private and not followed by the checking session.
    private_profiles: Mapped[int] = mapped_column(Integer, default=0)
    # Failed items whose account two pairs confirmed does not exist (part of failed_checks).
    not_found_profiles: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # The first STORY_PREVIEW_LIMIT usernames with a story, as a JSON list, written with the
    # counters: the batch list shows them without reading per-profile rows.
    story_preview: Mapped[str | None] = mapped_column(Text)


STORY_PREVIEW_LIMIT = 50


class BatchProfile(Base):
    """One profile inside one batch: the unit of work the engine leases and records."""

    __tablename__ = "batch_profiles"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'in_flight', 'completed', 'failed')", name="status_valid"
        ),
        UniqueConstraint("batch_id", "profile_id", name="uq_batch_profiles_batch_profile"),
        Index("ix_batch_profiles_batch_status", "batch_id", "status"),
        # Partial indexes (migration 0015): a new pending item has no lease, owner or
        # processing time, so creating a batch adds no entry to them. Every query that uses
        # one repeats its condition or implies it (`status = 'in_flight'`; a comparison or
        # IN on the column implies IS NOT NULL); tests/batches/test_item_indexes.py checks the
        # plans on both databases.
        Index(
            "ix_batch_profiles_in_flight_lease",
            "lease_expires_at",
            **partial("status = 'in_flight'"),
        ),
        Index(
            "ix_batch_profiles_lease_owner",
            "lease_owner",
            **partial("lease_owner IS NOT NULL"),
        ),
        Index(
            "ix_batch_profiles_processed_at",
            "processed_at",
            **partial("processed_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(String(36), ForeignKey("batches.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    proxy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="SET NULL")
    )
    session_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PENDING.value)
    has_story: Mapped[bool] = mapped_column(Boolean, default=False)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    latest_story_at: Mapped[datetime | None]
    story_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(255))
    # completed: 'story' | 'no_story' | 'private' (unknown: private, not followed); else NULL.
    outcome: Mapped[str | None] = mapped_column(String(20))
    # failed: 'not_found' | 'unavailable' | 'transient'; `error` keeps the sentence.
    failure_kind: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None]
    # The `storycheck worker` holding the lease (NULL in one process): when its heartbeat
    # stops, any live process returns its items at once (distributed/liveness.py).
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    # The pair whose lookup first said "no such user" (a different pair confirms it), saved
    # at once so a worker's death does not cost the lookup again (migration 0012).
    not_found_by: Mapped[str | None] = mapped_column(String(36))
    processed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)


def grouped_batch_id(session: Session) -> Any:
    """`batch_profiles.batch_id` for a GROUP BY over the few rows a partial index finds.

    SQLite's planner, left alone (no statistics), groups by walking every item of
    `ix_batch_profiles_batch_status` to avoid a sort; `+batch_id` takes that index out of
    the question, so it reads the partial index's rows and sorts those.
    """
    if session.get_bind().dialect.name == "sqlite":
        return literal_column("+batch_profiles.batch_id")
    return BatchProfile.batch_id


class BatchLog(Base):
    """One event in a batch's history (state changes, progress, findings, errors)."""

    __tablename__ = "batch_logs"
    __table_args__ = (
        Index("ix_batch_logs_batch_time", "batch_id", "timestamp"),
        Index("ix_batch_logs_batch_type", "batch_id", "event_type"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(String(36), ForeignKey("batches.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    event_type: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(String(500))
    profile_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("profiles.id", ondelete="SET NULL")
    )
    proxy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="SET NULL")
    )
