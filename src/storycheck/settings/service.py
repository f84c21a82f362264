"""The settings row: read (created on first use), validate and apply partial updates.

Defaults, ranges and the body's spellings live in `settings/schemas.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storycheck.db import iso
from storycheck.settings.models import SystemSettings
from storycheck.settings.schemas import SETTING_NAMES, parse_update


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
    """The settings object of the API (schema `Settings`): every setting, `id`, timestamps."""
    payload: dict[str, Any] = {"id": row.id}
    for name in SETTING_NAMES:
        payload[name] = getattr(row, name)
    payload["created_at"] = iso(row.created_at)
    payload["updated_at"] = iso(row.updated_at)
    return payload


def update_settings(session: Session, *, changes: Mapping[str, Any]) -> SystemSettings:
    """Validate every given setting and apply them together, or change nothing.

    The body's rules (camelCase, ignored keys and nulls, milliseconds) are `SettingsUpdate`'s;
    an invalid value raises pydantic's ValidationError, which the API answers with a 400.
    """
    clean = parse_update(changes)
    row = get_settings(session)
    for name, value in clean.items():
        setattr(row, name, value)
    session.flush()
    return row
