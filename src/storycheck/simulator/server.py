"""The simulator's HTTP server: Instagram's story endpoints, its errors, and the /__sim__ API.

Instagram endpoints (all need ``X-IG-App-ID`` and a ``sessionid`` cookie):

* ``GET /api/v1/users/web_profile_info/?username=U`` — profile lookup; 404 with an empty
  body for usernames that do not exist.
* ``GET /api/v1/feed/reels_media/?reel_ids=A&reel_ids=B`` (or ``A,B``) — live stories; users
  without a visible story are absent; more ids than the cap → 400 "Too many reels requested".
* ``GET /graphql/query/?query_hash=303a…&variables={"reel_ids":[…]}`` — the dense form.

Each request passes, in order: injected faults and latency, the app-id header check, the
session check (login_required / challenge), the sliding-window limits (a request arriving
over a limit is refused and recorded as a violation), then the endpoint itself. The referee
records exactly one outcome per request.

Referee and control endpoints live under ``/__sim__/`` (stats, reset, truth, sessions,
faults, clock, config) and are neither limited, faulted nor counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiohttp import web

from storycheck.simulator.background import BackgroundService
from storycheck.simulator.clock import SimClock
from storycheck.simulator.config import SimulatorConfig
from storycheck.simulator.faults import Fault, FaultInjector
from storycheck.simulator.limits import Category, Limiter
from storycheck.simulator.referee import Referee
from storycheck.simulator.sessions import (
    CHALLENGE_STATES,
    SessionRegistry,
    SessionState,
    session_ids_for,
)
from storycheck.simulator.truth import (
    Profile,
    StoryItem,
    Truth,
    normalize_username,
    user_id_for,
)

logger = logging.getLogger(__name__)

REELS_QUERY_HASH = "303a4ae99711322310f25250d988f3b7"
INSTAGRAM_APP_ID = "936619743392459"
JSON_TYPE = "application/json"
RATE_LIMIT_MESSAGE = "Please wait a few minutes before you try again."

Answer = tuple[int, bytes, str]
"""An endpoint's answer: HTTP status, body bytes and the referee's outcome name."""


def _dumps(payload: Any) -> bytes:
    """Serialize `payload` compactly, as Instagram does."""
    return json.dumps(payload, separators=(",", ":")).encode()


def _fail(message: str, **extra: Any) -> bytes:
    """Return an Instagram failure body."""
    return _dumps({"message": message, **extra, "status": "fail"})


_LOGIN_REQUIRED = _fail("login_required")
_RATE_LIMITED = _dumps({"message": RATE_LIMIT_MESSAGE, "require_login": True, "status": "fail"})
_TOO_MANY_REELS = _fail("Too many reels requested")
_USERAGENT_MISMATCH = _fail("useragent mismatch")
_SERVER_ERROR = _fail("Oops, an error occurred.")
_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Login \xe2\x80\xa2 Instagram</title></head>"
    b"<body></body></html>"
)


def _challenge_body(state: str, session: str) -> bytes:
    """Return the 400 body Instagram sends for a session stuck in a challenge state."""
    user = session.split("%3A", 1)[0]
    if state == "checkpoint_required":
        return _fail(
            "checkpoint_required",
            checkpoint_url=f"https://www.instagram.com/challenge/{user}/",
            lock=True,
            flow_render_type=0,
        )
    if state == "feedback_required":
        return _fail(
            "feedback_required",
            spam=True,
            feedback_title="Try Again Later",
            feedback_message="We restrict certain activity to protect our community.",
            feedback_url="repute/report_problem/scraping/",
        )
    return _fail(
        "challenge_required",
        challenge={
            "url": f"https://www.instagram.com/challenge/?next=/api/v1/users/{user}/",
            "api_path": f"/challenge/{user}/",
            "hide_webview_header": True,
            "lock": True,
            "logout": False,
            "native_flow": True,
            "flow_render_type": 0,
        },
    )


def parse_time(text: str | None, default: float) -> float:
    """Parse unix seconds or an ISO-8601 time (naive means UTC); empty means `default`."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class SimulatorState:
    """All mutable state of one simulator; owned by the event loop that serves it."""

    def __init__(self, config: SimulatorConfig) -> None:
        """Build the world, sessions, limits, faults and referee described by `config`."""
        self.config = config
        self.clock = SimClock(config.clock)
        self.truth = Truth(config.seed, config.population)
        self.sessions = SessionRegistry(
            [*session_ids_for(config.seed, config.sessions), *config.session_ids],
            accept_any=config.accept_any_session,
        )
        self.limiter = Limiter(config.limits)
        self.faults = FaultInjector(config.faults, config.seed)
        self.referee = Referee(config.violation_samples)

    def reset(self, *, sessions: bool = False) -> None:
        """Clear the referee's record and every limit window (and session flags if asked)."""
        self.referee.reset()
        self.limiter.reset()
        if sessions:
            self.sessions.restore_all()

    def describe(self) -> dict[str, Any]:
        """Return the effective settings as JSON-ready data (the /__sim__/config body)."""
        config = self.config
        limits = config.limits
        population = config.population
        return {
            "seed": config.seed,
            "reel_ids_cap": config.reel_ids_cap,
            "graphql_reel_ids_cap": config.graphql_reel_ids_cap,
            "rate_limit_status": config.rate_limit_status,
            "retry_after": config.retry_after,
            "login_required_status": config.login_required_status,
            "accept_any_session": self.sessions.accept_any,
            "limits": {
                "enabled": limits.enabled,
                **{
                    name: None
                    if limit is None
                    else {
                        "requests": limit.requests,
                        "window_seconds": limit.window_seconds,
                    }
                    for name, limit in (
                        ("session_profile", limits.session_profile),
                        ("session_stories", limits.session_stories),
                        ("address_profile", limits.address_profile),
                        ("address_stories", limits.address_stories),
                    )
                },
            },
            "population": {
                "missing_share": population.missing_share,
                "private_share": population.private_share,
                "never_post_share": population.never_post_share,
                "story_probability": population.story_probability,
                "slot_seconds": population.slot_seconds,
                "story_ttl_seconds": population.story_ttl_seconds,
                "max_items_per_post": population.max_items_per_post,
            },
            "faults": self.faults.config.as_dict(),
            "clock": self.clock.as_dict(),
        }


