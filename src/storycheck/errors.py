"""Domain errors. The web layer turns each into one JSON shape: `{error, message, ...}`."""

from __future__ import annotations

import re
from typing import Any


class StorycheckError(Exception):
    """Base of every error a user can cause; carries an HTTP status and a short code.

    StorycheckError
     ├── ValidationError   400  bad input (missing field, wrong type, out of range)
     ├── Unauthorized      401  missing or wrong API token
     ├── NotFound          404  unknown id
     ├── Conflict          409  illegal transition, duplicate
     ├── PayloadTooLarge   413  body over the limit
     └── Unavailable       503  database busy for too long
    """

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """Render the error body: `error` (a code) and `message` (a sentence) plus extras."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        body.update(self.extra)
        return body


class ValidationError(StorycheckError):
    """The request is malformed or a value is out of range."""

    status_code = 400
    code = "validation_error"


class Unauthorized(StorycheckError):
    """The API token is missing or wrong."""

    status_code = 401
    code = "unauthorized"


class NotFound(StorycheckError):
    """The addressed object does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(StorycheckError):
    """The request contradicts the current state (illegal transition, duplicate)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(StorycheckError):
    """The request body exceeds the configured limit."""

    status_code = 413
    code = "payload_too_large"


class Unavailable(StorycheckError):
    """The database stayed busy longer than we wait; the client may retry."""

    status_code = 503
    code = "unavailable"


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def reject_control_characters(value: str, field: str) -> str:
    """Return `value`, or raise a 400 when it holds C0 controls or DEL (names, hosts, users)."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError(
            f"{field} must not contain control characters (newlines, tabs, NUL, …)",
            details={"field": field},
        )
    return value
