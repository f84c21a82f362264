"""Async Instagram web client for one proxy + session pair (DESIGN.md §4.1, §4.2).

One `InstagramClient` per pair: its `httpx.AsyncClient` is bound to the pair's proxy, so the
session cookie never travels through another proxy. Each method sends exactly one request to
Instagram (one unit of the pair's pacing budget) and either returns a parsed result or raises
one of the classified errors of `storycheck.engine.errors` (see `storycheck.engine.answers`).

It looks like the web app (docs/instagram-facts.md "Headers and cookies"): the browser's full
cookie set, `X-CSRFToken` equal to the csrftoken cookie, `X-IG-WWW-Claim` ("0" until Instagram
sets one), `Sec-Fetch-*`, `Referer`, the app id and the pair's user agent. Cookies Instagram
rotates and the www-claim are kept, and `take_rotated()` hands them to whoever persists them.

A failure before any byte of the answer (reset, a dropped keep-alive, refused, a proxy
handshake) is retried once at once on a fresh connection; a second one, or no answer within
the request's deadline, is `ConnectionFailed`: the pair's problem, never the items'.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import re
import ssl
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx

from storycheck.engine.answers import (
    Endpoint,
    ReelInfo,
    ResolvedUser,
    answer_time,
    payload_of,
    raise_for_answer,
    read_reels_dense,
    read_reels_v1,
    read_user,
)
from storycheck.engine.errors import (
    PAIR_PROBLEMS,
    ConnectionFailed,
    DenseUnavailable,
    IgError,
    Transient,
)

# httpcore asks `import sniffio` on every request; without sniffio installed each failed import
# walks sys.path (~0.4 ms). Record the absence once, so the import fails instantly.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

IG_APP_ID = "936619743392459"
ASBD_ID = "129477"
# The one default user agent of every pair (a pair may set its own): a current desktop
# Chrome, as instaloader sends in 2026; an old Chrome major has been answered 401 "Please wait".
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36"
)
V1_IDS_PER_REQUEST = 20  # Instagram answers "Too many reels requested" above this
DENSE_IDS_PER_REQUEST = 50
V1_MAX_IDS = 50  # the setting's upper bound; Instagram itself refuses more than 20 today
# The cookies of a logged-in browser, in the order a browser sends them.
COOKIE_NAMES = ("csrftoken", "mid", "ig_did", "ds_user_id", "sessionid", "rur")
# Cookies Instagram rotates through Set-Cookie; the new values are kept and persisted.
ROTATING_COOKIES = frozenset({"csrftoken", "rur", "sessionid", "mid", "ig_did"})
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
    cookies: tuple[tuple[str, str], ...] = ()  # mid, ig_did, rur…: secret
    www_claim: str | None = None  # secret (tied to the session)
    user_agent: str | None = None  # None: DEFAULT_USER_AGENT

    def __repr__(self) -> str:
        return f"PairIdentity(proxy={self.proxy_id}, session={self.session_id}, {self.label})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """Every secret string of this pair (and its URL-encoded forms), for redaction."""
        values: list[str] = [self.sessionid, unquote(self.sessionid)]
        values.extend(v for v in (self.csrftoken, self.www_claim) if v)
        values.extend(value for _, value in self.cookies)
        if self.proxy_url:
            userinfo = _USERINFO.search(self.proxy_url)
            if userinfo:
                creds = userinfo.group(0)[:-1]
                values.append(creds)
                if ":" in creds:
                    password = creds.split(":", 1)[1]
                    values.extend((password, unquote(password)))
        return tuple(v for v in values if v and len(v) >= 3)

    def cookie_jar(self) -> dict[str, str]:
        """The cookies this identity sends, by name (sessionid always)."""
        jar = dict(self.cookies)
        jar["sessionid"] = self.sessionid
        if self.csrftoken:
            jar["csrftoken"] = self.csrftoken
        if self.ds_user_id:
            jar["ds_user_id"] = self.ds_user_id
        return jar


@dataclass(frozen=True, repr=False)
class RotatedState:
    """Cookies and www-claim as Instagram last set them, for persisting; secret."""

    cookies: Mapping[str, str]  # every cookie of the jar, rotated or not
    www_claim: str | None

    def __repr__(self) -> str:
        return f"RotatedState(cookies={sorted(self.cookies)})"

    __str__ = __repr__


def proxy_url(scheme: str, host: str, port: int, username: str | None, password: str | None) -> str:
    """Build a proxy URL with percent-encoded credentials (`socks5://u:p@host:port`)."""
    if username:
        auth = quote(username, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        return f"{scheme}://{auth}@{host}:{port}"
    return f"{scheme}://{host}:{port}"


@dataclass
class ClientStats:
    """What the client measured about its requests (for pair health)."""

    last_elapsed: float = 0.0
    requests: int = 0
    reconnects: int = 0  # fresh connections after a failure before any answer byte


class InstagramClient:
    """Talks to Instagram (or the simulator) as one pair; one request per method call."""

    def __init__(
        self,
        identity: PairIdentity,
        *,
        base_url: str = "https://www.instagram.com",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        user_agent: str | None = None,
        max_connections: int = 4,
    ) -> None:
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.stats = ClientStats()
        self.user_agent = user_agent or identity.user_agent or DEFAULT_USER_AGENT
        self._jar = identity.cookie_jar()
        self._www_claim = identity.www_claim or "0"
        self._changed = False
        # Every sessionid this client has used: a reloaded identity carrying one of them is
        # this client's own (rotated) state, not a new cookie from the user.
        self.known_sessionids = {identity.sessionid}
        self._secrets = set(identity.secrets())
        self._transport = transport
        self._transport_factory = transport_factory
        self._max_connections = max_connections
        self._http = self._new_http()

    def __repr__(self) -> str:
        return f"InstagramClient({self.identity!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._close_http(self._http)

    # ------------------------------------------------------------------ requests

    async def resolve(self, username: str, *, timeout: float | None = None) -> ResolvedUser:
        """Look up `username` → id, privacy, follow state; NotFoundUser when it does not exist."""
        response = await self._request(
            "GET",
            "/api/v1/users/web_profile_info/",
            "profile",
            params={"username": username},
            referer=f"{self.base_url}/{quote(username)}/",
            timeout=timeout,
        )
        return read_user(payload_of(response), username)

    async def stories(
        self,
        user_ids: Sequence[str],
        *,
        dense_doc_id: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, ReelInfo]:
        """Ask for the live stories of `user_ids` in one request; every id gets a ReelInfo.

        v1 reels_media (≤ 20 ids) unless `dense_doc_id` is given: then the web app's
        `POST /graphql/query` with that doc_id. An id absent from a proven answer has no
        visible story; only items live at the answer's `Date` count. Raises TooManyIds when
        Instagram refuses the number of ids, and DenseUnavailable for any dense failure that
        is not the pair's problem.
        """
        ids = list(dict.fromkeys(str(i) for i in user_ids))
        if not ids:
            return {}
        if dense_doc_id:
            reels = await self._stories_dense(ids, dense_doc_id, timeout)
        else:
            response = await self._request(
                "GET",
                "/api/v1/feed/reels_media/",
                "reels",
                params=[("reel_ids", uid) for uid in ids],
                referer=f"{self.base_url}/",
                timeout=timeout,
            )
            reels = read_reels_v1(payload_of(response), now=answer_time(response))
        return {uid: reels.get(uid) or ReelInfo(user_id=uid, has_story=False) for uid in ids}

    async def _stories_dense(
        self, ids: list[str], doc_id: str, timeout: float | None
    ) -> dict[str, ReelInfo]:
        variables = json.dumps(
            {"reel_ids": ids, "precomposed_overlay": False}, separators=(",", ":")
        )
        try:
            response = await self._request(
                "POST",
                "/graphql/query",
                "graphql",
                data={"doc_id": doc_id, "variables": variables, "server_timestamps": "true"},
                referer=f"{self.base_url}/",
                timeout=timeout,
            )
            reels = read_reels_dense(payload_of(response), now=answer_time(response))
        except IgError as exc:
            if exc.classification in PAIR_PROBLEMS:
                raise
            raise DenseUnavailable(f"dense story query failed ({exc.message})") from None
        if reels is None:
            raise DenseUnavailable("dense story query answered without reels_media")
        return reels

    # ------------------------------------------------------------------ rotated state

    def take_rotated(self) -> RotatedState | None:
        """The cookies and www-claim when Instagram changed them since the last call, else None."""
        if not self._changed:
            return None
        self._changed = False
        claim = None if self._www_claim == "0" else self._www_claim
        return RotatedState(dict(self._jar), claim)

    def mark_unsaved(self) -> None:
        """Offer the current state again on the next `take_rotated()` (saving it failed)."""
        self._changed = True

    # ------------------------------------------------------------------ plumbing

    def _headers(self, referer: str, method: str) -> dict[str, str]:
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "*/*",
            "Accept-Language": "en-US,en;q=0.9",
            "X-IG-App-ID": IG_APP_ID,
            "X-ASBD-ID": ASBD_ID,
            "X-IG-WWW-Claim": self._www_claim,
            "X-Requested-With": "XMLHttpRequest",
            "Referer": referer,
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
            "Cookie": "; ".join(
                f"{name}={self._jar[name]}"
                for name in (*COOKIE_NAMES, *sorted(set(self._jar) - set(COOKIE_NAMES)))
                if self._jar.get(name)
            ),
        }
        if self._jar.get("csrftoken"):
            headers["X-CSRFToken"] = self._jar["csrftoken"]
        if method == "POST":
            headers["Origin"] = self.base_url
        return headers

    async def _request(
        self,
        method: str,
        path: str,
        endpoint: Endpoint,
        *,
        referer: str,
        timeout: float | None,
        params: Any = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        limit = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        self.stats.requests += 1
        try:
            try:
                response = await self._send_once(method, path, params, data, referer, limit)
            except _NoAnswer:
                # A connection the proxy was closing, a reset, a refused keep-alive: nothing
                # of Instagram's answer arrived, so the same request on a fresh connection of
                # the same pair is still the one request the budget counted.
                self.stats.reconnects += 1
                await self._fresh_connection()
                try:
                    response = await self._send_once(method, path, params, data, referer, limit)
                except _NoAnswer as exc:
                    raise ConnectionFailed(f"no answer, twice: {exc}") from None
        finally:
            self.stats.last_elapsed = time.monotonic() - started
        self._take_cookies(response)
        raise_for_answer(response, endpoint)
        return response

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Any,
        data: Mapping[str, str] | None,
        referer: str,
        limit: float,
    ) -> httpx.Response:
        request = self._http.build_request(
            method,
            self.base_url + path,
            params=params,
            data=data,
            headers=self._headers(referer, method),
            timeout=httpx.Timeout(limit),
        )
        headers_arrived = False
        try:
            # One deadline over the proxy handshake, the request and the whole body: httpx's
            # own timeouts do not bound a SOCKS greeting that never completes.
            async with asyncio.timeout(limit):
                response = await self._http.send(request, stream=True)
                headers_arrived = True
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            if headers_arrived:
                raise Transient("answer cut off by the deadline") from None
            raise ConnectionFailed(f"no answer within {limit:g} s ({type(exc).__name__})") from None
        except (httpx.TransportError, OSError) as exc:
            text = f"{type(exc).__name__}: {self._redact(str(exc))[:120]}"
            if headers_arrived:
                raise Transient(f"answer cut off ({text})") from None
            raise _NoAnswer(text) from None
        return response

    async def _fresh_connection(self) -> None:
        old, self._http = self._http, self._new_http()
        await self._close_http(old)

    def _new_http(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=2)
        kwargs: dict[str, Any] = {
            "timeout": httpx.Timeout(self.timeout),
            "follow_redirects": False,
            "limits": limits,
            "trust_env": False,
            "verify": _ssl_context(),
        }
        if self._transport_factory is not None:
            kwargs["transport"] = self._transport_factory()
        elif self._transport is not None:
            kwargs["transport"] = self._transport
        elif self.identity.proxy_url:
            kwargs["proxy"] = self.identity.proxy_url
        return httpx.AsyncClient(**kwargs)

    async def _close_http(self, http: httpx.AsyncClient) -> None:
        if self._transport is not None and self._transport_factory is None:
            return  # a transport handed in is the caller's to close
        await http.aclose()

    def _take_cookies(self, response: httpx.Response) -> None:
        # Our Cookie header is built from `_jar`; httpx's own jar would add Instagram's cookies
        # a second time (and across domains), so it is emptied after reading what was set.
        self._http.cookies.clear()
        for header in response.headers.get_list("set-cookie"):
            name, value = _set_cookie(header)
            if name in ROTATING_COOKIES and value and self._jar.get(name) != value:
                self._jar[name] = value
                self._add_secret(value)
                if name == "sessionid":
                    self.known_sessionids.add(value)
                self._changed = True
        claim = response.headers.get("x-ig-set-www-claim")
        if claim and claim != self._www_claim:
            self._www_claim = claim
            self._add_secret(claim)
            self._changed = True

    def _add_secret(self, value: str) -> None:
        if len(value) >= 3:  # redacting "0" would garble every message, and hides nothing
            self._secrets.add(value)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


class _NoAnswer(Exception):
    """No byte of the answer arrived (internal: retried once, then ConnectionFailed)."""


def _set_cookie(header: str) -> tuple[str, str | None]:
    """Name and value of one Set-Cookie header; the value is None for a deletion."""
    pair, _, attributes = header.partition(";")
    name, _, value = pair.partition("=")
    # Quotes are part of the value (rur is set as "CLN\054…"): sent back exactly as set.
    value = value.strip()
    lowered = attributes.lower().replace(" ", "")
    deleted = re.search(r"max-age=0(;|$)", lowered) or "expires=thu,01-jan-1970" in lowered
    if not value or value == '""' or deleted:
        return name.strip(), None
    return name.strip(), value


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and any URL userinfo) in `text` with `***`."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return _USERINFO.sub("***@", text)


__all__ = [
    "DEFAULT_USER_AGENT",
    "DENSE_IDS_PER_REQUEST",
    "IG_APP_ID",
    "V1_IDS_PER_REQUEST",
    "IgError",
    "InstagramClient",
    "PairIdentity",
    "ReelInfo",
    "ResolvedUser",
    "RotatedState",
    "proxy_url",
    "redact",
]
