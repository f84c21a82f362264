"""The single row of system settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, utcnow
from storycheck.settings.schemas import DEFAULT_SETTINGS as D


class SystemSettings(Base):
    """Tunables of the engine and the scheduler; exactly one row, id 1 (defaults: schemas.py)."""

    __tablename__ = "system_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    profiles_per_minute: Mapped[int] = mapped_column(Integer, default=D.profiles_per_minute)
    max_threads: Mapped[int] = mapped_column(Integer, default=D.max_threads)
    max_concurrent_batches: Mapped[int] = mapped_column(Integer, default=D.max_concurrent_batches)
    default_batch_size: Mapped[int] = mapped_column(Integer, default=D.default_batch_size)
    story_retention_hours: Mapped[int] = mapped_column(Integer, default=D.story_retention_hours)
    auto_trigger_enabled: Mapped[bool] = mapped_column(Boolean, default=D.auto_trigger_enabled)
    min_trigger_interval: Mapped[int] = mapped_column(Integer, default=D.min_trigger_interval)
    proxy_test_timeout: Mapped[int] = mapped_column(Integer, default=D.proxy_test_timeout)
    proxy_max_failures: Mapped[int] = mapped_column(Integer, default=D.proxy_max_failures)
    proxy_hourly_limit: Mapped[int] = mapped_column(Integer, default=D.proxy_hourly_limit)
    lookup_hourly_limit: Mapped[int] = mapped_column(Integer, default=D.lookup_hourly_limit)
    min_request_interval: Mapped[float] = mapped_column(Float, default=D.min_request_interval)
    reel_ids_per_request: Mapped[int] = mapped_column(Integer, default=D.reel_ids_per_request)
    max_attempts: Mapped[int] = mapped_column(Integer, default=D.max_attempts)
    request_jitter: Mapped[float] = mapped_column(Float, default=D.request_jitter)
    action_block_cooldown_hours: Mapped[float] = mapped_column(Float, default=D.action_block_cooldown_hours)
    not_found_recheck_days: Mapped[int] = mapped_column(Integer, default=D.not_found_recheck_days)
    dense_doc_id: Mapped[str] = mapped_column(String(64), default=D.dense_doc_id)
    notifications_enabled: Mapped[bool] = mapped_column(Boolean, default=D.notifications_enabled)
    notification_email: Mapped[str | None] = mapped_column(String(255), default=D.notification_email)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
