"""One JSON error shape for every failure: `{"error": code, "message": sentence, ...}`."""

from __future__ import annotations

import logging
from typing import Any

import pydantic
from flask import Flask, Response, jsonify
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from storycheck.errors import StorycheckError
from storycheck.fields import error_contract_of

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


# Pydantic's own checks (a missing key, a wrong container type, an unknown choice), worded like
# the rest of the API; the value types of `storycheck/fields.py` bring their own sentences.
_PYDANTIC_MESSAGES = {
    "missing": "{field} is required",
    "string_type": "{field} must be a string",
    "list_type": "{field} must be a list",
    "dict_type": "{field} must be an object",
    "model_type": "{field} must be an object",
    "bool_type": "{field} must be true or false",
    "bool_parsing": "{field} must be true or false",
    "int_type": "{field} must be an integer",
    "int_parsing": "{field} must be an integer",
    "int_from_float": "{field} must be an integer",
    "string_too_long": "{field} is longer than {max_length} characters",
    "too_long": "{field} has more than {max_length} entries",
    "literal_error": "Invalid {field}: must be one of {expected}",
    "enum": "Invalid {field}: must be one of {expected}",
}


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _message(error: Any) -> str:
    context = error.get("ctx") or {}
    if "field" in context:  # one of storycheck's value types: the sentence is complete
        return str(error["msg"])
    template = _PYDANTIC_MESSAGES.get(error["type"])
    field = _field(error["loc"])
    if template is None:
        return f"{field}: {error['msg']}"
    return template.format(field=field, **{k: v for k, v in context.items() if k != "field"})


def validation_error_body(exc: pydantic.ValidationError) -> dict[str, Any]:
    """The 400 body of a request model's failure, in the API's one error shape.

    `message` is the one sentence (several: "Validation errors: a; b"), `errors` every
    sentence, `details` the first failing field and, when the check has one, its valid range.
    The body's `error_contract` (see `storycheck/fields.py`) may set other codes and wordings
    where the original contract fixed them.
    """
    problems = exc.errors()
    contract = error_contract_of(exc.title)
    missing = [name for error in problems if error["type"] == "missing"
               for name in _missing_names(error)]
    answer = contract.missing_answer(missing) if missing else None
    if answer is not None:
        return answer
    messages = [_message(error) for error in problems]
    first = problems[0]
    context = dict(first.get("ctx") or {})
    details: dict[str, Any] = {**context.get("details", {}), "field": _name(first)}
    if context.get("valid_range") is not None:
        details["valid_range"] = context["valid_range"]
    message = messages[0] if len(messages) == 1 else f"Validation errors: {'; '.join(messages)}"
    return {"error": context.get("code", contract.invalid_code), "message": message,
            "errors": messages, "details": details}


def _name(error: Any) -> str:
    return str((error.get("ctx") or {}).get("field") or _field(error["loc"]))


def _missing_names(error: Any) -> list[str]:
    # A body-wide check (`ProxyCreate`'s two shapes) names every absent key in `fields`.
    return [str(name) for name in (error.get("ctx") or {}).get("fields") or [_name(error)]]


def register_error_handlers(app: Flask) -> None:  # noqa: C901 - one nested handler per kind
    """Map domain errors, HTTP errors and surprises onto the one error shape."""

    @app.errorhandler(pydantic.ValidationError)
    def _invalid(exc: pydantic.ValidationError) -> Response:
        response = jsonify(validation_error_body(exc))
        response.status_code = 400
        return response

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
