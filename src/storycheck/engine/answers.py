"""Reading Instagram's answers: every row of docs/instagram-facts.md "Answers and what they mean".

`raise_for_answer` turns a status line, headers and body into one of the classified errors of
`storycheck.engine.errors` (or returns for a 200 that may carry data); the `read_*` functions
accept a payload only in the shape that proves something (a logged-in `reels_media` list,
`data.user`), so an answer that proves nothing can never become "no story".

The rows, in the order they are tested here:

* 3xx to `/accounts/login/` → LoginRequired; to a challenge/checkpoint → Challenge.
* 200 `text/html` login page → LoginRequired; other 200 HTML → Transient.
* 404 with the text body `Not Found` (any endpoint) → Challenge (masked), NOT a missing user;
  404 with an empty or JSON body on web_profile_info → NotFoundUser.
* JSON messages: `checkpoint_required`/`challenge_required` → Challenge (a checkpoint_url with
  `unsupported_version` → ClientRefused); `feedback_required` → ActionBlocked; "Please wait a
  few minutes" → RateLimited; `login_required` → LoginRequired; "Too many reels" → TooManyIds;
  web_profile_info 400 "Asset … has been deleted" → ProfileUnavailable; "useragent mismatch"
  → ClientRefused.
* 429 → RateLimited; other 401 → RateLimited (Instagram's 401 is its "Please wait").
* 403 HTML login page → LoginRequired; other 403 without a JSON message → AddressBlocked.
* 5xx (500, 502 HTML, 560), anything else unexpected, malformed JSON → Transient.
* 200 web_profile_info `{"status":"ok"}` without `data`, and reels_media without a
  `reels_media` list (`{"reels":{},"status":"ok"}`) → LoginRequired (cookies not honoured).

A reel counts only its live items: an item whose `expiring_at` (or, without one, `taken_at` +
24 h) is not after the answer's time is over, and a reel with no live item has no story. The
answer's time is Instagram's own clock (its `Date` header), so a wrong clock here does not
turn a live story into "no story"; without a `Date` header it is this machine's clock.

A reel that proves nothing about its account is `unproven` (the engine retries that id as a
transient answer, never "no story"): one without an `items` list (the facts file only gives
reels with items), and one whose items hold no live story while the reel's own
`latest_reel_media` (+ 24 h) or `expiring_at` says one is live (the answer contradicts itself).
An empty `items` list with no such claim is "no story", as an absent id is (the facts file:
an id absent from `reels_media` has no live story); a listed reel with nothing live in it says
no more and no less. A dense answer that carries `errors` is not proof either, even with a
`reels_media` list (it may be partial): `DenseUnavailable`, and the pair falls back to v1.

Messages hold status codes and Instagram's own short texts only, never a cookie.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from storycheck.engine.errors import (
    ActionBlocked,
    AddressBlocked,
    Challenge,
    ClientRefused,
    DenseUnavailable,
    LoginRequired,
    NotFoundUser,
    ProfileUnavailable,
    RateLimited,
    TooManyIds,
    Transient,
)

Endpoint = Literal["profile", "reels", "graphql"]
UNSUPPORTED_VERSION = "client version refused: update the user agent"
DENSE_REELS_KEY = "xdt_api__v1__feed__reels_media"
# Instagram keeps a story item for 24 hours from its taken_at (the facts file); the one
# definition, also for the story windows and answers (stories.windows, profiles.answers).
STORY_LIFETIME_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ResolvedUser:
    """A username's Instagram identity: numeric id, privacy and whether the session follows it."""

    user_id: str
    is_private: bool
    username: str
    followed_by_viewer: bool = False


@dataclass(frozen=True)
class ReelInfo:
    """The story state of one user id in one answer (epoch seconds for the times)."""

    user_id: str
    has_story: bool
    item_count: int = 0
    oldest_taken_at: int | None = None
    newest_taken_at: int | None = None
    expiring_at: int | None = None
    unproven: str | None = None  # why this reel proves neither a story nor none (retry it)
    username: str | None = None  # the name the reel gives its owner (it changes on a rename)


# ---------------------------------------------------------------------------------- status


