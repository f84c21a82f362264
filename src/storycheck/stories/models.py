"""StoryResult: one detected story, kept until it expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
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
