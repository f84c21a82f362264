"""StoryResult (one detection per batch item) and StoryWindow (an account's live story span)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, new_id, utcnow


class StoryResult(Base):
    """A detection, written in the same transaction as the item it belongs to.

    `batch_profile_id` is unique, so a duplicated or late answer can never add a second row.
    """

    __tablename__ = "story_results"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("batches.id", ondelete="CASCADE"), index=True
    )
    batch_profile_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("batch_profiles.id", ondelete="CASCADE"), unique=True
    )
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    story_count: Mapped[int] = mapped_column(Integer, default=1)
    screenshot_url: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoryWindow(Base):
    """One span of time during which an account had a live story, as the checks saw it.

    A window opens at the first check that sees a story and is extended by every later check
    that sees a story overlapping it (`stories.windows.record_sightings`). The account's story
    is live exactly while now < `expires_at` of its latest window.
    """

    __tablename__ = "story_windows"
    __table_args__ = (Index("ix_story_windows_profile_expires", "profile_id", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("profiles.id", ondelete="CASCADE")
    )
    # The batch of the first sight (null when a manual check opened the window).
    batch_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("batches.id", ondelete="SET NULL")
    )
    first_taken_at: Mapped[datetime | None]  # oldest live item's taken_at
    last_taken_at: Mapped[datetime | None]  # newest live item's taken_at
    expires_at: Mapped[datetime] = mapped_column(index=True)  # latest expiring_at
    item_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
