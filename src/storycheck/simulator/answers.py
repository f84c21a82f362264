"""Instagram's answers as bytes: one `Reply` per row of docs' instagram-facts.md.

Every body, status and content type here follows what public clients report Instagram
sends (instagram-facts.md names the sources); the server picks among them. A session
"mode" (`MODES`) makes one session answer one of these rows on chosen endpoints.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
RATE_LIMIT_MESSAGE = "Please wait a few minutes before you try again."

Endpoint = Literal["profile", "reels", "graphql"]
ENDPOINTS: tuple[Endpoint, ...] = ("profile", "reels", "graphql")

MODES = (
    "ok",
    "rate_limit_401",
    "rate_limit_429",
    "login_required",
    "login_redirect",
    "login_page",
    "checkpoint",
    "challenge",
    "suspended",
    "feedback",
    "unsupported_version",
    "masked_404",
    "unhonoured",
    "edge_block",
    "server_error",
    "edge_502",
    "error_560",
)
"""Per-session answer modes; "ok" is Instagram answering normally."""

RATE_LIMIT_MODES = frozenset({"rate_limit_401", "rate_limit_429"})


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: status, body, content type (None: no body), the referee's outcome."""

    status: int
    body: bytes
    content_type: str | None
    outcome: str
    headers: tuple[tuple[str, str], ...] = ()


def dumps(payload: Any) -> bytes:
    """Serialize `payload` compactly, as Instagram does."""
    return json.dumps(payload, separators=(",", ":")).encode()


def fail(message: str, **extra: Any) -> bytes:
    """Return an Instagram failure body (`{"message": …, "status": "fail"}`)."""
    return dumps({"message": message, **extra, "status": "fail"})


def json_reply(status: int, body: bytes, outcome: str) -> Reply:
    """Return a JSON answer."""
    return Reply(status, body, JSON_TYPE, outcome)


RATE_LIMITED = dumps({"message": RATE_LIMIT_MESSAGE, "require_login": True, "status": "fail"})
LOGIN_REQUIRED = fail("login_required")
TOO_MANY_REELS = fail("Too many reels requested")
USERAGENT_MISMATCH = fail("useragent mismatch")
SERVER_ERROR = fail("Oops, an error occurred.")
BUSINESS_DELETED = fail(
    "Asset asset://laser.provider/ig_business_category_subvertical has been deleted. "
    "You cannot use this schema"
)
# Cookies not honoured: the 15-byte web_profile_info body and reels_media without the list.
UNHONOURED_PROFILE = b'{"status":"ok"}'
UNHONOURED_REELS = b'{"reels":{},"status":"ok"}'
# The dense form's answer without data (thin: the facts file only documents the v1 shapes).
UNHONOURED_DENSE = b'{"data":{"xdt_api__v1__feed__reels_media":null},"status":"ok"}'
USER_NULL = b'{"data":{"user":null},"status":"ok"}'
NOT_FOUND_JSON = fail("User not found")
MASKED_NOT_FOUND = b"Not Found"
UNSUPPORTED_VERSION_URL = "https://i.instagram.com/web/unsupported_version/"
LOGIN_PAGE = (
    b'<!DOCTYPE html><html class="_9dls" lang="en" dir="ltr"><head>'
    b'<meta charset="utf-8"><title>Login \xe2\x80\xa2 Instagram</title>'
    b'<link rel="canonical" href="https://www.instagram.com/accounts/login/"></head>'
    b'<body><div id="splash-screen"></div><form id="loginForm" method="post">'
    b'<input name="username"><input name="password" type="password"></form></body></html>'
)
EDGE_BLOCK_PAGE = (
    b"<!DOCTYPE html><html><head><title>Error</title></head><body>"
    b"<h1>Sorry, something went wrong.</h1><p>Your request could not be processed.</p>"
    b"</body></html>"
)
BAD_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
)
_GRAPHQL_ERROR = {
    "severity": "CRITICAL",
    "is_silent": False,
    "is_transient": False,
    "requires_reauth": False,
    "allow_user_retry": False,
    "debug_info": None,
    "query_path": None,
}
# GET /graphql/query/?query_hash=… since 2025-02: 200, `errors`, no `data`.
DEAD_QUERY_HASH = dumps(
    {
        "errors": [
            {
                "message": "execution error",
                "code": 1675002,
                "summary": "Incorrect Query",
                "description": "The query provided was invalid.",
                **_GRAPHQL_ERROR,
            }
        ],
        "status": "ok",
    }
)
# POST /graphql/query with a doc_id Instagram does not (or no longer) serve (thin: shape only).
UNKNOWN_DOC_ID = dumps(
    {
        "errors": [
            {
                "message": "execution error",
                "code": 1675004,
                "summary": "Query not found",
                "description": "The requested document does not exist.",
                **_GRAPHQL_ERROR,
            }
        ],
        "status": "ok",
    }
)


