"""Batch routes: thin views over `BatchStateManager` (commands) and `batches.service` (queries)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from storycheck.batches import service
from storycheck.batches.progress import ProgressOptions
from storycheck.batches.schemas import BatchCreate, BatchIds
from storycheck.errors import ValidationError
from storycheck.stories.service import primed
from storycheck.web.context import services
from storycheck.web.http import (
    json_body,
    no_content,
    ok,
    query_datetime,
    query_int,
)

bp = Blueprint("batches", __name__, url_prefix="/api/batches")

PAGE_MAX = 10_000_000
SEARCH_MAX = 100


def _batch_ids() -> list[str]:
    return BatchIds.model_validate(json_body()).batch_ids


def progress_options() -> ProgressOptions:
    """The time scale the engine of this application runs with (for waiting reasons, ETA).

    Read from the environment and `Config.extra` once per application, as the engine reads
    them once at its start (reading them cost ~20 ms, a fifth of a 1,000-batch list).
    """
    app = services()
    if app.progress is None:
        app.progress = ProgressOptions.from_config(app.config)
    return app.progress


def _answer(batches: list[Any]) -> Response:
    with services().db.read() as session:
        return ok(service.batch_payloads(session, batches, progress=progress_options()))


@bp.get("")
def list_batches() -> Response:
    """Every batch with live figures; fast with thousands of batches."""
    status = request.args.get("status") or None
    with services().db.read() as session:
        return ok(service.list_batches(session, status=status, progress=progress_options()))


@bp.post("")
def create_batch() -> Response:
    """Create a batch of profiles of one niche; it joins the queue (or runs at once)."""
    data = json_body()
    if not data:
        raise ValidationError("No JSON data provided", code="invalid_request")
    body = BatchCreate.model_validate(data)
    batch = services().state.create_batch(
        niche_id=body.niche_id,
        profile_ids=None if body.all_profiles else body.profile_ids,
        all_profiles=body.all_profiles,
    )
    with services().db.read() as session:
        return ok(service.batch_payload(session, batch, progress=progress_options()), 201)


@bp.get("/<batch_id>")
def batch_detail(batch_id: str) -> Response:
    """One batch with all its story usernames and a page of its items."""
    with services().db.read() as session:
        return ok(
            service.get_batch(
                session,
                batch_id,
                items_limit=query_int("items_limit", 1000, minimum=0, maximum=10_000),
                items_offset=query_int("items_offset", 0, minimum=0),
                item_status=request.args.get("item_status") or None,
                progress=progress_options(),
            )
        )


def _act_on_selection(event: str) -> Response:
    """Apply a list action with the original's semantics: eligible batches change, the others
    are skipped (listed in `X-Storycheck-Skipped` as `id:status`); `?strict=1` refuses the
    whole list with 409 instead."""
    strict = request.args.get("strict", "").lower() in ("1", "true", "yes")
    selection = services().state.apply_to_selection(
        event, _batch_ids(), skip_ineligible=not strict
    )
    response = _answer(selection.acted)
    if selection.skipped:
        response.headers["X-Storycheck-Skipped"] = ",".join(
            f"{batch_id}:{status}" for batch_id, status in selection.skipped
        )
    return response


@bp.post("/start")
def start_batches() -> Response:
    """Queue paused or done batches; the head starts when a slot is free."""
    return _act_on_selection("start")


@bp.post("/stop")
def stop_batches() -> Response:
    """Pause queued or running batches."""
    return _act_on_selection("stop")


@bp.post("/resume")
def resume_batches() -> Response:
    """Re-queue paused batches; the first starts at once when nothing runs."""
    return _act_on_selection("resume")


@bp.delete("")
def delete_batches() -> Response:
    """Delete batches with everything they own."""
    services().state.delete(_batch_ids())
    return no_content()


@bp.post("/reorder")
def reorder_batches() -> Response:
    """Move the listed queued batches, in order, to the front of the queue."""
    return _answer(list(services().state.reorder(_batch_ids())))


@bp.post("/<batch_id>/retry-failed")
def retry_failed(batch_id: str) -> Response:
    """Send a batch's failed items back to pending (a done batch is queued again)."""
    batch = services().state.retry_failed(batch_id)
    with services().db.read() as session:
        return ok(service.batch_payload(session, batch, progress=progress_options()))


@bp.get("/<batch_id>/logs")
def batch_logs(batch_id: str) -> Response:
    """A page of the batch's log, newest first, optionally filtered by event type and time."""
    with services().db.read() as session:
        return ok(
            service.batch_logs(
                session,
                batch_id,
                limit=query_int("limit", 100, minimum=1, maximum=500),
                offset=query_int("offset", 0, minimum=0),
                event_type=request.args.get("event_type") or None,
                start_time=query_datetime("start_time"),
                end_time=query_datetime("end_time"),
            )
        )


@bp.get("/<batch_id>/results")
def batch_results(batch_id: str) -> Response:
    """A page of every account of the batch with its outcome, posted/expires/checked times."""
    outcome = service.check_outcome(request.args.get("outcome"))
    search = _search()
    page = query_int("page", 1, minimum=1, maximum=PAGE_MAX)
    page_size = query_int("page_size", 100, minimum=1, maximum=service.RESULTS_PAGE_SIZE_MAX)
    with services().db.read() as session:
        return ok(
            service.batch_results(
                session, batch_id, outcome=outcome, search=search, page=page, page_size=page_size
            )
        )


@bp.get("/<batch_id>/results.csv")
def results_csv(batch_id: str) -> Response:
    """Download a batch's outcomes as CSV (same `outcome` and `search` filters), streamed."""
    return _download(batch_id, service.results_csv, "text/csv", "csv")


@bp.get("/<batch_id>/results.json")
def results_json(batch_id: str) -> Response:
    """Download a batch's outcomes as one JSON document, streamed."""
    return _download(batch_id, service.results_json, "application/json", "json")


def _search() -> str | None:
    search = request.args.get("search") or None
    if search is not None and len(search) > SEARCH_MAX:
        raise ValidationError(
            f"search is longer than {SEARCH_MAX} characters",
            details={"field": "search", "valid_range": f"0-{SEARCH_MAX} characters"},
        )
    return search


def _download(batch_id: str, render: Any, mimetype: str, extension: str) -> Response:
    outcome = service.check_outcome(request.args.get("outcome"))
    search = _search()
    db = services().db
    with db.read() as session:
        service.ensure_batch(session, batch_id)
    # Every chunk reads in its own short session: no connection waits on a slow client.
    chunks = primed(render(db, batch_id, outcome=outcome, search=search))
    response = Response(chunks, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="batch-{batch_id}.{extension}"'
    return response
