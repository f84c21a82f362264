"""Niche: a named group of profiles with a daily target of accounts with stories."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, new_id, utcnow


class Niche(Base):
    """A niche groups profiles; batches always belong to one niche."""

    __tablename__ = "niches"
    __table_args__ = (CheckConstraint("daily_story_target >= 0", name="target_non_negative"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    order: Mapped[int] = mapped_column(Integer, default=0, index=True)
    daily_story_target: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
