"""The simulator's HTTP server: Instagram's story endpoints, its answers, and the /__sim__ API.

(Over 500 lines because it is the route table of two APIs; the answers themselves live in
`answers.py`, `modes.py` and `shapes.py`.)

Instagram endpoints (all need ``X-IG-App-ID`` and a ``sessionid`` cookie):

* ``GET /api/v1/users/web_profile_info/?username=U`` — profile lookup with ``is_private`` and
  ``followed_by_viewer`` for the asking session; a missing user answers per
  ``not_found_style`` (404 empty, 404 JSON, or 200 ``data.user: null``); a deleted-category
  business account answers 400 "Asset … ig_business_category_subvertical has been deleted".
* ``GET /api/v1/feed/reels_media/?reel_ids=A&reel_ids=B`` (or ``A,B``) — the logged-in shape
  ``{"reels":{…},"reels_media":[…],"status":"ok"}``: accounts with a visible story appear in
  both; a private account's reel only for a session that follows it; more ids than the cap
  → 400 "Too many reels requested".
* ``POST /graphql/query`` (form ``doc_id``, ``variables`` with ``reel_ids``) — the dense form
  for a configured doc_id (``xdt_api__v1__feed__reels_media``), an ``errors`` answer for
  any other; ``GET /graphql/query/?query_hash=…`` answers the dead shape (200, ``errors``,
  no ``data``) always, as Instagram has since 2025-02.

Each request passes, in order: recording of its header facts, injected faults and latency,
an edge block of its client address (403 HTML for any session, or none), the app-id check,
the session check (an unknown or logged-out session answers ``login_required_status``: by
default 403 ``{"message":"login_required","status":"fail"}``, as the facts file says; a
flagged one its challenge), the ``min_chrome_major`` user-agent check,
the session's mode (``answers.MODES``: one facts-file row per mode, switchable at run time
and after N requests), the sliding-window limits (a request over a limit is refused and
recorded as a violation), then the endpoint itself. Answers to known
sessions carry ``x-ig-set-www-claim`` and, every N requests, rotated csrftoken/rur cookies.
The referee records exactly one outcome per request. Every answer's ``Date`` header is the
simulator's clock (a reel's ``expiring_at`` is read against it, as against Instagram's).

The /__sim__ control API (stats, reset, truth, sessions and their modes, last_request,
addresses, follows, profiles, limits, faults, clock, config) lives in `control.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, NoReturn

from aiohttp import web
from multidict import CIMultiDict

from storycheck.simulator import answers, shapes
from storycheck.simulator.answers import (
    HTML_TYPE,
    JSON_TYPE,
    Endpoint,
    Reply,
    fail,
    json_reply,
)
from storycheck.simulator.background import BackgroundService
from storycheck.simulator.config import SimulatorConfig
from storycheck.simulator.control import Control, login_page, parse_time
from storycheck.simulator.faults import Fault
from storycheck.simulator.limits import Category
from storycheck.simulator.sessions import (
    CHALLENGE_STATES,
    SessionState,
)
from storycheck.simulator.state import SimulatorState
from storycheck.simulator.truth import (
    OverrideKind,
    Profile,
    StoryItem,
    normalize_username,
    user_id_for,
)
from storycheck.simulator.webclient import chrome_major

logger = logging.getLogger(__name__)

REELS_QUERY_HASH = "303a4ae99711322310f25250d988f3b7"
INSTAGRAM_APP_ID = "936619743392459"

AnswerFunction = Callable[[web.Request, str, float], Awaitable[Reply]]
"""An endpoint's own answer, given the request, the asking session and the time."""


