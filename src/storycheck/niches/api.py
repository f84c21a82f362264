"""Niche routes: thin views over `niches.service`."""

from __future__ import annotations

from flask import Blueprint, Response

from storycheck.errors import ValidationError
from storycheck.niches import service
from storycheck.niches.service import ORDER_RANGE, TARGET_RANGE
from storycheck.web.context import services
from storycheck.web.http import json_body, no_content, ok, optional_int

bp = Blueprint("niches", __name__, url_prefix="/api/niches")


@bp.get("")
def list_niches() -> Response:
    """Every niche, ordered by `order` then name, with real profile counts."""
    with services().db.read() as session:
        return ok(service.list_niches(session))


@bp.get("/<niche_id>")
def get_niche(niche_id: str) -> Response:
    """One niche."""
    with services().db.read() as session:
        return ok(service.niche_payload(session, service.get_niche(session, niche_id=niche_id)))


@bp.post("")
def create_niche() -> Response:
    """Create a niche `{name, order?, daily_story_target?}`."""
    data = json_body()
    if not data:
        raise ValidationError("No data provided", code="invalid_request")
    name = service.clean_name(data.get("name"))
    order = optional_int(data, "order", minimum=ORDER_RANGE[0], maximum=ORDER_RANGE[1])
    target = optional_int(
        data, "daily_story_target", minimum=TARGET_RANGE[0], maximum=TARGET_RANGE[1]
    )
    with services().db.write() as session:
        niche = service.create_niche(session, name=name, order=order, daily_story_target=target)
        payload = service.niche_payload(session, niche)
    return ok(payload, 201)


@bp.put("/<niche_id>")
def update_niche(niche_id: str) -> Response:
    """Change `name`, `order` or `daily_story_target`; other keys are ignored."""
    data = json_body()
    name = service.clean_name(data["name"]) if "name" in data else None
    order = optional_int(data, "order", minimum=ORDER_RANGE[0], maximum=ORDER_RANGE[1])
    target = optional_int(
        data, "daily_story_target", minimum=TARGET_RANGE[0], maximum=TARGET_RANGE[1]
    )
    with services().db.write() as session:
        niche = service.update_niche(
            session, niche_id=niche_id, name=name, order=order, daily_story_target=target
        )
        payload = service.niche_payload(session, niche)
    return ok(payload)


@bp.delete("/<niche_id>")
def delete_niche(niche_id: str) -> Response:
    """Delete a niche with its batches; its profiles move to the first other niche."""
    app = services()
    service.remove_niche(db=app.db, state=app.state, niche_id=niche_id)
    return no_content()


@bp.post("/reorder")
def reorder_niches() -> Response:
    """Put every niche in the order of `niche_ids`."""
    data = json_body()
    with services().db.write() as session:
        payload = service.reorder_niches(session, niche_ids=data.get("niche_ids"))
    return ok(payload)
