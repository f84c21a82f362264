"""Alert bodies and answers: channels, events, deliveries.

`AlertChannelInput` checks a channel body's fields (`alerts/channels.py` validates each body
through it); what needs the database or the channel's kind stays in `alerts/channels.py`: a
name already taken, niches that exist, and the `config` keys of a webhook or an email channel,
which a partial update merges with the stored ones before they are checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from storycheck.alerts.models import CHANNEL_KINDS, DELIVERY_STATUSES, EVENT_TYPES
from storycheck.errors import ValidationError
from storycheck.fields import Answer, Body, Choice, Cleaned, Flag, Number, Text

ChannelKind = Annotated[str, Choice(CHANNEL_KINDS)]
EventTypeName = Annotated[str, Choice(EVENT_TYPES)]
CONFIG_HELP = (
    "webhook: url, timeout_seconds, max_attempts, template, template_field; "
    "email: host, port, security, username, from_address, to, digest_minutes, "
    "timeout_seconds, max_attempts"
)
SECRET_MAX_LENGTH = 1000


def clean_event_types(value: object) -> list[str]:
    """Known event types, sorted and without repeats; a 400 naming an unknown one."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("event_types must be a list of event types",
                              details={"field": "event_types"})
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            f"Unknown event type {unknown[0]}",
            details={"field": "event_types", "valid_range": ", ".join(EVENT_TYPES)},
        )
    return sorted(set(value))


def clean_niche_ids(value: object) -> list[str]:
    """A list of niche ids, sorted and without repeats (whether they exist is checked later)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 36 for v in value):
        raise ValidationError("niche_ids must be a list of niche ids",
                              details={"field": "niche_ids"})
    return sorted(set(value))


def clean_secret(value: object) -> str | None:
    """A channel's secret (null or "" removes it); never repeated in an error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > SECRET_MAX_LENGTH:
        raise ValidationError(
            f"secret must be a string of at most {SECRET_MAX_LENGTH} characters",
            details={"field": "secret"},
        )
    return value


Secret = Annotated[str | None, Cleaned(clean_secret, str | None)]


class AlertChannelInput(Body):
    """A channel to create, or the fields of one to change (absent keys stay as they are)."""

    name: Annotated[str | None, Text(max_length=100)] = None
    kind: Annotated[str | None, Choice(CHANNEL_KINDS)] = None
    enabled: Annotated[bool | None, Flag(strict=True)] = None
    event_types: Annotated[list[str] | None, Cleaned(clean_event_types, list[EventTypeName])] = None
    niche_ids: Annotated[list[str] | None, Cleaned(clean_niche_ids, list[str])] = None
    rate_limit_per_minute: Annotated[int | None, Number(0, 10_000)] = None
    config: dict[str, Any] = Field(default_factory=dict, description=CONFIG_HELP)
    secret: Secret = Field(default=None, description="null removes the secret")
    password: Secret = Field(default=None, description="the email server's password")


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