def rate_limited(status: int, outcome: str = "rate_limited") -> Reply:
    """Return the "Please wait a few minutes" answer with `status` (401 or 429)."""
    return json_reply(status, RATE_LIMITED, outcome)


def challenge_body(kind: str, session: str) -> bytes:
    """Return the 400 body of a challenge: checkpoint, challenge, suspended or feedback."""
    user = session.split("%3A", 1)[0].split(":", 1)[0] or "0"
    if kind in ("checkpoint_required", "checkpoint"):
        return fail(
            "checkpoint_required",
            checkpoint_url=f"https://www.instagram.com/challenge/{user}/",
            lock=True,
            flow_render_type=0,
        )
    if kind in ("feedback_required", "feedback"):
        return fail(
            "feedback_required",
            spam=True,
            feedback_title="Action Blocked",
            feedback_message=(
                "This action was blocked. Please try again later. We restrict certain "
                "activity to protect our community."
            ),
            feedback_url="repute/report_problem/scraping/",
            feedback_appeal_label="Tell us",
            feedback_ignore_label="OK",
            feedback_action="report_problem",
        )
    if kind == "unsupported_version":
        return fail(
            "checkpoint_required",
            checkpoint_url=UNSUPPORTED_VERSION_URL,
            lock=False,
            flow_render_type=0,
        )
    if kind == "suspended":
        url = (
            "https://www.instagram.com/accounts/suspended/?next=https%3A%2F%2Fwww.instagram.com%2F"
        )
        api_path = "/accounts/suspended/"
    else:
        url = f"https://www.instagram.com/challenge/?next=/api/v1/users/{user}/"
        api_path = f"/challenge/{user}/"
    return fail(
        "challenge_required",
        challenge={
            "url": url,
            "api_path": api_path,
            "hide_webview_header": True,
            "lock": True,
            "logout": False,
            "native_flow": True,
            "flow_render_type": 0,
        },
    )


def login_redirect(path_qs: str) -> Reply:
    """Return the 302 to the login page, `next` naming the refused path."""
    location = f"/accounts/login/?next={quote(path_qs, safe='')}"
    return Reply(302, b"", HTML_TYPE, "login_required", (("Location", location),))


# Modes answered the same on every endpoint: (status, body, content type).
_FIXED_MODE_REPLIES: dict[str, tuple[int, bytes, str]] = {
    "login_required": (403, fail("login_required", logout_reason=3), JSON_TYPE),
    "login_page": (200, LOGIN_PAGE, HTML_TYPE),
    "masked_404": (404, MASKED_NOT_FOUND, HTML_TYPE),
    "edge_block": (403, EDGE_BLOCK_PAGE, HTML_TYPE),
    "server_error": (500, SERVER_ERROR, JSON_TYPE),
    "edge_502": (502, BAD_GATEWAY_PAGE, HTML_TYPE),
    "error_560": (560, SERVER_ERROR, JSON_TYPE),
}
_CHALLENGE_MODES = frozenset(
    {"checkpoint", "challenge", "suspended", "feedback", "unsupported_version"}
)


def mode_reply(mode: str, endpoint: Endpoint, *, session: str, path_qs: str, dense: bool) -> Reply:
    """Return what a session in `mode` is answered on `endpoint` (`dense`: the POST form)."""
    outcome = f"mode_{mode}"
    fixed = _FIXED_MODE_REPLIES.get(mode)
    if fixed is not None:
        status, body, content_type = fixed
        return Reply(status, body, content_type, outcome)
    if mode in RATE_LIMIT_MODES:
        return rate_limited(401 if mode == "rate_limit_401" else 429, outcome)
    if mode == "login_redirect":
        return dataclasses.replace(login_redirect(path_qs), outcome=outcome)
    if mode in _CHALLENGE_MODES:
        return json_reply(400, challenge_body(mode, session), outcome)
    if mode == "unhonoured":
        return json_reply(200, _unhonoured_body(endpoint, dense), outcome)
    raise ValueError(f"unknown mode {mode!r}")


def _unhonoured_body(endpoint: Endpoint, dense: bool) -> bytes:
    """The empty "ok" a session no longer honoured gets on `endpoint`."""
    if endpoint == "profile":
        return UNHONOURED_PROFILE
    if endpoint == "reels":
        return UNHONOURED_REELS
    return UNHONOURED_DENSE if dense else DEAD_QUERY_HASH
