"""What an Instagram answer means, as exceptions (DESIGN.md §4.4).

    IgError                       any answer that is not a usable result
     ├── NotFoundUser             404 / `data.user` null: the username does not exist
     ├── RateLimited              "Please wait a few minutes" (401/429); carries Retry-After
     ├── LoginRequired            login_required, 302 to /accounts/login/: session logged out
     ├── Challenge                challenge / checkpoint / feedback required: needs a human
     ├── TooManyIds               400 "Too many reels requested": send fewer ids
     ├── DenseUnavailable         the GraphQL form was refused: fall back to v1 reels_media
     └── Transient                5xx, timeout, connection error, malformed JSON: retry elsewhere

Messages are built by the client from status codes and Instagram's own short messages only:
they never contain a cookie, a csrftoken or a proxy password.
"""

from __future__ import annotations

import enum


class Classification(enum.StrEnum):
    """The class of an answer; decides the effect on the item and on the pair."""

    SUCCESS = "success"  # usable answer: record outcomes
    NOT_FOUND = "not_found"  # the user does not exist: item failed, no retry
    RATE_LIMITED = "rate_limited"  # pair cools down; items back to pending, no attempt used
    SESSION_INVALID = "session_invalid"  # pair invalid; items back to pending
    CHALLENGE = "challenge"  # pair challenge; items back to pending
    TOO_MANY_IDS = "too_many_ids"  # halve ids per request; retry
    DENSE_UNAVAILABLE = "dense_unavailable"  # use the v1 form; retry
    TRANSIENT = "transient"  # pair error score +1; item attempt +1; retry on another pair


class IgError(Exception):
    """Base of every classified failure of one Instagram request."""

    classification: Classification = Classification.TRANSIENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotFoundUser(IgError):
    """The username does not exist (404 with an empty body, or `data.user` null)."""

    classification = Classification.NOT_FOUND


class RateLimited(IgError):
    """Instagram asked us to slow down; `retry_after` seconds when it said so."""

    classification = Classification.RATE_LIMITED

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginRequired(IgError):
    """The session is logged out: the pair needs a new cookie."""

    classification = Classification.SESSION_INVALID


class Challenge(IgError):
    """The session hit a challenge, checkpoint or feedback block: a human must clear it."""

    classification = Classification.CHALLENGE

    def __init__(self, message: str, kind: str = "challenge_required") -> None:
        super().__init__(message)
        self.kind = kind


class TooManyIds(IgError):
    """More reel ids than Instagram accepts in one request."""

    classification = Classification.TOO_MANY_IDS


class DenseUnavailable(IgError):
    """The GraphQL reels query was refused in a way that says the form itself does not work."""

    classification = Classification.DENSE_UNAVAILABLE


class Transient(IgError):
    """A failure worth retrying on another pair (5xx, timeout, reset, malformed JSON)."""

    classification = Classification.TRANSIENT


def classify(error: BaseException | None) -> Classification:
    """Return the class of a request's failure (None means success)."""
    if error is None:
        return Classification.SUCCESS
    if isinstance(error, IgError):
        return error.classification
    return Classification.TRANSIENT
