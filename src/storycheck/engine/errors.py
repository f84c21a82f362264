"""What an Instagram answer means, as exceptions (DESIGN.md §4.4, ../docs/instagram-facts.md).

    IgError                       any answer that is not a usable result
     ├── NotFoundUser             404 with an empty/JSON body, `data.user` null: no such user
     │                            (a verdict only once a second pair agrees)
     ├── ProfileUnavailable       web_profile_info 400 "Asset … has been deleted" (business
     │                            accounts): this profile cannot be looked up; no retry
     ├── RateLimited              401 "Please wait a few minutes" / 429; carries Retry-After
     ├── LoginRequired            session logged out or no longer honoured (login_required,
     │                            302/200 login page, `{"status":"ok"}` without data,
     │                            reels without `reels_media`)
     ├── Challenge                checkpoint / challenge required, or a masked challenge
     │                            (404 with the text body `Not Found`): needs a human
     ├── ActionBlocked            feedback_required ("Action Blocked", spam): long cool-down
     ├── ClientRefused            checkpoint_url …/unsupported_version/: our client (user agent)
     │                            is refused, not the session
     ├── AddressBlocked           403 HTML that is not a login page: the proxy's address is
     │                            blocked at the edge; the session is fine
     ├── TooManyIds               400 "Too many reels requested": send fewer ids
     ├── DenseUnavailable         the dense (GraphQL doc_id) form was refused on this pair
     ├── ConnectionFailed         no answer byte arrived (reset, refused, dropped keep-alive,
     │                            stuck proxy handshake) even after one retry on a fresh
     │                            connection: the pair's problem, never the items'
     └── Transient                Instagram answered but nothing usable (5xx, malformed JSON,
                                  an edge 502): counts as an attempt of the items

Messages are built by the client from status codes and Instagram's own short messages only:
they never contain a cookie, a csrftoken or a proxy password.
"""

from __future__ import annotations

import enum


class Classification(enum.StrEnum):
    """The class of an answer; decides the effect on the items and on the pair."""

    SUCCESS = "success"  # usable answer: record outcomes
    NOT_FOUND = "not_found"  # user missing: confirmed by a second pair, then item failed
    PROFILE_UNAVAILABLE = "profile_unavailable"  # lookup impossible: item failed, no retry
    RATE_LIMITED = "rate_limited"  # pair cools (AIMD); items back to pending, no attempt used
    SESSION_INVALID = "session_invalid"  # pair invalid; items back to pending, no attempt used
    CHALLENGE = "challenge"  # pair challenge; items back to pending, no attempt used
    ACTION_BLOCKED = "action_blocked"  # pair cools for hours; items back, no attempt used
    CLIENT_REFUSED = "client_refused"  # user agent refused: pair cools, loud error; items back
    ADDRESS_BLOCKED = "address_blocked"  # proxy address blocked: pair cools; items back
    TOO_MANY_IDS = "too_many_ids"  # halve ids per request; retry
    DENSE_UNAVAILABLE = "dense_unavailable"  # this pair uses the v1 form; retry
    CONNECTION_FAILED = "connection_failed"  # pair error score +1; items back, no attempt used
    TRANSIENT = "transient"  # pair error score +1; item attempt +1; retry on another pair


# Answers that say nothing about the items: they return to the queue without spending an attempt.
PAIR_PROBLEMS = frozenset(
    {
        Classification.RATE_LIMITED,
        Classification.SESSION_INVALID,
        Classification.CHALLENGE,
        Classification.ACTION_BLOCKED,
        Classification.CLIENT_REFUSED,
        Classification.ADDRESS_BLOCKED,
        Classification.CONNECTION_FAILED,
    }
)


class IgError(Exception):
    """Base of every classified failure of one Instagram request."""

    classification: Classification = Classification.TRANSIENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotFoundUser(IgError):
    """The username does not exist (404 with an empty or JSON body, or `data.user` null)."""

    classification = Classification.NOT_FOUND


class ProfileUnavailable(IgError):
    """Instagram cannot show this profile (web_profile_info 400 "Asset … has been deleted")."""

    classification = Classification.PROFILE_UNAVAILABLE


class RateLimited(IgError):
    """Instagram asked us to slow down; `retry_after` seconds when it said so."""

    classification = Classification.RATE_LIMITED

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginRequired(IgError):
    """The session is logged out or no longer honoured: the pair needs a new cookie."""

    classification = Classification.SESSION_INVALID


class Challenge(IgError):
    """The session hit a checkpoint or challenge (or a masked one): a human must clear it."""

    classification = Classification.CHALLENGE

    def __init__(self, message: str, kind: str = "challenge_required") -> None:
        super().__init__(message)
        self.kind = kind


class ActionBlocked(IgError):
    """feedback_required ("Action Blocked"): the session is blocked for hours, not for good."""

    classification = Classification.ACTION_BLOCKED


class ClientRefused(IgError):
    """Instagram refused our client version: update the user agent (not the session's fault)."""

    classification = Classification.CLIENT_REFUSED


class AddressBlocked(IgError):
    """The proxy's address is blocked at Instagram's edge (403 HTML, not a login page)."""

    classification = Classification.ADDRESS_BLOCKED


class TooManyIds(IgError):
    """More reel ids than Instagram accepts in one request."""

    classification = Classification.TOO_MANY_IDS


class DenseUnavailable(IgError):
    """The dense GraphQL form was refused in a way that says the form does not work here."""

    classification = Classification.DENSE_UNAVAILABLE


class ConnectionFailed(IgError):
    """No byte of an answer arrived, twice: the pair's connection is the problem."""

    classification = Classification.CONNECTION_FAILED


class Transient(IgError):
    """Instagram answered, but nothing usable (5xx, malformed JSON): retry on another pair."""

    classification = Classification.TRANSIENT


def classify(error: BaseException | None) -> Classification:
    """Return the class of a request's failure (None means success)."""
    if error is None:
        return Classification.SUCCESS
    if isinstance(error, IgError):
        return error.classification
    return Classification.TRANSIENT