class _Instagram:
    """Request handlers for the Instagram endpoints, sharing one `SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        """Serve `state`."""
        self.state = state

    async def profile(self, request: web.Request) -> web.StreamResponse:
        """Serve web_profile_info."""
        return await self._serve(request, "web_profile_info", "profile", self._profile_answer)

    async def reels_media(self, request: web.Request) -> web.StreamResponse:
        """Serve the v1 reels_media feed."""
        return await self._serve(request, "reels_media", "stories", self._reels_answer)

    async def graphql(self, request: web.Request) -> web.StreamResponse:
        """Serve the GraphQL reels_media query."""
        return await self._serve(request, "graphql_reels_media", "stories", self._graphql_answer)

    async def _serve(
        self,
        request: web.Request,
        endpoint: str,
        category: Category,
        answer: Callable[[web.Request, float], Answer],
    ) -> web.StreamResponse:
        """Run one request through faults, checks and limits, then answer it."""
        state = self.state
        referee = state.referee
        address = request.remote or "unknown"
        session = request.cookies.get("sessionid", "")
        fault: Fault | None = None
        if state.faults.active:
            fault = state.faults.draw()
            delay = state.faults.latency()
            if fault is not None:
                referee.fault(fault.value)
            try:
                if delay:
                    await asyncio.sleep(delay)
                if fault is Fault.HANG:
                    await asyncio.sleep(state.faults.config.hang_seconds)
            except asyncio.CancelledError:
                referee.record(session, address, endpoint, "cancelled")
                raise
            if fault is Fault.DROP:
                referee.record(session, address, endpoint, "dropped")
                _reset_connection(request)
            if fault is Fault.ERROR_5XX:
                referee.record(session, address, endpoint, "server_error")
                status = state.faults.choice((500, 502, 503))
                body = _SERVER_ERROR if status == 500 else b"<html><body>Bad Gateway</body></html>"
                content_type = JSON_TYPE if status == 500 else "text/html"
                return web.Response(status=status, body=body, content_type=content_type)
            if fault is Fault.RATE_LIMIT:
                referee.record(session, address, endpoint, "fault_rate_limited")
                return web.Response(
                    status=self._rate_limit_status(), body=_RATE_LIMITED, content_type=JSON_TYPE
                )
        status, body, outcome, headers = self._checked(
            request, endpoint, category, session, address, answer
        )
        if fault is Fault.MALFORMED:
            body = body[: len(body) // 2] if len(body) > 1 else b'{"status":'
            status, outcome = 200, "malformed"
        referee.record(session, address, endpoint, outcome)
        if status == 302:
            return web.Response(status=302, headers=headers)
        response = web.Response(status=status, body=body, headers=headers)
        if body:
            response.content_type = JSON_TYPE
            response.charset = "utf-8"
        return response

    def _checked(
        self,
        request: web.Request,
        endpoint: str,
        category: Category,
        session: str,
        address: str,
        answer: Callable[[web.Request, float], Answer],
    ) -> tuple[int, bytes, str, dict[str, str] | None]:
        """Apply the header, session and limit checks, then call the endpoint's `answer`."""
        state = self.state
        config = state.config
        if not request.headers.get("X-IG-App-ID"):
            return config.missing_app_id_status, _USERAGENT_MISMATCH, "bad_request", None
        session_state = state.sessions.state(session)
        if session_state is None or session_state == "logged_out":
            if config.login_required_status == 302:
                location = f"/accounts/login/?next={request.path}"
                return 302, b"", "login_required", {"Location": location}
            return config.login_required_status, _LOGIN_REQUIRED, "login_required", None
        if session_state in CHALLENGE_STATES:
            return 400, _challenge_body(session_state, session), "challenge", None
        now = state.clock()
        rejection = state.limiter.admit(session, address, category, now)
        if rejection is not None:
            state.referee.violation(rejection, session, address, endpoint, now)
            headers = {"Retry-After": rejection.retry_after_header} if config.retry_after else None
            return self._rate_limit_status(), _RATE_LIMITED, "rate_limited", headers
        status, body, outcome = answer(request, now)
        return status, body, outcome, None

    def _rate_limit_status(self) -> int:
        """Return the status of the next "Please wait a few minutes" answer (401, 429 or mixed)."""
        setting = self.state.config.rate_limit_status
        return int(setting) if setting != "mix" else self.state.faults.choice((401, 429))

    def _profile_answer(self, request: web.Request, now: float) -> Answer:
        """Answer web_profile_info for `?username=`."""
        username = request.query.get("username", "")
        if not username.strip():
            return 400, _fail("Missing required parameter: username"), "bad_request"
        profile = self.state.truth.profile(username)
        if not profile.exists:
            return 404, b"", "not_found"
        return 200, _dumps({"data": {"user": _profile_user(profile)}, "status": "ok"}), "ok"

    def _reels_answer(self, request: web.Request, now: float) -> Answer:
        """Answer the v1 reels_media feed for the repeated or comma-separated `reel_ids`."""
        ids = _unique(
            part for value in request.query.getall("reel_ids", ()) for part in value.split(",")
        )
        if not ids:
            return 400, _fail("Missing required parameter: reel_ids"), "bad_request"
        if len(ids) > self.state.config.reel_ids_cap:
            return 400, _TOO_MANY_REELS, "too_many_reels"
        fragments = [_v1_fragment(*live) for live in self._visible(ids, now)]
        return 200, b'{"reels":{' + b",".join(fragments) + b'},"status":"ok"}', "ok"

    def _graphql_answer(self, request: web.Request, now: float) -> Answer:
        """Answer the GraphQL reels_media query."""
        if request.query.get("query_hash") != REELS_QUERY_HASH:
            return 400, _fail("Invalid query_hash"), "bad_request"
        try:
            variables = json.loads(request.query.get("variables", ""))
            raw_ids = variables["reel_ids"]
            if not isinstance(raw_ids, list):
                raise TypeError("reel_ids must be a list")
        except (ValueError, KeyError, TypeError):
            return 400, _fail("Invalid variables"), "bad_request"
        ids = _unique(str(value) for value in raw_ids)
        if len(ids) > self.state.config.graphql_reel_ids_cap:
            return 400, _TOO_MANY_REELS, "too_many_reels"
        fragments = [_graphql_fragment(*live) for live in self._visible(ids, now)]
        return 200, b'{"data":{"reels_media":[' + b",".join(fragments) + b']},"status":"ok"}', "ok"

    def _visible(
        self, reel_ids: list[str], now: float
    ) -> list[tuple[Profile, tuple[StoryItem, ...]]]:
        """Return (profile, live items) for each reel id with a visible story, in request order."""
        truth = self.state.truth
        visible = []
        for reel_id in reel_ids:
            profile = truth.profile_by_id(reel_id)
            if profile is None or profile.kind != "poster" or profile.user_id != reel_id:
                continue
            items = truth.live_items(profile, now)
            if items:
                visible.append((profile, items))
        return visible


