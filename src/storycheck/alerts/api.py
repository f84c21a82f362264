"""Alerts routes: channels (with "Send test"), the delivery log (with "retry now"), events."""

from __future__ import annotations

from flask import Blueprint, Response, request
from sqlalchemy import func, select

from storycheck.alerts import channels as service
from storycheck.alerts.delivery import delivery_rows, retry_now, send_test
from storycheck.alerts.events import event_to_dict, latest_events
from storycheck.alerts.models import (
    DELIVERY_STATUSES,
    EVENT_TYPES,
    AlertChannel,
    AlertDelivery,
    AlertEvent,
)
from storycheck.alerts.senders import SendError
from storycheck.db import utcnow
from storycheck.errors import NotFound, StorycheckError, ValidationError
from storycheck.settings.service import get_settings
from storycheck.web.context import services
from storycheck.web.http import json_body, no_content, ok, query_int

bp = Blueprint("alerts", __name__, url_prefix="/api/alerts")


class DeliveryFailed(StorycheckError):
    """A test message was not accepted by the channel's receiver."""

    status_code = 502
    code = "delivery_failed"


@bp.get("/channels")
def list_channels() -> Response:
    """Every alert channel (secrets masked)."""
    with services().db.read() as session:
        return ok(service.list_channels(session))


@bp.post("/channels")
def create_channel() -> Response:
    """Create a webhook or email channel."""
    data = json_body()
    with services().db.write() as session:
        channel = service.create_channel(session, data, services().secrets)
        payload = service.channel_to_dict(channel)
    return ok(payload, 201)


@bp.put("/channels/<channel_id>")
def update_channel(channel_id: str) -> Response:
    """Change a channel (any subset of its fields; `config` keys are merged)."""
    data = json_body()
    with services().db.write() as session:
        channel = service.update_channel(session, channel_id, data, services().secrets)
        payload = service.channel_to_dict(channel)
    return ok(payload)


@bp.delete("/channels/<channel_id>")
def delete_channel(channel_id: str) -> Response:
    """Delete a channel and its delivery log."""
    with services().db.write() as session:
        service.delete_channel(session, channel_id)
    return no_content()


@bp.post("/channels/<channel_id>/test")
def test_channel(channel_id: str) -> Response:
    """Send a test message now; 502 `delivery_failed` says why it did not arrive."""
    with services().db.read() as session:
        channel = session.get(AlertChannel, channel_id)
        if channel is None:
            raise NotFound(f"Alert channel {channel_id} not found")
        spec = service.load_spec(channel, services().secrets)
        recipient = get_settings(session).notification_email
    try:
        event = send_test(spec, recipient, utcnow())
    except SendError as exc:
        raise DeliveryFailed(f"Test message not delivered: {exc}") from exc
    return ok({"ok": True, "event_id": event["id"], "channel_id": spec.id})


@bp.get("/deliveries")
def list_deliveries() -> Response:
    """The delivery log, newest first, filtered by status, channel or event type."""
    limit = query_int("limit", 50, minimum=1, maximum=500)
    offset = query_int("offset", 0, minimum=0)
    status = request.args.get("status") or None
    event_type = request.args.get("event_type") or None
    channel_id = request.args.get("channel_id") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationError(
            "Invalid parameter value: status",
            details={"field": "status", "valid_range": ", ".join(DELIVERY_STATUSES)},
        )
    if event_type is not None and event_type not in EVENT_TYPES:
        raise ValidationError(
            "Invalid parameter value: event_type",
            details={"field": "event_type", "valid_range": ", ".join(EVENT_TYPES)},
        )
    filters = []
    if status:
        filters.append(AlertDelivery.status == status)
    if channel_id:
        filters.append(AlertDelivery.channel_id == channel_id)
    if event_type:
        filters.append(AlertEvent.type == event_type)
    base = (
        select(AlertDelivery, AlertEvent, AlertChannel)
        .join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
        .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
        .where(*filters)
    )
    with services().db.read() as session:
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.execute(
            base.order_by(AlertDelivery.created_at.desc(), AlertDelivery.id)
            .limit(limit)
            .offset(offset)
        ).all()
        deliveries = delivery_rows([(d, e, c) for d, e, c in rows])
    return ok({"deliveries": deliveries, "total": total, "limit": limit, "offset": offset})


@bp.post("/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    """Make a failed (or waiting) delivery due now; a delivered one stays as it is."""
    with services().db.write() as session:
        delivery = retry_now(session, delivery_id, utcnow())
        if delivery is None:
            raise NotFound(f"Delivery {delivery_id} not found")
        row = session.execute(
            select(AlertDelivery, AlertEvent, AlertChannel)
            .join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
            .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
            .where(AlertDelivery.id == delivery_id)
        ).one()
        payload = delivery_rows([(row[0], row[1], row[2])])[0]
    return ok(payload)


@bp.get("/events")
def list_events() -> Response:
    """The latest events, newest first (the header bell)."""
    limit = query_int("limit", 20, minimum=1, maximum=200)
    event_type = request.args.get("type") or None
    if event_type is not None and event_type not in EVENT_TYPES:
        raise ValidationError(
            "Invalid parameter value: type",
            details={"field": "type", "valid_range": ", ".join(EVENT_TYPES)},
        )
    with services().db.read() as session:
        events = [
            event_to_dict(e) for e in latest_events(session, limit=limit, event_type=event_type)
        ]
    return ok({"events": events})
