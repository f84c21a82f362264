"""The /__sim__ referee and control API: stats, truth, sessions and modes, world, settings.

These endpoints are neither limited, faulted nor counted by the referee.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from storycheck.simulator.answers import HTML_TYPE, LOGIN_PAGE
from storycheck.simulator.sessions import CHALLENGE_STATES, SessionState

if TYPE_CHECKING:
    from storycheck.simulator.state import SimulatorState

logger = logging.getLogger(__name__)


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


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object body, or {} when there is none."""
    if not request.can_read_body:
        return {}
    try:
        payload = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "body is not valid JSON"}),
            content_type="application/json",
        ) from exc
    if not isinstance(payload, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "body must be a JSON object"}),
            content_type="application/json",
        )
    return payload


def error(status: int, message: str) -> web.Response:
    """Return a control-API error."""
    return web.json_response(
        {"error": web.Response(status=status).reason, "message": message}, status=status
    )


def _strings(value: Any) -> list[str] | None:
    """Return `value` when it is a list of strings, else None."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


class Control:
    """Handlers of the /__sim__ API over one `SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        """Control `state`."""
        self.state = state

    def routes(self, app: web.Application) -> None:
        """Register every /__sim__ route on `app` (specific session routes first)."""
        router = app.router
        router.add_get("/__sim__/stats", self.stats)
        router.add_post("/__sim__/reset", self.reset)
        router.add_get("/__sim__/truth", self.truth)
        router.add_post("/__sim__/truth", self.truth_many)
        router.add_get("/__sim__/sessions", self.list_sessions)
        router.add_post("/__sim__/sessions", self.add_sessions)
        router.add_post("/__sim__/sessions/{session_id}/mode", self.set_mode)
        router.add_get("/__sim__/sessions/{session_id}/last_request", self.last_request)
        router.add_post("/__sim__/sessions/{session_id}/{action}", self.flag_session)
        router.add_get("/__sim__/addresses", self.get_addresses)
        router.add_post("/__sim__/addresses", self.set_addresses)
        router.add_get("/__sim__/follows", self.get_follows)
        router.add_post("/__sim__/follows", self.set_follows)
        router.add_get("/__sim__/profiles", self.get_profiles)
        router.add_post("/__sim__/profiles", self.set_profiles)
        router.add_get("/__sim__/renames", self.get_renames)
        router.add_post("/__sim__/renames", self.rename)
        router.add_get("/__sim__/limits", self.get_limits)
        router.add_post("/__sim__/limits", self.set_limits)
        router.add_get("/__sim__/faults", self.get_faults)
        router.add_post("/__sim__/faults", self.set_faults)
        router.add_get("/__sim__/clock", self.get_clock)
        router.add_post("/__sim__/clock", self.set_clock)
        router.add_get("/__sim__/config", self.config)
        router.add_post("/__sim__/config", self.set_config)

    async def stats(self, request: web.Request) -> web.Response:
        """Return the referee's record plus current limit-window fill."""
        body = self.state.referee.snapshot()
        body["windows"] = self.state.limiter.usage(self.state.clock())
        return web.json_response(body)

    async def reset(self, request: web.Request) -> web.Response:
        """Clear stats and limit windows (`{"sessions": true}` also restores sessions' modes)."""
        payload = await json_body(request)
        self.state.reset(sessions=bool(payload.get("sessions")))
        return web.json_response({"status": "ok"})

    async def truth(self, request: web.Request) -> web.Response:
        """Answer `?username=U` (or `?user_id=`) with `&at=T` (unix or ISO; default now)."""
        try:
            at = parse_time(request.query.get("at"), self.state.clock())
        except ValueError:
            return error(400, "at must be unix seconds or an ISO-8601 time")
        username = request.query.get("username")
        if username is None and "user_id" in request.query:
            profile = self.state.truth.profile_by_id(request.query["user_id"])
            if profile is None:
                return error(404, "unknown user id")
            username = profile.username
        if not username:
            return error(400, "username is required")
        return web.json_response(self.state.truth.lookup(username, at))

    async def truth_many(self, request: web.Request) -> web.Response:
        """Answer `{"usernames": [...], "at": T}` with one truth entry per username."""
        payload = await json_body(request)
        usernames = _strings(payload.get("usernames"))
        if usernames is None:
            return error(400, "usernames must be a list of strings")
        try:
            at = parse_time(
                None if payload.get("at") is None else str(payload["at"]), self.state.clock()
            )
        except ValueError:
            return error(400, "at must be unix seconds or an ISO-8601 time")
        results = [self.state.truth.lookup(username, at) for username in usernames]
        return web.json_response({"at": at, "results": results})

    async def list_sessions(self, request: web.Request) -> web.Response:
        """List known sessions with their states and modes."""
        state = self.state
        entries = state.sessions.listing()
        for entry in entries:
            entry.update(state.modes.describe(str(entry["id"])))
        return web.json_response(
            {"sessions": entries, "accept_any_session": state.sessions.accept_any}
        )

    async def add_sessions(self, request: web.Request) -> web.Response:
        """Add `{"sessions": [...]}` (optionally `"accept_any": bool`)."""
        payload = await json_body(request)
        ids = payload.get("sessions", [])
        if not isinstance(ids, list):
            return error(400, "sessions must be a list of strings")
        try:
            added = self.state.sessions.add(ids)
        except ValueError as exc:
            return error(400, str(exc))
        if "accept_any" in payload:
            self.state.sessions.accept_any = bool(payload["accept_any"])
        return web.json_response({"added": added, "count": len(self.state.sessions)})

    async def set_mode(self, request: web.Request) -> web.Response:
        """Set `{"mode": NAME, "after": N, "endpoints": [...]}` for one session."""
        payload = await json_body(request)
        try:
            body = self.state.set_mode(
                request.match_info["session_id"],
                payload.get("mode", ""),
                after=payload.get("after", 0),
                endpoints=payload.get("endpoints"),
            )
        except KeyError:
            return error(404, "unknown session")
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response(body)

    async def last_request(self, request: web.Request) -> web.Response:
        """Return the non-secret header facts of the session's last request."""
        state = self.state
        session = request.match_info["session_id"]
        record = state.web.last_request(state.sessions.find(session) or session)
        if record is None:
            return error(404, "no request seen from this session")
        return web.json_response(record)

    async def flag_session(self, request: web.Request) -> web.Response:
        """Flag one session: `/challenge` (body `{"kind": ...}` optional), `/logout`, `/restore`."""
        action = request.match_info["action"]
        payload = await json_body(request)
        new_state: SessionState
        if action == "logout":
            new_state = "logged_out"
        elif action == "restore":
            new_state = "ok"
        elif action == "challenge":
            kind = payload.get("kind", "challenge_required")
            if kind not in CHALLENGE_STATES:
                return error(400, f"kind must be one of {', '.join(CHALLENGE_STATES)}")
            new_state = kind
        else:
            return error(404, f"unknown action {action}")
        sessions = self.state.sessions
        session_id = (
            sessions.find(request.match_info["session_id"]) or request.match_info["session_id"]
        )
        try:
            sessions.flag(session_id, new_state, self.state.clock)
        except KeyError:
            return error(404, "unknown session")
        return web.json_response({"id": session_id, "state": new_state})

    async def get_addresses(self, request: web.Request) -> web.Response:
        """Return the client addresses blocked at the edge."""
        return web.json_response({"blocked": sorted(self.state.blocked_addresses)})

    async def set_addresses(self, request: web.Request) -> web.Response:
        """Apply `{"addresses": [...], "blocked": true|false}` (an edge block of those
        addresses: 403 HTML to every request from them, with or without a session)."""
        payload = await json_body(request)
        addresses = _strings(payload.get("addresses"))
        if not addresses:
            return error(400, "addresses must be a non-empty list of strings")
        blocked = self.state.block_addresses(addresses, bool(payload.get("blocked", True)))
        return web.json_response({"blocked": blocked})

    async def get_follows(self, request: web.Request) -> web.Response:
        """Return whom each session follows."""
        return web.json_response({"follows": self.state.follows.listing()})

    async def set_follows(self, request: web.Request) -> web.Response:
        """Apply `{"session": ID, "usernames": [...], "follow": true|false}`."""
        payload = await json_body(request)
        usernames = _strings(payload.get("usernames"))
        session = payload.get("session")
        if usernames is None or not isinstance(session, str) or not session:
            return error(400, "session must be a string and usernames a list of strings")
        try:
            follows = self.state.follow(session, usernames, bool(payload.get("follow", True)))
        except KeyError:
            return error(404, "unknown session")
        return web.json_response({"session": session, "follows": follows})

    async def get_profiles(self, request: web.Request) -> web.Response:
        """Return the run-time profile kind overrides."""
        return web.json_response({"overrides": self.state.truth.overrides()})

    async def set_profiles(self, request: web.Request) -> web.Response:
        """Apply `{"username": U | "usernames": [...], "kind": KIND | null}`."""
        payload = await json_body(request)
        usernames = _strings(payload.get("usernames"))
        if usernames is None and isinstance(payload.get("username"), str):
            usernames = [payload["username"]]
        if not usernames:
            return error(400, "username (or usernames) is required")
        kind = payload.get("kind")
        try:
            profiles = [self.state.set_profile_kind(name, kind) for name in usernames]
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response({"profiles": profiles})

    async def get_renames(self, request: web.Request) -> web.Response:
        """Return the renamed accounts: the name each was created under -> its name now."""
        return web.json_response({"renames": self.state.truth.renames()})

    async def rename(self, request: web.Request) -> web.Response:
        """Apply `{"username": OLD, "new_username": NEW}`: the account keeps its id, stories
        and followers; OLD answers "no such user" until an account takes it."""
        payload = await json_body(request)
        old, new = payload.get("username"), payload.get("new_username")
        if not isinstance(old, str) or not isinstance(new, str):
            return error(400, "username and new_username are required")
        try:
            profile = self.state.rename(old, new)
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response({"profile": profile})

    async def get_limits(self, request: web.Request) -> web.Response:
        """Return the limits in force."""
        return web.json_response(self.state.config.limits.as_dict())

    async def set_limits(self, request: web.Request) -> web.Response:
        """Change limits from a partial object (values "N/SECONDS", "off" or null)."""
        payload = await json_body(request)
        try:
            self.state.config.limits.update(payload)
        except ValueError as exc:
            return error(400, str(exc))
        logger.info("limits set to %s", self.state.config.limits)
        return web.json_response(self.state.config.limits.as_dict())

    async def get_faults(self, request: web.Request) -> web.Response:
        """Return the current fault settings."""
        return web.json_response(self.state.faults.config.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        """Update fault settings from a partial `FaultConfig` JSON object."""
        payload = await json_body(request)
        try:
            config = self.state.faults.update(payload)
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        logger.info("faults set to %s", config)
        return web.json_response(config.as_dict())

    async def get_clock(self, request: web.Request) -> web.Response:
        """Return the simulator's clock."""
        return web.json_response(self.state.clock.as_dict())

    async def set_clock(self, request: web.Request) -> web.Response:
        """Set `{"offset": s}` and/or `{"frozen_at": T | null}` (T unix or ISO)."""
        payload = await json_body(request)
        try:
            offset = payload.get("offset")
            changes: dict[str, Any] = {"offset": None if offset is None else float(offset)}
            if "frozen_at" in payload:
                frozen = payload["frozen_at"]
                changes["frozen_at"] = None if frozen is None else parse_time(str(frozen), 0.0)
        except (TypeError, ValueError):
            return error(400, "offset must be a number; frozen_at a time or null")
        self.state.clock.set(**changes)
        return web.json_response(self.state.clock.as_dict())

    async def config(self, request: web.Request) -> web.Response:
        """Return the effective settings."""
        return web.json_response(self.state.describe())

    async def set_config(self, request: web.Request) -> web.Response:
        """Change run-time web-client settings (`not_found_style`, `min_chrome_major`,
        `cookie_rotation_every`, `doc_ids`) and return the effective settings."""
        payload = await json_body(request)
        try:
            self.state.update_settings(payload)
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response(self.state.describe())


async def login_page(request: web.Request) -> web.Response:
    """Serve the login page a 302 login_required points to (HTML, as Instagram)."""
    return web.Response(body=LOGIN_PAGE, headers={"Content-Type": HTML_TYPE})


__all__ = ["Control", "error", "json_body", "login_page", "parse_time"]
