"""Story routes: who has a live story now (list, counts, coverage, CSV/JSON exports) and one
account's story history. Thin views over `stories.service`."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request

from storycheck.stories import service
from storycheck.web.context import services
from storycheck.web.http import ok, query_datetime, query_int

bp = Blueprint("stories", __name__, url_prefix="/api")


def _query() -> service.LiveQuery:
    return service.check_query(
        at=query_datetime("at"),
        niche_id=request.args.get("niche_id"),
        search=request.args.get("search"),
        since=request.args.get("since"),
        sort=request.args.get("sort"),
        order=request.args.get("order"),
    )


@bp.get("/stories/live")
def live_stories() -> Response:
    """A page of the accounts whose story is live (`at`, default now), keyset-paged."""
    query = _query()
    limit = query_int("limit", 100, minimum=1, maximum=service.LIMIT_MAX)
    cursor = request.args.get("cursor") or None
    with services().db.read() as session:
        return ok(service.list_live(session, query, limit=limit, cursor=cursor))


@bp.get("/stories/live/counts")
def live_story_counts() -> Response:
    """How many accounts have a live story, in all and per niche."""
    query = _query()
    with services().db.read() as session:
        return ok(service.live_counts(session, query))


@bp.get("/stories/live/coverage")
def live_story_coverage() -> Response:
    """How many accounts the live list knows about: checked within a story's lifetime or not."""
    query = _query()
    with services().db.read() as session:
        return ok(service.live_coverage(session, at=query.at, niche_id=query.niche_id))


@bp.get("/stories/live.csv")
def live_stories_csv() -> Response:
    """Every live story matching the filters as CSV, streamed in constant memory."""
    return _download(service.live_csv(services().db, _query()), "text/csv", "csv")


@bp.get("/stories/live.json")
def live_stories_json() -> Response:
    """Every live story matching the filters as one JSON document, streamed."""
    return _download(service.live_json(services().db, _query()), "application/json", "json")


@bp.get("/profiles/<profile_id>/stories")
def profile_stories(profile_id: str) -> Response:
    """A profile's story windows, newest first."""
    limit = query_int("limit", 100, minimum=1, maximum=1000)
    at = query_datetime("at")
    with services().db.read() as session:
        return ok(service.profile_windows(session, profile_id=profile_id, at=at, limit=limit))


def _download(chunks: Iterator[str], mimetype: str, extension: str) -> Response:
    # No request context is needed while streaming: every chunk opens its own short session.
    response = Response(service.primed(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="live-stories.{extension}"'
    return response