class _Instagram:
    """Request handlers for the Instagram endpoints, sharing one `SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        """Serve `state`."""
        self.state = state

    async def profile(self, request: web.Request) -> web.StreamResponse:
        """Serve web_profile_info."""
        return await self._serve(request, "web_profile_info", "profile", "profile", self._profile)

    async def reels_media(self, request: web.Request) -> web.StreamResponse:
        """Serve the v1 reels_media feed."""
        return await self._serve(request, "reels_media", "stories", "reels", self._reels)

    async def graphql_get(self, request: web.Request) -> web.StreamResponse:
        """Serve the retired query_hash form."""
        return await self._serve(
            request, "graphql_reels_media", "stories", "graphql", self._query_hash
        )

    async def graphql_post(self, request: web.Request) -> web.StreamResponse:
        """Serve the dense doc_id form."""
        return await self._serve(
            request, "graphql_reels_media", "stories", "graphql", self._dense, dense=True
        )

    async def _serve(
        self,
        request: web.Request,
        endpoint: str,
        category: Category,
        kind: Endpoint,
        answer: AnswerFunction,
        *,
        dense: bool = False,
    ) -> web.StreamResponse:
        """Run one request through faults, checks, modes and limits, then answer it."""
        state = self.state
        referee = state.referee
        address = request.remote or "unknown"
        session = request.cookies.get("sessionid", "")
        key = state.sessions.find(session) or session
        if session:
            state.web.observe(key, request, endpoint, state.clock())
        fault: Fault | None = None
        if state.faults.active:
            fault = state.faults.draw()
            instead = await self._inject(fault, request, session, address, endpoint)
            if instead is not None:
                return _response(instead, state.clock())
        reply = await self._checked(
            request, endpoint, category, kind, session, key, address, answer, dense
        )
        if fault is Fault.MALFORMED:
            body = reply.body[: len(reply.body) // 2] if len(reply.body) > 1 else b'{"status":'
            reply = dataclasses.replace(
                reply, status=200, body=body, content_type=JSON_TYPE, outcome="malformed"
            )
        referee.record(session, address, endpoint, reply.outcome)
        return _response(reply, state.clock())

    async def _inject(
        self,
        fault: Fault | None,
        request: web.Request,
        session: str,
        address: str,
        endpoint: str,
    ) -> Reply | None:
        """Apply a drawn fault (and the latency): delay, hang or drop the request, or return
        the answer that replaces the real one (a 5xx, a rate limit)."""
        state = self.state
        referee = state.referee
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
            if status == 500:
                return json_reply(500, answers.SERVER_ERROR, "server_error")
            page = b"<html><body>Bad Gateway</body></html>"
            return Reply(status, page, HTML_TYPE, "server_error")
        if fault is Fault.RATE_LIMIT:
            referee.record(session, address, endpoint, "fault_rate_limited")
            return answers.rate_limited(self._rate_limit_status())
        return None

    async def _checked(
        self,
        request: web.Request,
        endpoint: str,
        category: Category,
        kind: Endpoint,
        session: str,
        key: str,
        address: str,
        answer: AnswerFunction,
        dense: bool,
    ) -> Reply:
        """Apply the edge, header, session, user-agent, mode and limit checks, then `answer`."""
        state = self.state
        config = state.config
        if address in state.blocked_addresses:
            # Instagram's edge refuses the address before the app sees the request.
            return Reply(403, answers.EDGE_BLOCK_PAGE, HTML_TYPE, "address_blocked")
        refusal = self._refusal(request, session)
        if refusal is not None:
            return refusal
        now = state.clock()
        web_headers = state.web.answer_headers(key, request, now)
        mode = state.modes.on_request(key, kind)
        if mode is not None:
            reply = answers.mode_reply(
                mode,
                kind,
                session=key,
                path_qs=request.path_qs,
                dense=dense,
            )
        else:
            rejection = state.limiter.admit(key, address, category, now)
            if rejection is not None:
                state.referee.violation(rejection, session, address, endpoint, now)
                reply = answers.rate_limited(self._rate_limit_status())
                if config.retry_after:
                    retry = (("Retry-After", rejection.retry_after_header),)
                    reply = dataclasses.replace(reply, headers=retry)
            else:
                reply = await answer(request, key, now)
        if reply.content_type == JSON_TYPE:
            reply = dataclasses.replace(reply, headers=reply.headers + web_headers)
        return reply

    def _refusal(self, request: web.Request, session: str) -> Reply | None:
        """The answer to a request refused before any mode or limit (no app id, no valid
        session, a challenged session, an old Chrome); None when it passes."""
        config = self.state.config
        if not request.headers.get("X-IG-App-ID"):
            return json_reply(
                config.missing_app_id_status, answers.USERAGENT_MISMATCH, "bad_request"
            )
        session_state = self.state.sessions.state(session)
        if session_state is None or session_state == "logged_out":
            if config.login_required_status == 302:
                return answers.login_redirect(request.path_qs)
            return json_reply(
                config.login_required_status, answers.LOGIN_REQUIRED, "login_required"
            )
        if session_state in CHALLENGE_STATES:
            return json_reply(400, answers.challenge_body(session_state, session), "challenge")
        if config.min_chrome_major:
            major = chrome_major(request.headers.get("User-Agent", ""))
            if major is not None and major < config.min_chrome_major:
                return answers.rate_limited(401, "old_client")
        return None

    def _rate_limit_status(self) -> int:
        """Return the status of the next "Please wait a few minutes" answer (401, 429 or mixed)."""
        setting = self.state.config.rate_limit_status
        return int(setting) if setting != "mix" else self.state.faults.choice((401, 429))

    async def _profile(self, request: web.Request, session: str, now: float) -> Reply:
        """Answer web_profile_info for `?username=`."""
        username = request.query.get("username", "")
        if not username.strip():
            return json_reply(400, fail("Missing required parameter: username"), "bad_request")
        profile = self.state.truth.profile(username)
        if not profile.exists:
            style = self.state.config.not_found_style
            if style == "json":
                return json_reply(404, answers.NOT_FOUND_JSON, "not_found")
            if style == "user_null":
                return json_reply(200, answers.USER_NULL, "not_found")
            return Reply(404, b"", None, "not_found")
        if profile.business_deleted:
            return json_reply(400, answers.BUSINESS_DELETED, "business_deleted")
        followed = self.state.follows.follows(session, profile.account)
        user = shapes.profile_user(profile, followed_by_viewer=followed)
        return json_reply(200, answers.dumps({"data": {"user": user}, "status": "ok"}), "ok")

    async def _reels(self, request: web.Request, session: str, now: float) -> Reply:
        """Answer the v1 reels_media feed for the repeated or comma-separated `reel_ids`."""
        ids = _unique(
            part for value in request.query.getall("reel_ids", ()) for part in value.split(",")
        )
        if not ids:
            return json_reply(400, fail("Missing required parameter: reel_ids"), "bad_request")
        if len(ids) > self.state.config.reel_ids_cap:
            return json_reply(400, answers.TOO_MANY_REELS, "too_many_reels")
        reels = [shapes.v1_reel(*live) for live in self._visible(session, ids, now)]
        return json_reply(200, shapes.v1_feed(reels), "ok")

    async def _query_hash(self, request: web.Request, session: str, now: float) -> Reply:
        """Answer the query_hash form with the shape Instagram has sent since 2025-02."""
        return json_reply(200, answers.DEAD_QUERY_HASH, "dead_query_hash")

    async def _dense(self, request: web.Request, session: str, now: float) -> Reply:
        """Answer `POST /graphql/query` with `doc_id` and `variables` form fields."""
        form = await request.post()
        doc_id = str(form.get("doc_id", ""))
        if not doc_id and form.get("query_hash"):
            return json_reply(200, answers.DEAD_QUERY_HASH, "dead_query_hash")
        if doc_id not in self.state.config.doc_ids:
            return json_reply(200, answers.UNKNOWN_DOC_ID, "unknown_doc_id")
        try:
            variables = json.loads(str(form.get("variables", "")))
            raw_ids = variables["reel_ids"]
            if not isinstance(raw_ids, list):
                raise TypeError("reel_ids must be a list")
        except (ValueError, KeyError, TypeError):
            return json_reply(400, fail("Invalid variables"), "bad_request")
        ids = _unique(str(value) for value in raw_ids)
        if len(ids) > self.state.config.graphql_reel_ids_cap:
            return json_reply(400, answers.TOO_MANY_REELS, "too_many_reels")
        reels = [shapes.dense_reel(*live) for live in self._visible(session, ids, now)]
        return json_reply(200, shapes.dense_feed(reels), "ok")

    def _visible(
        self, session: str, reel_ids: list[str], now: float
    ) -> list[tuple[Profile, tuple[StoryItem, ...]]]:
        """Return (profile, live items) for each reel the session may see, in request order."""
        truth = self.state.truth
        follows = self.state.follows
        visible = []
        for reel_id in reel_ids:
            profile = truth.profile_by_id(reel_id)
            if profile is None or profile.user_id != reel_id:
                continue
            if profile.is_private and not follows.follows(session, profile.account):
                continue
            items = truth.live_items(profile, now)
            if items:
                visible.append((profile, items))
        return visible


def _response(reply: Reply, now: float) -> web.Response:
    """Turn a `Reply` into an aiohttp response with exactly its status, type and headers.

    Its `Date` is the simulator's clock, as Instagram's is Instagram's: a story's
    `expiring_at` compares with it (a shifted or frozen clock moves both together).
    """
    headers: list[tuple[str, str]] = [("Date", formatdate(now, usegmt=True)), *reply.headers]
    if reply.content_type is not None:
        headers.append(("Content-Type", reply.content_type))
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    # A CIMultiDict keeps repeated Set-Cookie headers; a plain dict would merge them.
    return web.Response(
        status=reply.status, reason=reason, body=reply.body, headers=CIMultiDict(headers)
    )


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


def create_app(state: SimulatorState) -> web.Application:
    """Return the aiohttp application serving `state`."""
    app = web.Application()
    instagram = _Instagram(state)
    app.router.add_get("/api/v1/users/web_profile_info/", instagram.profile)
    app.router.add_get("/api/v1/feed/reels_media/", instagram.reels_media)
    for path in ("/graphql/query/", "/graphql/query"):
        app.router.add_get(path, instagram.graphql_get)
        app.router.add_post(path, instagram.graphql_post)
    app.router.add_get("/accounts/login/", login_page)
    Control(state).routes(app)
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

    def set_mode(
        self,
        session_id: str,
        mode: str,
        after: int = 0,
        endpoints: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Make one session answer `mode` now or after N requests (see `SimulatorState`)."""
        return self.call(lambda: self.state.set_mode(session_id, mode, after, endpoints))

    def block_addresses(self, addresses: Iterable[str], blocked: bool = True) -> list[str]:
        """Block (or unblock) client addresses at the edge: 403 HTML whatever the session."""
        chosen = list(addresses)
        return self.call(lambda: self.state.block_addresses(chosen, blocked))

    def follow(self, session_id: str, usernames: Iterable[str], follow: bool = True) -> list[str]:
        """Make a session follow (or unfollow) accounts."""
        names = list(usernames)
        return self.call(lambda: self.state.follow(session_id, names, follow))

    def set_profile_kind(self, username: str, kind: OverrideKind | None) -> dict[str, Any]:
        """Override what one username is, e.g. "business_deleted" or "private"."""
        return self.call(lambda: self.state.set_profile_kind(username, kind))

    def set_limits(self, **changes: Any) -> dict[str, Any]:
        """Change limits at run time (values "N/SECONDS", "off", None or a `Limit`-like dict)."""

        def apply() -> dict[str, Any]:
            self.state.config.limits.update(changes)
            return self.state.config.limits.as_dict()

        return self.call(apply)

    def last_request(self, session_id: str) -> dict[str, Any] | None:
        """Return the non-secret header facts of a session's last request."""
        return self.call(
            lambda: self.state.web.last_request(self.state.sessions.find(session_id) or session_id)
        )

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
