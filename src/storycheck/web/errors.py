"""One JSON error shape for every failure: `{"error": code, "message": sentence, ...}`."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from storycheck.errors import StorycheckError

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: "The request could not be understood",
    404: "No such resource",
    405: "This method is not allowed on this resource",
    413: "The request body is too large",
    415: "Unsupported content type",
}


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    """Build the JSON error answer used everywhere."""
    body = {"error": code, "message": message, **extra}
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:  # noqa: C901 - one nested handler per error kind
    """Map domain errors, HTTP errors and surprises onto the one error shape."""

    @app.errorhandler(StorycheckError)
    def _domain(exc: StorycheckError) -> Response:
        response = jsonify(exc.to_dict())
        response.status_code = exc.status_code
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = _HTTP_MESSAGES.get(status, exc.description or exc.name or "Error")
        if status == 413:
            code = "payload_too_large"
        response = error_response(status, code, message)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value  # e.g. `Allow` on a 405
        return response

    @app.errorhandler(OperationalError)
    def _operational(exc: OperationalError) -> Response:
        text = str(exc.orig).lower()
        if "locked" in text or "busy" in text or "deadlock" in text:
            return error_response(
                503, "database_busy", "The database is busy; please retry in a moment"
            )
        log.exception("Database error")
        return error_response(500, "database_error", "A database error occurred")

    @app.errorhandler(DataError)
    def _unstorable(exc: DataError) -> Response:
        # e.g. a NUL character, which PostgreSQL refuses: bad input, not a server error.
        return error_response(
            400,
            "invalid_value",
            "The request contains a value that cannot be stored (e.g. a NUL character)",
        )

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        log.warning("Integrity error: %s", type(exc.orig).__name__)
        return error_response(
            409, "conflict", "The change conflicts with existing data (duplicate or missing reference)"
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("Unhandled error")
        return error_response(500, "internal_error", "Internal server error")