@functools.lru_cache(maxsize=100_000)
def _v1_fragment(profile: Profile, items: tuple[StoryItem, ...]) -> bytes:
    """Return `"<id>":{reel}` for the v1 feed (cached: a reel changes only when items do)."""
    reel_id = str(profile.user_id)
    pk = int(reel_id)
    reel = {
        "id": pk,
        "strong_id__": reel_id,
        "latest_reel_media": items[-1].taken_at,
        "expiring_at": max(item.expiring_at for item in items),
        "seen": 0,
        "can_reply": True,
        "reel_type": "user_reel",
        "media_count": len(items),
        "user": {
            "pk": pk,
            "pk_id": reel_id,
            "username": profile.username,
            "full_name": profile.full_name,
            "is_private": False,
            "profile_pic_url": profile.profile_pic_url,
        },
        "items": [
            {
                "pk": item.pk,
                "id": f"{item.pk}_{reel_id}",
                "taken_at": item.taken_at,
                "expiring_at": item.expiring_at,
                "media_type": item.media_type,
                "user": {"pk": pk, "username": profile.username},
            }
            for item in items
        ],
    }
    return _dumps(reel_id) + b":" + _dumps(reel)


@functools.lru_cache(maxsize=100_000)
def _graphql_fragment(profile: Profile, items: tuple[StoryItem, ...]) -> bytes:
    """Return one `data.reels_media[]` entry of the GraphQL answer (cached like the v1 one)."""
    reel_id = str(profile.user_id)
    reel = {
        "__typename": "GraphReel",
        "id": reel_id,
        "latest_reel_media": items[-1].taken_at,
        "expiring_at": max(item.expiring_at for item in items),
        "seen": None,
        "can_reply": True,
        "owner": {
            "__typename": "GraphUser",
            "id": reel_id,
            "username": profile.username,
            "profile_pic_url": profile.profile_pic_url,
        },
        "items": [
            {
                "__typename": "GraphStoryVideo" if item.media_type == 2 else "GraphStoryImage",
                "id": item.pk,
                "taken_at_timestamp": item.taken_at,
                "expiring_at_timestamp": item.expiring_at,
                "is_video": item.media_type == 2,
            }
            for item in items
        ],
    }
    return _dumps(reel)


