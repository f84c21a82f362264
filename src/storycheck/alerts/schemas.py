"""Alert bodies and answers: channels, events, deliveries.

`AlertChannelInput` documents what the channel routes accept; `alerts/channels.py` checks it
(the rules differ per kind and a partial update merges `config` keys).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from storycheck.alerts.models import CHANNEL_KINDS, DELIVERY_STATUSES, EVENT_TYPES
from storycheck.fields import Answer, Body, Choice

ChannelKind = Annotated[str, Choice(CHANNEL_KINDS)]
EventTypeName = Annotated[str, Choice(EVENT_TYPES)]
CONFIG_HELP = (
    "webhook: url, timeout_seconds, max_attempts, template, template_field; "
    "email: host, port, security, username, from_address, to, digest_minutes, "
    "timeout_seconds, max_attempts"
)


class AlertChannelInput(Body):
    """A channel to create, or the fields of one to change."""

    name: str | None = None
    kind: ChannelKind | None = None
    enabled: bool | None = None
    event_types: list[EventTypeName] | None = None
    niche_ids: list[str] | None = None
    rate_limit_per_minute: int | None = None
    config: dict[str, Any] | None = Field(default=None, description=CONFIG_HELP)
    secret: str | None = Field(default=None, description="null removes the secret")
    password: str | None = Field(default=None, description="the email server's password")


class AlertChannel(Answer):
    """A webhook or email channel (its secret only ever shown as `…`)."""

    id: str
    name: str
    kind: ChannelKind
    enabled: bool
    event_types: list[EventTypeName]
    niche_ids: list[str]
    rate_limit_per_minute: int
    config: dict[str, Any] = Field(description=CONFIG_HELP)
    secret: str | None = Field(description="always `…` when set")
    created_at: datetime | None
    updated_at: datetime | None


class AlertTestResult(Answer):
    """A test message was sent."""

    ok: bool
    event_id: str
    channel_id: str


class AlertEvent(Answer):
    """Something an alert can be about (also the body of a webhook)."""

    id: str
    type: EventTypeName
    created_at: datetime
    niche_id: str | None
    subject_id: str | None
    summary: str
    payload: dict[str, Any]


class AlertEventList(Answer):
    """The latest events, newest first."""

    events: list[AlertEvent]


class AlertDelivery(Answer):
    """One event sent (or to be sent) to one channel."""

    id: str
    event_id: str
    event_type: EventTypeName
    event_summary: str
    channel_id: str
    channel_name: str
    status: Annotated[str, Choice(DELIVERY_STATUSES)]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class AlertDeliveryPage(Answer):
    """A page of the delivery log, newest first."""

    deliveries: list[AlertDelivery]
    total: int
    limit: int
    offset: int
