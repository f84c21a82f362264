"""Settings routes: read and partially update the single settings row."""

from __future__ import annotations

from flask import Blueprint, Response

from storycheck.settings import service
from storycheck.web.context import services
from storycheck.web.http import json_body, ok

bp = Blueprint("settings", __name__, url_prefix="/api/settings")


@bp.get("")
def get_settings() -> Response:
    """The settings object (created with the defaults on first access)."""
    with services().db.write() as session:
        payload = service.settings_to_dict(service.get_settings(session))
    return ok(payload)


@bp.put("")
def update_settings() -> Response:
    """Apply any subset of settings (`SettingsUpdate`: snake_case or camelCase); all or nothing."""
    data = json_body()
    app = services()
    with app.db.write() as session:
        payload = service.settings_to_dict(service.update_settings(session, changes=data))
    if app.pool is not None:
        # The in-process engine applies the settings before the answer.
        app.pool.refresh_pairs(wait=app.pool.APPLY_WAIT_SECONDS)
    return ok(payload)
