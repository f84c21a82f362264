"""Async Instagram web client for one proxy + session pair (DESIGN.md §4.1, §4.2).

One `InstagramClient` per pair: its `httpx.AsyncClient` is bound to the pair's proxy, so the
session cookie never travels through another proxy. Each method sends exactly one HTTP
request (one unit of the pair's pacing budget) and either returns a parsed result or raises
one of the classified errors of `storycheck.engine.errors`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
import ssl
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx

from storycheck.engine.errors import (
    Challenge,
    DenseUnavailable,
    IgError,
    LoginRequired,
    NotFoundUser,
    RateLimited,
    TooManyIds,
    Transient,
)

# httpcore asks `import sniffio` on every request; without sniffio installed each failed import
# walks sys.path (~0.4 ms). Record the absence once, so the import fails instantly.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

IG_APP_ID = "936619743392459"
REELS_QUERY_HASH = "303a4ae99711322310f25250d988f3b7"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
DENSE_IDS_PER_REQUEST = 50
CHALLENGE_MESSAGES = ("challenge_required", "checkpoint_required", "feedback_required")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~20 ms; one context serves every pair's client.
    return httpx.create_ssl_context()


@dataclass(frozen=True, repr=False)
class PairIdentity:
    """Everything needed to talk as one pair; holds secrets, so its repr shows ids only."""

    proxy_id: str
    session_id: str
    label: str  # "scheme://host:port" without credentials, safe for logs
    proxy_url: str | None  # with credentials: secret
    sessionid: str  # secret
    csrftoken: str | None = None  # secret
    ds_user_id: str | None = None

    def __repr__(self) -> str:
        return f"PairIdentity(proxy={self.proxy_id}, session={self.session_id}, {self.label})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """Every secret string of this pair (and its URL-encoded forms), for redaction."""
        values: list[str] = [self.sessionid, unquote(self.sessionid)]
        if self.csrftoken:
            values.append(self.csrftoken)
        if self.proxy_url:
            userinfo = _USERINFO.search(self.proxy_url)
            if userinfo:
                creds = userinfo.group(0)[:-1]
                values.append(creds)
                if ":" in creds:
                    password = creds.split(":", 1)[1]
                    values.extend((password, unquote(password)))
        return tuple(v for v in values if v and len(v) >= 3)


def proxy_url(scheme: str, host: str, port: int, username: str | None, password: str | None) -> str:
    """Build a proxy URL with percent-encoded credentials (`socks5://u:p@host:port`)."""
    if username:
        auth = quote(username, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        return f"{scheme}://{auth}@{host}:{port}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class ResolvedUser:
    """A username's Instagram identity: numeric id and privacy."""

    user_id: str
    is_private: bool
    username: str
    followed_by_viewer: bool = False


@dataclass(frozen=True)
class ReelInfo:
    """The story state of one user id in one answer."""

    user_id: str
    has_story: bool
    item_count: int = 0
    oldest_taken_at: int | None = None
    newest_taken_at: int | None = None
    expiring_at: int | None = None


@dataclass
class ClientStats:
    """What the client measured about its requests (for pair health)."""

    last_elapsed: float = 0.0
    requests: int = 0


