"""Alert channels: check a body (`AlertChannelInput`) against the database and the channel's
kind, store secrets encrypted, show them masked."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storycheck.alerts.models import AlertChannel
from storycheck.alerts.schemas import AlertChannelInput
from storycheck.crypto import SecretBox
from storycheck.db import iso
from storycheck.errors import Conflict, NotFound, ValidationError
from storycheck.niches.models import Niche

EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
SECRET_MASK = "…"  # like a proxy password: not even a few characters are shown
SECURITY_MODES = ("starttls", "ssl", "none")
TEMPLATE_FIELDS = ("text", "content")  # Slack reads `text`, Discord `content`
DEFAULT_RATE_LIMIT = 30


@dataclass(frozen=True)
class ChannelSpec:
    """Everything a sender needs, secret decrypted; never serialised or logged."""

    id: str
    name: str
    kind: str
    config: Mapping[str, Any]
    secret: str | None = field(repr=False)
    rate_limit_per_minute: int

    @property
    def timeout(self) -> float:
        """Seconds a send may take before it counts as failed."""
        return float(self.config.get("timeout_seconds", 10))

    @property
    def max_attempts(self) -> int:
        """Attempts before a delivery is marked failed."""
        return int(self.config.get("max_attempts", 6))

    @property
    def digest_minutes(self) -> int:
        """Email only: send one digest every N minutes instead of one message per event."""
        return int(self.config.get("digest_minutes", 0)) if self.kind == "email" else 0


def load_spec(channel: AlertChannel, secrets: SecretBox) -> ChannelSpec:
    """The sendable form of a stored channel."""
    secret = secrets.decrypt(channel.secret_encrypted) if channel.secret_encrypted else None
    return ChannelSpec(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        config=json.loads(channel.config),
        secret=secret,
        rate_limit_per_minute=channel.rate_limit_per_minute,
    )


def channel_to_dict(channel: AlertChannel) -> dict[str, Any]:
    """The channel object of the API; the secret is only ever shown as `…`."""
    return {
        "id": channel.id,
        "name": channel.name,
        "kind": channel.kind,
        "enabled": channel.enabled,
        "event_types": json.loads(channel.event_types),
        "niche_ids": json.loads(channel.niche_ids),
        "rate_limit_per_minute": channel.rate_limit_per_minute,
        "config": json.loads(channel.config),
        "secret": SECRET_MASK if channel.secret_encrypted else None,
        "created_at": iso(channel.created_at),
        "updated_at": iso(channel.updated_at),
    }


def list_channels(session: Session) -> list[dict[str, Any]]:
    """Every channel, by name."""
    rows = session.scalars(select(AlertChannel).order_by(AlertChannel.name)).all()
    return [channel_to_dict(c) for c in rows]


def get_channel(session: Session, channel_ref: str) -> AlertChannel:
    """A channel by id or by name, or a 404."""
    channel = session.get(AlertChannel, channel_ref) or session.scalar(
        select(AlertChannel).where(AlertChannel.name == channel_ref)
    )
    if channel is None:
        raise NotFound(f"Alert channel {channel_ref} not found")
    return channel


def create_channel(session: Session, data: Mapping[str, Any], secrets: SecretBox) -> AlertChannel:
    """Validate (through `AlertChannelInput`) and store a new channel."""
    body = AlertChannelInput.model_validate(data)
    if body.kind is None:
        raise ValidationError(
            "kind must be webhook or email",
            details={"field": "kind", "valid_range": "webhook, email"},
        )
    channel = AlertChannel(kind=body.kind, enabled=True, event_types="[]", niche_ids="[]",
                           config="{}", rate_limit_per_minute=DEFAULT_RATE_LIMIT)
    _apply(session, channel, body, secrets, creating=True)
    session.add(channel)
    session.flush()
    return channel


def update_channel(
    session: Session, channel_id: str, data: Mapping[str, Any], secrets: SecretBox
) -> AlertChannel:
    """Apply a partial update (`config` keys are merged; `secret: null` removes the secret)."""
    body = AlertChannelInput.model_validate(data)
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound(f"Alert channel {channel_id} not found")
    if "kind" in body.model_fields_set and body.kind != channel.kind:
        raise ValidationError("A channel's kind cannot change; create a new channel",
                              details={"field": "kind"})
    _apply(session, channel, body, secrets, creating=False)
    session.flush()
    return channel


def delete_channel(session: Session, channel_id: str) -> None:
    """Delete a channel and its deliveries."""
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound(f"Alert channel {channel_id} not found")
    session.delete(channel)
    session.flush()


def _apply(
    session: Session,
    channel: AlertChannel,
    body: AlertChannelInput,
    secrets: SecretBox,
    *,
    creating: bool,
) -> None:
    given = body.model_fields_set
    if creating or "name" in given:
        if body.name is None:
            raise ValidationError("name is required", details={"field": "name"})
        clash = session.scalar(
            select(AlertChannel.id).where(AlertChannel.name == body.name,
                                          AlertChannel.id != (channel.id or ""))
        )
        if clash:
            raise Conflict(f"An alert channel named {body.name} exists", code="duplicate")
        channel.name = body.name
    if body.enabled is not None:
        channel.enabled = body.enabled
    if body.event_types is not None:
        channel.event_types = json.dumps(body.event_types)
    if body.niche_ids is not None:
        channel.niche_ids = json.dumps(_existing_niches(session, body.niche_ids))
    if body.rate_limit_per_minute is not None:
        channel.rate_limit_per_minute = body.rate_limit_per_minute
    if creating or "config" in given:
        merged = {**json.loads(channel.config or "{}"), **body.config}
        clean = clean_webhook(merged) if channel.kind == "webhook" else clean_email(merged)
        channel.config = json.dumps(clean)
    secret_key = "secret" if "secret" in given else "password" if "password" in given else None
    if secret_key is not None:
        value = body.secret if secret_key == "secret" else body.password
        channel.secret_encrypted = secrets.encrypt(value) if value is not None else None


def clean_url(value: object) -> str:
    """An absolute http(s) URL, or a 400 saying what is wrong with it."""
    problem = "url must be an absolute http:// or https:// address"
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url is required", details={"field": "url"})
    url = value.strip()
    if len(url) > 2000:
        raise ValidationError("url is longer than 2000 characters", details={"field": "url"})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError("url must not contain spaces or control characters",
                              details={"field": "url"})
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{problem} (the port is not valid)",
                              details={"field": "url"}) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(f"{problem}; got scheme {parts.scheme or 'none'}",
                              details={"field": "url"})
    if not parts.hostname:
        raise ValidationError(f"{problem} with a host name", details={"field": "url"})
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url must not contain credentials; use the channel's secret",
                              details={"field": "url"})
    if port == 0:
        raise ValidationError(f"{problem} (port 0)", details={"field": "url"})
    return url


def clean_webhook(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stored config of a webhook channel."""
    clean: dict[str, Any] = {
        "url": clean_url(config.get("url")),
        "timeout_seconds": _number(config.get("timeout_seconds", 10), "timeout_seconds", 0.1, 60),
        "max_attempts": _int(config.get("max_attempts", 6), "max_attempts", 1, 20),
        "template": None,
        "template_field": "text",
    }
    template = config.get("template")
    if template not in (None, ""):
        if not isinstance(template, str) or len(template) > 2000:
            raise ValidationError("template must be a string of at most 2000 characters",
                                  details={"field": "template"})
        clean["template"] = template
    template_field = config.get("template_field") or "text"
    if template_field not in TEMPLATE_FIELDS:
        raise ValidationError("template_field must be text or content",
                              details={"field": "template_field", "valid_range": "text, content"})
    clean["template_field"] = template_field
    return clean


