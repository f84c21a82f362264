"""The single row of system settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, utcnow


class SystemSettings(Base):
    """Tunables of the engine and the scheduler; exactly one row, id 1."""

    __tablename__ = "system_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    profiles_per_minute: Mapped[int] = mapped_column(Integer, default=0)
    max_threads: Mapped[int] = mapped_column(Integer, default=8)
    max_concurrent_batches: Mapped[int] = mapped_column(Integer, default=1)
    default_batch_size: Mapped[int] = mapped_column(Integer, default=100)
    story_retention_hours: Mapped[int] = mapped_column(Integer, default=24)
    auto_trigger_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    min_trigger_interval: Mapped[int] = mapped_column(Integer, default=60)
    proxy_test_timeout: Mapped[int] = mapped_column(Integer, default=10)
    proxy_max_failures: Mapped[int] = mapped_column(Integer, default=3)
    proxy_hourly_limit: Mapped[int] = mapped_column(Integer, default=150)
    lookup_hourly_limit: Mapped[int] = mapped_column(Integer, default=60)
    min_request_interval: Mapped[float] = mapped_column(Float, default=2.0)
    reel_ids_per_request: Mapped[int] = mapped_column(Integer, default=20)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    request_jitter: Mapped[float] = mapped_column(Float, default=0.4)
    action_block_cooldown_hours: Mapped[float] = mapped_column(Float, default=6.0)
    not_found_recheck_days: Mapped[int] = mapped_column(Integer, default=7)
    dense_doc_id: Mapped[str] = mapped_column(String(64), default="")
    notifications_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notification_email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
