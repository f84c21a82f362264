"""Request parsing and response helpers shared by every blueprint (thin views use these)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from storycheck.errors import ValidationError
from storycheck.fields import range_text


def json_body(*, required: bool = True) -> dict[str, Any]:
    """Parse the request body as a JSON object, or raise a 400 that says what is wrong."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ValidationError("A JSON object body is required", code="invalid_request")
        return {}
    try:
        data = request.get_json(force=True, silent=False)
    except Exception as exc:  # Werkzeug raises BadRequest with a parser message
        raise ValidationError("The request body is not valid JSON", code="invalid_json") from exc
    if data is None:
        if required:
            raise ValidationError("A JSON object body is required", code="invalid_request")
        return {}
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object", code="invalid_request")
    try:
        # JSON may escape a lone UTF-16 surrogate ("\ud800"), which no database can store.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            "The request body contains an invalid unicode escape (a lone surrogate)",
            code="invalid_json",
        ) from exc
    return data


def ok(payload: Any, status: int = 200) -> Response:
    """Serialise a payload as JSON with the given status."""
    response = jsonify(payload)
    response.status_code = status
    return response


def no_content() -> Response:
    """An empty 204 answer."""
    return Response(status=204)


# Offsets and page numbers beyond this are nonsense (and overflow SQLite's 64-bit integers).
MAX_QUERY_INT = 1_000_000_000


def query_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Read an integer query parameter, rejecting junk and out-of-range values with a 400."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"Invalid parameter value: {name} must be an integer",
            details={"field": name, "valid_range": range_text(minimum, maximum)},
        ) from exc
    if maximum is None:
        maximum = MAX_QUERY_INT
    if (minimum is not None and value < minimum) or value > maximum:
        raise ValidationError(
            f"Invalid parameter value: {name} must be within {range_text(minimum, maximum)}",
            details={"field": name, "valid_range": range_text(minimum, maximum)},
        )
    return value


def query_datetime(name: str) -> datetime | None:
    """Read an ISO-8601 query parameter (a trailing `Z` is accepted)."""
    raw = request.args.get(name)
    if raw is None or raw.strip() in ("", "null", "undefined"):
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(
            "Invalid date format. Use ISO 8601 format.", details={"field": name}
        ) from exc
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def query_bool(name: str) -> bool | None:
    """Read `true`/`false` (or 1/0) from the query string; absent means None."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationError(f"Invalid parameter value: {name} must be true or false",
                          details={"field": name})