class InstagramClient:
    """Talks to Instagram (or the simulator) as one pair; one request per method call."""

    def __init__(
        self,
        identity: PairIdentity,
        *,
        base_url: str = "https://www.instagram.com",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        max_connections: int = 4,
    ) -> None:
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.stats = ClientStats()
        self._csrftoken = identity.csrftoken
        self._secrets = identity.secrets()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=2)
        kwargs: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout),
            "follow_redirects": False,
            "limits": limits,
            "trust_env": False,
            "verify": _ssl_context(),
        }
        if transport is not None:
            kwargs["transport"] = transport
        elif identity.proxy_url:
            kwargs["proxy"] = identity.proxy_url
        self._http = httpx.AsyncClient(**kwargs)
        self._user_agent = user_agent

    def __repr__(self) -> str:
        return f"InstagramClient({self.identity!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ------------------------------------------------------------------ requests

    async def resolve(self, username: str, *, timeout: float | None = None) -> ResolvedUser:
        """Look up `username` → user id and privacy; raises NotFoundUser when it does not exist."""
        response = await self._get(
            "/api/v1/users/web_profile_info/",
            params={"username": username},
            referer=f"{self.base_url}/{quote(username)}/",
            timeout=timeout,
        )
        if response.status_code == 404:
            raise NotFoundUser("404 user not found")
        payload = self._payload(response)
        data = payload.get("data")
        user = data.get("user") if isinstance(data, Mapping) else None
        if user is None and isinstance(data, Mapping):
            raise NotFoundUser("user is null")
        if not isinstance(user, Mapping) or user.get("id") in (None, ""):
            raise Transient("web_profile_info answer without data.user.id")
        return ResolvedUser(
            user_id=str(user["id"]),
            is_private=bool(user.get("is_private", False)),
            username=str(user.get("username") or username),
        )

    async def stories(
        self, user_ids: Sequence[str], *, dense: bool = True, timeout: float | None = None
    ) -> dict[str, ReelInfo]:
        """Ask for the live stories of `user_ids` in one request; every id gets a ReelInfo.

        `dense` uses the GraphQL form (up to 50 ids); otherwise v1 reels_media. Raises
        TooManyIds when Instagram refuses the number of ids, DenseUnavailable when the
        GraphQL form itself is refused.
        """
        ids = list(dict.fromkeys(str(i) for i in user_ids))
        if not ids:
            return {}
        if dense:
            reels = await self._stories_graphql(ids, timeout)
        else:
            reels = await self._stories_v1(ids, timeout)
        return {uid: reels.get(uid) or ReelInfo(user_id=uid, has_story=False) for uid in ids}

    async def _stories_v1(self, ids: list[str], timeout: float | None) -> dict[str, ReelInfo]:
        response = await self._get(
            "/api/v1/feed/reels_media/",
            params=[("reel_ids", uid) for uid in ids],
            referer=f"{self.base_url}/",
            timeout=timeout,
        )
        payload = self._payload(response)
        reels = payload.get("reels")
        if reels is None and isinstance(payload.get("reels_media"), list):
            reels = {str(r.get("id")): r for r in payload["reels_media"] if isinstance(r, Mapping)}
        if not isinstance(reels, Mapping):
            raise Transient("reels_media answer without reels")
        found: dict[str, ReelInfo] = {}
        for key, reel in reels.items():
            if not isinstance(reel, Mapping):
                continue
            uid = str(reel.get("id") or key)
            info = _reel_info(uid, reel.get("items"), "taken_at", "expiring_at", reel)
            found[uid] = info
            found.setdefault(str(key), info)
        return found

    async def _stories_graphql(self, ids: list[str], timeout: float | None) -> dict[str, ReelInfo]:
        variables = json.dumps(
            {"reel_ids": ids, "precomposed_overlay": False}, separators=(",", ":")
        )
        try:
            response = await self._get(
                "/graphql/query/",
                params={"query_hash": REELS_QUERY_HASH, "variables": variables},
                referer=f"{self.base_url}/",
                timeout=timeout,
            )
            payload = self._payload(response)
        except Transient as exc:
            if exc.message.startswith(("HTTP 400", "HTTP 404", "HTTP 405", "HTTP 410")):
                raise DenseUnavailable(f"GraphQL reels query refused ({exc.message})") from None
            raise
        data = payload.get("data")
        media = data.get("reels_media") if isinstance(data, Mapping) else None
        if not isinstance(media, list):
            raise DenseUnavailable("GraphQL answer without data.reels_media")
        found: dict[str, ReelInfo] = {}
        for reel in media:
            if not isinstance(reel, Mapping):
                continue
            owner = reel.get("owner")
            uid = str(
                reel.get("id") or (owner.get("id") if isinstance(owner, Mapping) else "") or ""
            )
            if uid:
                found[uid] = _reel_info(
                    uid, reel.get("items"), "taken_at_timestamp", "expiring_at_timestamp", reel
                )
        return found

    # ------------------------------------------------------------------ plumbing

    def _headers(self, referer: str) -> dict[str, str]:
        cookie = f"sessionid={self.identity.sessionid}"
        if self._csrftoken:
            cookie += f"; csrftoken={self._csrftoken}"
        if self.identity.ds_user_id:
            cookie += f"; ds_user_id={self.identity.ds_user_id}"
        headers = {
            "User-Agent": self._user_agent,
            "Accept": "*/*",
            "Accept-Language": "en-US,en;q=0.9",
            "X-IG-App-ID": IG_APP_ID,
            "X-Requested-With": "XMLHttpRequest",
            "X-ASBD-ID": "129477",
            "Referer": referer,
            "Cookie": cookie,
        }
        if self._csrftoken:
            headers["X-CSRFToken"] = self._csrftoken
        return headers

    async def _get(
        self,
        path: str,
        *,
        params: Any,
        referer: str,
        timeout: float | None,
    ) -> httpx.Response:
        started = time.monotonic()
        self.stats.requests += 1
        try:
            response = await self._http.get(
                self.base_url + path,
                params=params,
                headers=self._headers(referer),
                timeout=httpx.Timeout(timeout if timeout is not None else self.timeout),
            )
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout ({type(exc).__name__})") from None
        except httpx.ProxyError as exc:
            raise Transient(f"proxy error: {self._redact(str(exc))[:120]}") from None
        except (httpx.TransportError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {self._redact(str(exc))[:120]}") from None
        finally:
            self.stats.last_elapsed = time.monotonic() - started
        self._take_csrftoken(response)
        self._raise_for_answer(response)
        return response

    def _take_csrftoken(self, response: httpx.Response) -> None:
        # The jar would add Instagram's rotating cookies to later requests next to our own
        # Cookie header; keep only a rotated csrftoken and forget the rest.
        token = response.cookies.get("csrftoken")
        if token:
            self._csrftoken = token
        self._http.cookies.clear()

    def _raise_for_answer(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in (301, 302, 303, 307, 308):
            location = response.headers.get("location", "")
            if "/accounts/login" in location:
                raise LoginRequired(f"HTTP {status} redirect to the login page")
            if "challenge" in location or "checkpoint" in location:
                raise Challenge(f"HTTP {status} redirect to a challenge", "challenge_required")
            raise Transient(f"HTTP {status} unexpected redirect")
        body = _json_or_none(response)
        message = str(body.get("message") or "") if body else ""
        lowered = message.lower()
        if status == 429 or "please wait a few minutes" in lowered or "rate limit" in lowered:
            raise RateLimited(
                f"HTTP {status} {message or 'rate limited'}"[:200], _retry_after(response)
            )
        if body is not None:
            for kind in CHALLENGE_MESSAGES:
                if lowered == kind or kind in body:
                    raise Challenge(f"HTTP {status} {kind}", kind)
            if lowered == "login_required" or body.get("require_login") is True:
                raise LoginRequired(f"HTTP {status} login_required")
            if "too many reels" in lowered:
                raise TooManyIds(f"HTTP {status} {message}"[:200])
        if status == 404:
            return  # resolve() turns 404 into NotFoundUser; other callers see no payload
        if status in (401, 403) and body is None:
            raise LoginRequired(f"HTTP {status} without a body")
        summary = _short(message) if message else response.reason_phrase
        raise Transient(f"HTTP {status} {summary}".strip())

    def _payload(self, response: httpx.Response) -> Mapping[str, Any]:
        if response.status_code == 404:
            raise Transient("HTTP 404")
        try:
            payload = json.loads(response.content)
        except ValueError:
            raise Transient("malformed JSON") from None
        if not isinstance(payload, Mapping):
            raise Transient("malformed JSON (not an object)")
        if payload.get("status") not in (None, "ok"):
            message = _short(str(payload.get("message") or payload.get("status")))
            raise Transient(f"HTTP {response.status_code} status {message}")
        return payload

    def _redact(self, text: str) -> str:
        return redact(text, (*self._secrets, self._csrftoken or ""))


def _reel_info(
    uid: str, items: Any, taken_key: str, expiring_key: str, reel: Mapping[str, Any]
) -> ReelInfo:
    entries = [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []
    if not entries:
        return ReelInfo(user_id=uid, has_story=False)
    taken = [_int(i.get(taken_key)) for i in entries]
    expiring = [_int(i.get(expiring_key)) for i in entries]
    reel_expiring = _int(reel.get("expiring_at"))
    known_taken = [t for t in taken if t is not None]
    known_expiring = [e for e in expiring if e is not None]
    if reel_expiring is not None:
        known_expiring.append(reel_expiring)
    return ReelInfo(
        user_id=uid,
        has_story=True,
        item_count=len(entries),
        newest_taken_at=max(known_taken) if known_taken else None,
        expiring_at=max(known_expiring) if known_expiring else None,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json_or_none(response: httpx.Response) -> Mapping[str, Any] | None:
    if not response.content:
        return None
    try:
        payload = json.loads(response.content)
    except ValueError:
        return None
    return payload if isinstance(payload, Mapping) else None


def _retry_after(response: httpx.Response) -> float | None:
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


def _short(text: str, limit: int = 80) -> str:
    return " ".join(text.split())[:limit]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and any URL userinfo) in `text` with `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _USERINFO.sub("***@", text)


__all__ = [
    "DEFAULT_USER_AGENT",
    "DENSE_IDS_PER_REQUEST",
    "IG_APP_ID",
    "REELS_QUERY_HASH",
    "IgError",
    "InstagramClient",
    "PairIdentity",
    "ReelInfo",
    "ResolvedUser",
    "proxy_url",
    "redact",
]
