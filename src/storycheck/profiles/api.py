"""Profile routes: thin views over `profiles.service` and `profiles.importer`."""

from __future__ import annotations

from flask import Blueprint, Response, request

from storycheck.errors import ValidationError
from storycheck.profiles import importer, listing, service
from storycheck.profiles.schemas import (
    ProfileBulk,
    ProfileCreate,
    ProfileIdList,
    ProfileUpdate,
    RecordCheck,
    changes,
)
from storycheck.stories.service import primed
from storycheck.web.context import services
from storycheck.web.http import json_body, no_content, ok, query_bool, query_int

bp = Blueprint("profiles", __name__, url_prefix="/api/profiles")


def _filters() -> listing.ProfileFilters:
    return listing.check_filters(
        niche_id=request.args.get("niche_id"),
        status=request.args.get("status"),
        search=request.args.get("search"),
        active_story=query_bool("active_story"),
        not_found=query_bool("not_found"),
        story=request.args.get("story"),
    )


@bp.get("")
def list_profiles() -> Response:
    """A page of profiles with filters and a stable sort (`page` or keyset `cursor`)."""
    page = query_int("page", 1, minimum=1, maximum=listing.PAGE_MAX)
    page_size = query_int("page_size", 50, minimum=1, maximum=listing.PAGE_SIZE_MAX)
    filters = _filters()
    sort_by, direction = listing.check_sort(
        request.args.get("sort_by"), request.args.get("sort_direction")
    )
    with services().db.read() as session:
        payload = service.list_profiles(
            session,
            filters=filters,
            page=page,
            page_size=page_size,
            sort_by=sort_by,
            sort_direction=direction,
            cursor=request.args.get("cursor") or None,
        )
    return ok(payload)


@bp.get("/ids")
def list_profile_ids() -> Response:
    """The ids of every profile matching the filters ("select all matching")."""
    filters = _filters()
    sort_by, direction = listing.check_sort(
        request.args.get("sort_by"), request.args.get("sort_direction")
    )
    with services().db.read() as session:
        payload = service.profile_ids(
            session, filters=filters, sort_by=sort_by, sort_direction=direction
        )
    return ok(payload)


@bp.get("/export.csv")
def export_csv() -> Response:
    """Every profile matching the list's filters as CSV, streamed."""
    filters = _filters()
    chunks = primed(service.export_csv(services().db, filters=filters))
    response = Response(chunks, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="profiles.csv"'
    return response


@bp.post("/clear-not-found")
def clear_not_found() -> Response:
    """Clear the "not found" flag of `{profile_ids}` by hand."""
    body = ProfileIdList.model_validate(json_body())
    with services().db.write() as session:
        payload = service.clear_not_found(session, profile_ids=body.profile_ids)
    return ok(payload)


@bp.get("/<profile_id>")
def get_profile(profile_id: str) -> Response:
    """One profile."""
    with services().db.read() as session:
        profile = service.get_profile(session, profile_id=profile_id)
        return ok(service.profile_payload(session, profile))


@bp.post("")
def create_profile() -> Response:
    """Create a profile `{username, niche_id?}`."""
    data = json_body()
    if not data:
        raise ValidationError("No data provided", code="invalid_request")
    body = ProfileCreate.model_validate(data)
    with services().db.write() as session:
        profile = service.create_profile(session, username=body.username, niche_id=body.niche_id)
        payload = service.profile_payload(session, profile)
    return ok(payload, 201)


@bp.put("/<profile_id>")
def update_profile(profile_id: str) -> Response:
    """Change `username`, `status` and/or `niche_id`."""
    body = ProfileUpdate.model_validate(json_body())
    with services().db.write() as session:
        profile = service.update_profile(session, profile_id=profile_id, **changes(body))
        payload = service.profile_payload(session, profile)
    return ok(payload)


@bp.post("/bulk")
def bulk_update() -> Response:
    """Set `status` and/or `niche_id` of many profiles `{profile_ids, status?, niche_id?}`."""
    body = ProfileBulk.model_validate(json_body())
    changed = {name: value for name, value in changes(body).items() if name != "profile_ids"}
    with services().db.write() as session:
        payload = service.bulk_update(session, profile_ids=body.profile_ids, **changed)
    return ok(payload)


@bp.delete("/<profile_id>")
def delete_profile(profile_id: str) -> Response:
    """Soft delete: the profile's status becomes `deleted`."""
    with services().db.write() as session:
        service.soft_delete(session, profile_id=profile_id)
    return no_content()


@bp.post("/<profile_id>/reactivate")
def reactivate_profile(profile_id: str) -> Response:
    """Make a profile active again."""
    with services().db.write() as session:
        profile = service.reactivate(session, profile_id=profile_id)
        payload = service.profile_payload(session, profile)
    return ok(payload)


@bp.post("/<profile_id>/record_check")
def record_check(profile_id: str) -> Response:
    """Count one check `{story_detected?: bool}` (no body means no story)."""
    body = RecordCheck.model_validate(json_body(required=False))
    detected = bool(body.story_detected)
    with services().db.write() as session:
        profile = service.record_check(session, profile_id=profile_id, story_detected=detected)
        payload = service.profile_payload(session, profile)
    return ok(payload)


@bp.post("/refresh-stories")
def refresh_stories() -> Response:
    """Clear stale `active_story` flags and delete expired story results."""
    with services().db.write() as session:
        payload = service.refresh_stories(session)
    return ok(payload)


@bp.post("/niches/<niche_id>/import")
def import_profiles(niche_id: str) -> Response:
    """Import a username list (multipart part `file`, or a text/plain body) into a niche."""
    raw = _upload()
    with services().db.write() as session:
        report = importer.import_profiles(session, niche_id=niche_id, raw=raw)
    return ok(report.to_dict(), 201 if report.error_count == 0 else 207)


def _upload() -> bytes:
    """The uploaded list: the multipart part `file`, else a raw (text) body."""
    # Import errors put a readable text in `error`: the original client shows that field.
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationError(
                "No file provided: send the list as a multipart part named 'file'",
                code="No file provided",
            )
        if not upload.filename:
            raise ValidationError("No file selected", code="No file selected")
        data: bytes = upload.stream.read()
        return data
    if request.mimetype in ("application/json", "application/x-www-form-urlencoded"):
        raise ValidationError(
            "No file provided: upload multipart/form-data with a part named 'file', "
            "or send the list as a text/plain body",
            code="No file provided",
        )
    raw = request.get_data(cache=False)
    if not raw:
        raise ValidationError("No file provided", code="No file provided")
    return raw