def clean_email(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stored config of an email (SMTP) channel; the password is the channel's secret."""
    host = config.get("host")
    if not isinstance(host, str) or not host.strip() or len(host) > 255 or " " in host.strip():
        raise ValidationError("host (the SMTP server) is required", details={"field": "host"})
    security = config.get("security", "starttls")
    if security not in SECURITY_MODES:
        raise ValidationError("security must be starttls, ssl or none",
                              details={"field": "security", "valid_range": "starttls, ssl, none"})
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    username = config.get("username")
    if username is not None and (not isinstance(username, str) or len(username) > 255):
        raise ValidationError("username must be a string", details={"field": "username"})
    from_address = config.get("from_address")
    if not isinstance(from_address, str) or not EMAIL_RE.match(from_address.strip()):
        raise ValidationError("from_address must be an email address",
                              details={"field": "from_address"})
    to = config.get("to") or []
    if isinstance(to, str):
        to = [part for part in re.split(r"[,;\s]+", to) if part]
    if not isinstance(to, list) or len(to) > 50 or not all(
        isinstance(a, str) and EMAIL_RE.match(a) for a in to
    ):
        raise ValidationError(
            "to must be a list of email addresses (empty: the notification_email setting)",
            details={"field": "to"},
        )
    return {
        "host": host.strip(),
        "port": _int(config.get("port", default_port), "port", 1, 65535),
        "security": security,
        "username": username.strip() if isinstance(username, str) and username.strip() else None,
        "from_address": from_address.strip(),
        "to": to,
        "digest_minutes": _int(config.get("digest_minutes", 0), "digest_minutes", 0, 1440),
        "timeout_seconds": _number(config.get("timeout_seconds", 10), "timeout_seconds", 0.1, 60),
        "max_attempts": _int(config.get("max_attempts", 6), "max_attempts", 1, 20),
    }


def _existing_niches(session: Session, wanted: list[str]) -> list[str]:
    known = set(session.scalars(select(Niche.id).where(Niche.id.in_(wanted)))) if wanted else set()
    missing = [v for v in wanted if v not in known]
    if missing:
        raise ValidationError(f"Niche {missing[0]} not found", details={"field": "niche_ids"})
    return wanted


def _int(value: object, name: str, low: int, high: int) -> int:
    number = _number(value, name, low, high)
    if not float(number).is_integer():
        raise ValidationError(f"{name} must be an integer", details={"field": name})
    return int(number)


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number", details={"field": name})
    if not low <= value <= high:
        raise ValidationError(f"{name} must be within {low:g}-{high:g}",
                              details={"field": name, "valid_range": f"{low:g}-{high:g}"})
    return float(value)