def raise_for_answer(response: httpx.Response, endpoint: Endpoint) -> None:
    """Raise the classified error of a non-usable answer; return for a 200 JSON answer."""
    status = response.status_code
    if 300 <= status < 400:
        _raise_for_redirect(status, response.headers.get("location", ""))
    text = _text(response)
    if status == 404 and text.strip() == "Not Found":
        raise Challenge("HTTP 404 Not Found (a masked challenge)", "masked_404")
    body = _json_object(response.content)
    if body is not None:
        _raise_for_message(status, body, endpoint, response)
    if status == 200:
        if _is_html(response, text):
            if _is_login_page(text):
                raise LoginRequired("HTTP 200 login page instead of an answer")
            raise Transient("HTTP 200 HTML instead of JSON")
        return
    if status == 429 or status == 401:
        raise RateLimited(f"HTTP {status} rate limited", retry_after(response))
    if status == 404:
        if endpoint == "profile" and (not text.strip() or body is not None):
            raise NotFoundUser("HTTP 404 user not found")
        raise Transient(f"HTTP 404 on {endpoint}")
    if status == 403:
        if _is_login_page(text):
            raise LoginRequired("HTTP 403 login page")
        if body is None:
            raise AddressBlocked("HTTP 403 from the edge (address blocked)")
    reason = _short(str(body.get("message") or "")) if body else response.reason_phrase
    raise Transient(f"HTTP {status} {reason}".strip())


def _raise_for_redirect(status: int, location: str) -> None:
    lowered = location.lower()
    if "/accounts/login" in lowered:
        raise LoginRequired(f"HTTP {status} redirect to the login page")
    if "/suspended/" in lowered:
        raise Challenge(f"HTTP {status} redirect to a suspension page", "suspended")
    if "challenge" in lowered or "checkpoint" in lowered:
        raise Challenge(f"HTTP {status} redirect to a challenge", "challenge_required")
    raise Transient(f"HTTP {status} unexpected redirect")


def _raise_for_message(
    status: int, body: Mapping[str, Any], endpoint: Endpoint, response: httpx.Response
) -> None:
    message = str(body.get("message") or "")
    lowered = message.lower()
    if lowered in ("checkpoint_required", "challenge_required") or (
        status != 200 and ("checkpoint_url" in body or "challenge" in body)
    ):
        url = _challenge_url(body)
        if "unsupported_version" in url:
            raise ClientRefused(UNSUPPORTED_VERSION)
        if "/suspended/" in url:
            raise Challenge(f"HTTP {status} account suspended", "suspended")
        kind = lowered if lowered in ("checkpoint_required", "challenge_required") else "challenge"
        raise Challenge(f"HTTP {status} {kind}", kind)
    if lowered == "feedback_required" or body.get("spam") is True:
        title = _short(str(body.get("feedback_title") or "Action Blocked"), 40)
        raise ActionBlocked(f"HTTP {status} feedback_required ({title})")
    if "please wait a few minutes" in lowered or status == 429:
        raise RateLimited(
            f"HTTP {status} {_short(message) or 'rate limited'}", retry_after(response)
        )
    if lowered == "login_required":
        raise LoginRequired(f"HTTP {status} login_required")
    if "too many reels" in lowered:
        raise TooManyIds(f"HTTP {status} {_short(message)}")
    if "useragent mismatch" in lowered:
        raise ClientRefused(f"HTTP {status} useragent mismatch (X-IG-App-ID refused)")
    if endpoint == "profile" and status == 400 and "has been deleted" in lowered:
        raise ProfileUnavailable(f"HTTP 400 profile unavailable ({_short(message, 60)})")
    if status == 401:
        raise RateLimited(f"HTTP 401 {_short(message) or 'rate limited'}", retry_after(response))
    if status == 200 and body.get("status") not in (None, "ok"):
        raise Transient(f"HTTP 200 status {_short(str(body.get('status')))} {_short(message)}")


def _challenge_url(body: Mapping[str, Any]) -> str:
    challenge = body.get("challenge")
    urls = [
        body.get("checkpoint_url"),
        challenge.get("url") if isinstance(challenge, Mapping) else None,
    ]
    return " ".join(str(u) for u in urls if u).lower()


