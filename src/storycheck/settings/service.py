"""The settings row: read (created on first use), validate and apply partial updates."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storycheck.errors import ValidationError
from storycheck.settings.models import SystemSettings
from storycheck.web.http import iso

EMAIL_RE = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")


@dataclass(frozen=True)
class SettingField:
    """One editable setting: its type and allowed range."""

    name: str
    kind: str  # "int", "float", "bool", "email" or "digits" (a string of digits, "" = off)
    minimum: float | None = None
    maximum: float | None = None

    @property
    def valid_range(self) -> str:
        """The allowed values as text, for error details."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "email":
            return "an email address or null"
        if self.kind == "digits":
            return "digits only, or empty for off"
        low = _number_text(self.minimum)
        return f"{low}-{_number_text(self.maximum)}" if self.maximum is not None else f">={low}"


FIELDS: dict[str, SettingField] = {
    f.name: f
    for f in (
        SettingField("profiles_per_minute", "int", 0, 100_000),
        SettingField("max_threads", "int", 1, 256),
        SettingField("max_concurrent_batches", "int", 1, 20),
        SettingField("default_batch_size", "int", 1, 100_000),
        SettingField("story_retention_hours", "int", 1, 720),
        SettingField("auto_trigger_enabled", "bool"),
        SettingField("min_trigger_interval", "int", 1, 1440),
        SettingField("proxy_test_timeout", "int", 1, 120),
        SettingField("proxy_max_failures", "int", 1, 100),
        SettingField("proxy_hourly_limit", "int", 1, 100_000),
        SettingField("lookup_hourly_limit", "int", 1, 100_000),
        SettingField("min_request_interval", "float", 0, 3600),
        SettingField("reel_ids_per_request", "int", 1, 50),
        SettingField("max_attempts", "int", 1, 10),
        SettingField("request_jitter", "float", 0, 0.9),
        SettingField("action_block_cooldown_hours", "float", 0.5, 72),
        SettingField("not_found_recheck_days", "int", 1, 365),
        SettingField("dense_doc_id", "digits", 0, 64),
        SettingField("notifications_enabled", "bool"),
        SettingField("notification_email", "email"),
    )
}

# The original client's camelCase names. `storiesPerDay` is a per-niche target (Niche
# `daily_story_target`), so it is accepted and ignored here like every unknown key.
CAMEL_CASE = {
    "profilesPerMinute": "profiles_per_minute",
    "threadCount": "max_threads",
    "maxThreads": "max_threads",
    "maxConcurrentBatches": "max_concurrent_batches",
    "defaultBatchSize": "default_batch_size",
    "storyRetentionHours": "story_retention_hours",
    "autoTriggerEnabled": "auto_trigger_enabled",
    "minTriggerInterval": "min_trigger_interval",
    "proxyTestTimeout": "proxy_test_timeout",
    "proxyMaxFailures": "proxy_max_failures",
    "proxyHourlyLimit": "proxy_hourly_limit",
    "lookupHourlyLimit": "lookup_hourly_limit",
    "minRequestInterval": "min_request_interval",
    "reelIdsPerRequest": "reel_ids_per_request",
    "maxAttempts": "max_attempts",
    "requestJitter": "request_jitter",
    "actionBlockCooldownHours": "action_block_cooldown_hours",
    "notFoundRecheckDays": "not_found_recheck_days",
    "denseDocId": "dense_doc_id",
    "notificationsEnabled": "notifications_enabled",
    "notificationEmail": "notification_email",
}

# The original client keeps `proxyTestTimeout` in milliseconds (default 10000).
_MILLISECOND_KEYS = {"proxyTestTimeout"}


def get_settings(session: Session) -> SystemSettings:
    """The settings row (id 1), created with the defaults on first access."""
    row = session.get(SystemSettings, 1)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = SystemSettings(id=1)
            session.add(row)
    except IntegrityError:  # another request created it at the same moment
        row = session.get(SystemSettings, 1)
        if row is None:
            raise
    return row


def settings_to_dict(row: SystemSettings) -> dict[str, Any]:
    """The settings object of the API: every field plus `id` and timestamps."""
    payload: dict[str, Any] = {"id": row.id}
    for name in FIELDS:
        payload[name] = getattr(row, name)
    payload["created_at"] = iso(row.created_at)
    payload["updated_at"] = iso(row.updated_at)
    return payload


def update_settings(session: Session, *, changes: Mapping[str, Any]) -> SystemSettings:
    """Validate every given setting and apply them together, or change nothing.

    Keys may be snake_case or the original client's camelCase (snake_case wins when both are
    given); unknown keys, `id` and the timestamps are ignored; `null` means "unchanged"
    (the client sends NaN as null) except for `notification_email`, where it clears the address.
    """
    wanted: dict[str, Any] = {}
    from_snake: set[str] = set()
    for key, value in changes.items():
        name = CAMEL_CASE.get(key, key)
        if name not in FIELDS or (name in from_snake and key != name):
            continue  # unknown, read-only, or a camelCase twin of a snake_case key
        if value is None and FIELDS[name].kind != "email":
            continue
        if key in _MILLISECOND_KEYS and _is_number(value) and float(value) >= 1000:
            value = float(value) / 1000
        if key == name:
            from_snake.add(name)
        wanted[name] = value

    failures: list[tuple[SettingField, str]] = []
    clean: dict[str, Any] = {}
    for name, value in wanted.items():
        field = FIELDS[name]
        try:
            clean[name] = _coerce(field, value)
        except ValueError as exc:
            failures.append((field, str(exc)))
    if failures:
        first = failures[0][0]
        errors = [message for _, message in failures]
        raise ValidationError(
            f"Validation errors: {'; '.join(errors)}",
            errors=errors,
            details={"field": first.name, "valid_range": first.valid_range},
        )
    row = get_settings(session)
    for name, value in clean.items():
        setattr(row, name, value)
    session.flush()
    return row


def _coerce(field: SettingField, value: Any) -> Any:
    if field.kind == "bool":
        return _as_bool(field, value)
    if field.kind == "email":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or len(value) > 255 or not EMAIL_RE.match(value.strip()):
            raise ValueError("Invalid email format")
        return value.strip()
    if field.kind == "digits":
        return _as_digits(field, value)
    number = _as_number(field, value)
    if field.kind == "int":
        if not number.is_integer():
            raise ValueError(f"{field.name} must be an integer")
        number = int(number)
    if (field.minimum is not None and number < field.minimum) or (
        field.maximum is not None and number > field.maximum
    ):
        raise ValueError(f"{field.name} must be within {field.valid_range}")
    return number


def _as_number(field: SettingField, value: Any) -> float:
    noun = "an integer" if field.kind == "int" else "a number"
    if isinstance(value, bool):
        raise ValueError(f"{field.name} must be {noun}, not true/false")
    if isinstance(value, int) and abs(value) > 10**15:
        raise ValueError(f"{field.name} must be within {field.valid_range}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{field.name} must be {noun}") from None
    else:
        raise ValueError(f"{field.name} must be {noun}")
    if not math.isfinite(number):
        raise ValueError(f"{field.name} must be {noun}")
    return number


def _as_digits(field: SettingField, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{field.name} must be a string of digits (or empty)")
    text = value.strip()
    if text and (not text.isascii() or not text.isdigit() or len(text) > (field.maximum or 64)):
        raise ValueError(f"{field.name} must be a string of at most 64 digits (or empty)")
    return text


def _as_bool(field: SettingField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"{field.name} must be true or false")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)
