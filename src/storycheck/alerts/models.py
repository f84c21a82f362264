"""Alerts: the events that happened, the channels that hear about them, one delivery per pair.

An event is written in the transaction of the fact it reports (`events.record_event`); the
delivery loop fans it out to the channels that want it (one `alert_deliveries` row per event
and channel, unique) and sends each under a lease, like the engine's work items.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, new_id, utcnow


class EventType(enum.StrEnum):
    """What an alert can be about."""

    STORY_DETECTED = "story.detected"
    NICHE_TARGET_REACHED = "niche.target_reached"
    BATCH_COMPLETED = "batch.completed"
    BATCH_STALLED = "batch.stalled"
    PAIR_NEEDS_ATTENTION = "pair.needs_attention"


EVENT_TYPES = tuple(t.value for t in EventType)


class DeliveryStatus(enum.StrEnum):
    """Where one delivery (an event to a channel) is."""

    PENDING = "pending"  # due at `next_attempt_at`
    IN_FLIGHT = "in_flight"  # leased to a sender; back to due when the lease expires
    DELIVERED = "delivered"  # the receiver accepted it (alone or inside a digest)
    FAILED = "failed"  # gave up after the channel's attempts; "retry now" re-queues it


DELIVERY_STATUSES = tuple(s.value for s in DeliveryStatus)
CHANNEL_KINDS = ("webhook", "email")


class AlertEvent(Base):
    """One fact worth telling someone about; `dedupe_key` makes recording it idempotent."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON object
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    niche_id: Mapped[str | None] = mapped_column(String(36), index=True)  # for channel filters
    # What the event is about: a profile, batch or proxy id (counts "accounts with a story").
    subject_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set when the delivery rows of this event were created (NULL: the loop still has to).
    fanned_out_at: Mapped[datetime | None] = mapped_column(index=True)


class AlertChannel(Base):
    """Where alerts go: a webhook URL or an SMTP mailbox, with its filters and limits."""

    __tablename__ = "alert_channels"
    __table_args__ = (CheckConstraint("kind IN ('webhook', 'email')", name="kind_valid"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event_types: Mapped[str] = mapped_column(Text, default="[]")  # JSON list; empty = all
    niche_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list; empty = all
    config: Mapped[str] = mapped_column(Text, default="{}")  # JSON object, never a secret
    # The webhook signing secret or the SMTP password, Fernet-encrypted (crypto.SecretBox).
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertDelivery(Base):
    """One event to one channel: claimed under a lease, marked delivered under the same token."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel_id", name="uq_alert_deliveries_event_channel"),
        CheckConstraint(
            "status IN ('pending', 'in_flight', 'delivered', 'failed')", name="status_valid"
        ),
        Index("ix_alert_deliveries_due", "channel_id", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("alert_channels.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None]
    # One id per message sent; the deliveries of a digest share it (the rate limit counts these).
    message_id: Mapped[str | None] = mapped_column(String(36))
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