# ---------------------------------------------------------------------------------- payloads


def payload_of(response: httpx.Response) -> Mapping[str, Any]:
    """The JSON object of a 200 answer (Transient when it is not one)."""
    payload = _json_object(response.content)
    if payload is None:
        raise Transient("malformed JSON")
    return payload


def read_user(payload: Mapping[str, Any], username: str) -> ResolvedUser:
    """`data.user` of web_profile_info; no `data` at all means the cookies were not honoured."""
    if "data" not in payload:
        raise LoginRequired("web_profile_info answered without data (cookies not honoured)")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise Transient("web_profile_info answer with malformed data")
    user = data.get("user")
    if user is None:
        raise NotFoundUser("data.user is null")
    if not isinstance(user, Mapping) or user.get("id") in (None, ""):
        raise Transient("web_profile_info answer without data.user.id")
    if user.get("is_private") is None:
        # Read as public, an absent reel would become "no story": it proves nothing.
        raise Transient("web_profile_info answer without data.user.is_private")
    return ResolvedUser(
        user_id=str(user["id"]),
        is_private=bool(user["is_private"]),
        username=str(user.get("username") or username),
        followed_by_viewer=bool(user.get("followed_by_viewer", False)),
    )


def read_reels_v1(payload: Mapping[str, Any], *, now: float) -> dict[str, ReelInfo]:
    """Reels of a v1 reels_media answer; only the logged-in shape (a `reels_media` list) counts.

    `now` is the answer's time (`answer_time`): only items live then count.
    """
    media = payload.get("reels_media")
    if media is None:
        raise LoginRequired("reels_media answered without reels_media (cookies not honoured)")
    if not isinstance(media, list):
        raise Transient("reels_media answer with malformed reels_media")
    found = _reels_from_list(media, now)
    reels = payload.get("reels")
    if isinstance(reels, Mapping):
        for key, reel in reels.items():
            if isinstance(reel, Mapping):
                uid = _reel_owner(reel) or str(key)
                _keep(found, reel_info(uid, reel, now=now))
    return found


def read_reels_dense(payload: Mapping[str, Any], *, now: float) -> dict[str, ReelInfo] | None:
    """Reels of a `POST /graphql/query` answer, or None when it lacks the documented shape.

    An answer carrying GraphQL `errors` proves nothing even with a `reels_media` list (the
    data may be partial): DenseUnavailable, so this pair asks v1 reels_media instead.
    """
    errors = payload.get("errors")
    if errors:
        raise DenseUnavailable(f"dense answer with errors ({_first_error(errors)})")
    data = payload.get("data")
    block = data.get(DENSE_REELS_KEY) if isinstance(data, Mapping) else None
    media = block.get("reels_media") if isinstance(block, Mapping) else None
    if not isinstance(media, list):
        return None
    return _reels_from_list(media, now)


def _first_error(errors: Any) -> str:
    first = errors[0] if isinstance(errors, list) else errors
    if isinstance(first, Mapping):
        text = first.get("summary") or first.get("message") or "error"
        code = first.get("code")
        return _short(f"{text} {code}" if code is not None else str(text), 60)
    return _short(str(first), 60)


def _reels_from_list(media: list[Any], now: float) -> dict[str, ReelInfo]:
    found: dict[str, ReelInfo] = {}
    for reel in media:
        if isinstance(reel, Mapping):
            uid = _reel_owner(reel)
            if uid:
                _keep(found, reel_info(uid, reel, now=now))
    return found


def _keep(found: dict[str, ReelInfo], info: ReelInfo) -> None:
    """Keep the strongest reading of an id seen twice in one answer: a story, else an
    unproven reel (a part of the answer that claims a story doubts the other's "none")."""
    current = found.get(info.user_id)
    if current is None or info.has_story or (not current.has_story and info.unproven):
        found[info.user_id] = info


def _reel_username(reel: Mapping[str, Any]) -> str | None:
    """The owner's username as the reel gives it (`user`/`owner`), or None."""
    for key in ("user", "owner"):
        owner = reel.get(key)
        if isinstance(owner, Mapping) and isinstance(owner.get("username"), str):
            return str(owner["username"]) or None
    return None