def _profile_user(profile: Profile) -> dict[str, Any]:
    """Return the `data.user` object of web_profile_info."""
    return {
        "id": profile.user_id,
        "fbid": str(17_841_400_000_000_000 + int(profile.user_id or 0) % 10**12),
        "username": profile.username,
        "full_name": profile.full_name,
        "biography": "",
        "bio_links": [],
        "external_url": None,
        "is_private": profile.is_private,
        "is_verified": False,
        "is_business_account": False,
        "profile_pic_url": profile.profile_pic_url,
        "profile_pic_url_hd": profile.profile_pic_url,
        "edge_followed_by": {"count": profile.follower_count},
        "edge_follow": {"count": 150 + profile.follower_count % 700},
        "edge_owner_to_timeline_media": {"count": profile.follower_count % 900, "edges": []},
        "highlight_reel_count": 0,
    }


def _unique(values: Any) -> list[str]:
    """Return the stripped, non-empty values without duplicates, in order."""
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _reset_connection(request: web.Request) -> NoReturn:
    """Abort the client connection with a TCP reset instead of answering."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError


class _Control:
    """Handlers of the /__sim__ referee and control API."""

    def __init__(self, state: SimulatorState) -> None:
        """Control `state`."""
        self.state = state

    async def stats(self, request: web.Request) -> web.Response:
        """Return the referee's record plus current limit-window fill."""
        body = self.state.referee.snapshot()
        body["windows"] = self.state.limiter.usage(self.state.clock())
        return web.json_response(body)

    async def reset(self, request: web.Request) -> web.Response:
        """Clear stats and limit windows (`{"sessions": true}` also restores flagged sessions)."""
        payload = await _json_body(request)
        self.state.reset(sessions=bool(payload.get("sessions")))
        return web.json_response({"status": "ok"})

    async def truth(self, request: web.Request) -> web.Response:
        """Answer `?username=U` (or `?user_id=`) with `&at=T` (unix or ISO; default now)."""
        try:
            at = parse_time(request.query.get("at"), self.state.clock())
        except ValueError:
            return _error(400, "at must be unix seconds or an ISO-8601 time")
        username = request.query.get("username")
        if username is None and "user_id" in request.query:
            profile = self.state.truth.profile_by_id(request.query["user_id"])
            if profile is None:
                return _error(404, "unknown user id")
            username = profile.username
        if not username:
            return _error(400, "username is required")
        return web.json_response(self.state.truth.lookup(username, at))

    async def truth_many(self, request: web.Request) -> web.Response:
        """Answer `{"usernames": [...], "at": T}` with one truth entry per username."""
        payload = await _json_body(request)
        usernames = payload.get("usernames")
        if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
            return _error(400, "usernames must be a list of strings")
        try:
            at = parse_time(
                None if payload.get("at") is None else str(payload["at"]), self.state.clock()
            )
        except ValueError:
            return _error(400, "at must be unix seconds or an ISO-8601 time")
        results = [self.state.truth.lookup(username, at) for username in usernames]
        return web.json_response({"at": at, "results": results})

    async def list_sessions(self, request: web.Request) -> web.Response:
        """List known sessions and their states."""
        sessions = self.state.sessions
        return web.json_response(
            {"sessions": sessions.listing(), "accept_any_session": sessions.accept_any}
        )

    async def add_sessions(self, request: web.Request) -> web.Response:
        """Add `{"sessions": [...]}` (optionally `"accept_any": bool`)."""
        payload = await _json_body(request)
        ids = payload.get("sessions", [])
        if not isinstance(ids, list):
            return _error(400, "sessions must be a list of strings")
        try:
            added = self.state.sessions.add(ids)
        except ValueError as exc:
            return _error(400, str(exc))
        if "accept_any" in payload:
            self.state.sessions.accept_any = bool(payload["accept_any"])
        return web.json_response({"added": added, "count": len(self.state.sessions)})

    async def flag_session(self, request: web.Request) -> web.Response:
        """Flag one session: `/challenge` (body `{"kind": ...}` optional), `/logout`, `/restore`."""
        action = request.match_info["action"]
        payload = await _json_body(request)
        new_state: SessionState
        if action == "logout":
            new_state = "logged_out"
        elif action == "restore":
            new_state = "ok"
        elif action == "challenge":
            kind = payload.get("kind", "challenge_required")
            if kind not in CHALLENGE_STATES:
                return _error(400, f"kind must be one of {', '.join(CHALLENGE_STATES)}")
            new_state = kind
        else:
            return _error(404, f"unknown action {action}")
        sessions = self.state.sessions
        session_id = (
            sessions.find(request.match_info["session_id"]) or request.match_info["session_id"]
        )
        try:
            sessions.flag(session_id, new_state, self.state.clock)
        except KeyError:
            return _error(404, "unknown session")
        return web.json_response({"id": session_id, "state": new_state})

    async def get_faults(self, request: web.Request) -> web.Response:
        """Return the current fault settings."""
        return web.json_response(self.state.faults.config.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        """Update fault settings from a partial `FaultConfig` JSON object."""
        payload = await _json_body(request)
        try:
            config = self.state.faults.update(payload)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        logger.info("faults set to %s", config)
        return web.json_response(config.as_dict())

    async def get_clock(self, request: web.Request) -> web.Response:
        """Return the simulator's clock."""
        return web.json_response(self.state.clock.as_dict())

    async def set_clock(self, request: web.Request) -> web.Response:
        """Set `{"offset": s}` and/or `{"frozen_at": T | null}` (T unix or ISO)."""
        payload = await _json_body(request)
        try:
            offset = payload.get("offset")
            changes: dict[str, Any] = {"offset": None if offset is None else float(offset)}
            if "frozen_at" in payload:
                frozen = payload["frozen_at"]
                changes["frozen_at"] = None if frozen is None else parse_time(str(frozen), 0.0)
        except (TypeError, ValueError):
            return _error(400, "offset must be a number; frozen_at a time or null")
        self.state.clock.set(**changes)
        return web.json_response(self.state.clock.as_dict())

    async def config(self, request: web.Request) -> web.Response:
        """Return the effective settings."""
        return web.json_response(self.state.describe())


async def _login_page(request: web.Request) -> web.Response:
    """Serve the login page a 302 login_required points to (HTML, as Instagram)."""
    return web.Response(body=_LOGIN_PAGE, content_type="text/html")


async def _json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object body, or {} when there is none."""
    if not request.can_read_body:
        return {}
    try:
        payload = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "body is not valid JSON"}),
            content_type=JSON_TYPE,
        ) from exc
    if not isinstance(payload, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "body must be a JSON object"}),
            content_type=JSON_TYPE,
        )
    return payload


def _error(status: int, message: str) -> web.Response:
    """Return a control-API error."""
    return web.json_response(
        {"error": web.Response(status=status).reason, "message": message}, status=status
    )


def create_app(state: SimulatorState) -> web.Application:
    """Return the aiohttp application serving `state`."""
    app = web.Application()
    instagram = _Instagram(state)
    control = _Control(state)
    app.router.add_get("/api/v1/users/web_profile_info/", instagram.profile)
    app.router.add_get("/api/v1/feed/reels_media/", instagram.reels_media)
    app.router.add_get("/graphql/query/", instagram.graphql)
    app.router.add_get("/graphql/query", instagram.graphql)
    app.router.add_get("/accounts/login/", _login_page)
    app.router.add_get("/__sim__/stats", control.stats)
    app.router.add_post("/__sim__/reset", control.reset)
    app.router.add_get("/__sim__/truth", control.truth)
    app.router.add_post("/__sim__/truth", control.truth_many)
    app.router.add_get("/__sim__/sessions", control.list_sessions)
    app.router.add_post("/__sim__/sessions", control.add_sessions)
    app.router.add_post("/__sim__/sessions/{session_id}/{action}", control.flag_session)
    app.router.add_get("/__sim__/faults", control.get_faults)
    app.router.add_post("/__sim__/faults", control.set_faults)
    app.router.add_get("/__sim__/clock", control.get_clock)
    app.router.add_post("/__sim__/clock", control.set_clock)
    app.router.add_get("/__sim__/config", control.config)
    return app


class SimulatorServer(BackgroundService):
    """The simulator as a library: start it in a background thread or on a running loop.

    Typical test use::

        with SimulatorServer(SimulatorConfig(sessions=2)) as sim:
            httpx.get(sim.base_url + "/api/v1/users/web_profile_info/?username=a", ...)
    """

    _thread_name = "instagram-simulator"

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        """Prepare a simulator for `config` (default: Instagram-like, free loopback port)."""
        super().__init__()
        self.config = config or SimulatorConfig()
        self.state = SimulatorState(self.config)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def host(self) -> str:
        """Return the address the server listens on."""
        return self.config.host

    @property
    def port(self) -> int:
        """Return the bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Return the base URL clients use instead of https://www.instagram.com."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def session_ids(self) -> list[str]:
        """Return the ids of the known sessions (deterministic ones first)."""
        return [str(entry["id"]) for entry in self.call(self.state.sessions.listing)]

    async def _start(self) -> None:
        """Bind the listening socket and start serving."""
        runner = web.AppRunner(
            create_app(self.state),
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port, backlog=1024)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        logger.info("Instagram simulator listening on %s", self.base_url)

    async def _stop(self) -> None:
        """Stop serving; requests still hanging are cancelled."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stats(self) -> dict[str, Any]:
        """Return the referee's record (same as GET /__sim__/stats without window fill)."""
        return self.call(self.state.referee.snapshot)

    def reset(self, *, sessions: bool = False) -> None:
        """Clear stats and limit windows (and session flags if asked)."""
        self.call(lambda: self.state.reset(sessions=sessions))

    def truth(self, username: str, at: float | None = None) -> dict[str, Any]:
        """Return the truth about `username` at `at` (default: the simulator's now)."""
        return self.state.truth.lookup(username, self.state.clock() if at is None else at)

    def now(self) -> float:
        """Return the simulator's current time."""
        return self.state.clock()

    def set_clock(
        self, *, offset: float | None = None, frozen_at: float | None | Any = ...
    ) -> None:
        """Shift (offset seconds) or freeze (unix time; None unfreezes) the simulator's clock."""
        self.call(lambda: self.state.clock.set(offset=offset, frozen_at=frozen_at))

    def set_faults(self, **changes: float) -> None:
        """Change fault settings at run time (keys as in `FaultConfig`)."""
        self.call(lambda: self.state.faults.update(changes))

    def add_sessions(self, session_ids: list[str]) -> list[str]:
        """Add valid sessions; return the ids that were new."""
        return self.call(lambda: self.state.sessions.add(session_ids))

    def flag_session(self, session_id: str, state: SessionState) -> None:
        """Put a session into "logged_out", "ok" or a challenge state."""
        if state not in ("ok", "logged_out", *CHALLENGE_STATES):
            raise ValueError(f"unknown session state {state!r}")
        self.call(lambda: self.state.sessions.flag(session_id, state, self.state.clock))

    def user_id(self, username: str) -> str | None:
        """Return the user id the simulator gives `username` (None for invalid names)."""
        return user_id_for(normalize_username(username))


__all__ = [
    "INSTAGRAM_APP_ID",
    "REELS_QUERY_HASH",
    "SimulatorServer",
    "SimulatorState",
    "create_app",
    "parse_time",
]
