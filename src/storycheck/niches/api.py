"""Niche routes: thin views over `niches.service`."""

from __future__ import annotations

from flask import Blueprint, Response

from storycheck.errors import ValidationError
from storycheck.niches import service
from storycheck.niches.schemas import NicheCreate, NicheReorder, NicheUpdate
from storycheck.web.context import services
from storycheck.web.http import json_body, no_content, ok

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
    body = NicheCreate.model_validate(data)
    with services().db.write() as session:
        niche = service.create_niche(
            session, name=body.name, order=body.order, daily_story_target=body.daily_story_target
        )
        payload = service.niche_payload(session, niche)
    return ok(payload, 201)


@bp.put("/<niche_id>")
def update_niche(niche_id: str) -> Response:
    """Change `name`, `order` or `daily_story_target`; other keys are ignored."""
    body = NicheUpdate.model_validate(json_body())
    with services().db.write() as session:
        niche = service.update_niche(
            session,
            niche_id=niche_id,
            name=body.name,
            order=body.order,
            daily_story_target=body.daily_story_target,
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
    body = NicheReorder.model_validate(json_body())
    with services().db.write() as session:
        payload = service.reorder_niches(session, niche_ids=body.niche_ids)
    return ok(payload)