def _reel_owner(reel: Mapping[str, Any]) -> str:
    for key in ("user", "owner"):
        owner = reel.get(key)
        if isinstance(owner, Mapping) and owner.get("pk", owner.get("id")) not in (None, ""):
            return str(owner.get("pk", owner.get("id")))
    value = reel.get("id")
    return "" if value in (None, "") else str(value)


def reel_info(uid: str, reel: Mapping[str, Any], *, now: float) -> ReelInfo:
    """Count, oldest/newest `taken_at` and latest `expiring_at` of the reel's live items
    (`unproven` when the reel cannot tell: no `items` list, or none live against its own
    `latest_reel_media` / `expiring_at`)."""
    username = _reel_username(reel)
    items = reel.get("items")
    if not isinstance(items, list):
        return ReelInfo(
            user_id=uid, has_story=False, unproven="reel without items", username=username
        )
    entries = [i for i in items if isinstance(i, Mapping) and _live(i, now)]
    if not entries:
        if _claims_live(reel, now):
            return ReelInfo(
                user_id=uid,
                has_story=False,
                unproven="reel without a live item, though its own times say one is live",
                username=username,
            )
        return ReelInfo(user_id=uid, has_story=False, username=username)
    taken = _times(entries, "taken_at")
    expiring = _times(entries, "expiring_at")
    reel_expiring = _int(reel.get("expiring_at"))
    if reel_expiring is not None and reel_expiring > now:
        expiring.append(reel_expiring)
    return ReelInfo(
        user_id=uid,
        has_story=True,
        item_count=len(entries),
        oldest_taken_at=min(taken) if taken else None,
        newest_taken_at=max(taken) if taken else None,
        expiring_at=max(expiring) if expiring else None,
        username=username,
    )


def _live(entry: Mapping[str, Any], now: float) -> bool:
    """False for an item that is over at `now` (expiring_at, else taken_at + 24 h, passed)."""
    expiring = _time(entry, "expiring_at")
    if expiring is None:
        taken = _time(entry, "taken_at")
        if taken is None:
            return True  # nothing tells when it ends
        expiring = taken + STORY_LIFETIME_SECONDS
    return now < expiring


def _claims_live(reel: Mapping[str, Any], now: float) -> bool:
    """True when the reel's own `latest_reel_media` (+ 24 h) or `expiring_at` is after `now`."""
    latest = _int(reel.get("latest_reel_media"))
    if latest is not None and latest > 0 and now < latest + STORY_LIFETIME_SECONDS:
        return True
    expiring = _int(reel.get("expiring_at"))
    return expiring is not None and now < expiring


def answer_time(response: httpx.Response) -> float:
    """When Instagram answered, by its own clock (`Date` header); this machine's without one."""
    value = response.headers.get("date")
    if value:
        try:
            moment = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if math.isfinite(moment):
                return moment
    return time.time()


# ---------------------------------------------------------------------------------- helpers


def retry_after(response: httpx.Response) -> float | None:
    """Seconds of a `Retry-After` header (delta or HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _times(entries: list[Mapping[str, Any]], key: str) -> list[int]:
    values = (_time(e, key) for e in entries)
    return [v for v in values if v is not None]


def _time(entry: Mapping[str, Any], key: str) -> int | None:
    # v1 names the field `taken_at`; older GraphQL shapes `taken_at_timestamp`.
    return _int(entry.get(key, entry.get(f"{key}_timestamp")))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json_object(content: bytes) -> Mapping[str, Any] | None:
    if not content:
        return None
    try:
        payload = json.loads(content)
    except ValueError:
        return None
    return payload if isinstance(payload, Mapping) else None


def _text(response: httpx.Response) -> str:
    # Only the head matters (a title, "Not Found"); decoding megabytes of HTML would not.
    return response.content[:4096].decode("utf-8", "replace")


def _is_html(response: httpx.Response, text: str) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "text/html" in content_type or text.lstrip()[:1] == "<"


def _is_login_page(text: str) -> bool:
    lowered = text.lower()
    return "<" in lowered and ("login • instagram" in lowered or "/accounts/login" in lowered)


def _short(text: str, limit: int = 80) -> str:
    return " ".join(text.split())[:limit]
