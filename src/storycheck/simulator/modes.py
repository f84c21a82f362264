"""Per-session answer modes: which row of the facts file a session is answered, and from when.

A mode applies to chosen endpoints ("profile", "reels", "graphql"). Set with `after=N`, it
takes effect once the session has sent N more requests (to any Instagram endpoint); until
then the current mode stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from storycheck.simulator.answers import ENDPOINTS, MODES, Endpoint


@dataclass
class _Pending:
    """A mode waiting for `remaining` more requests of its session."""

    mode: str
    endpoints: frozenset[str]
    remaining: int


@dataclass
class _SessionMode:
    """The active mode of one session and the one that will follow."""

    mode: str = "ok"
    endpoints: frozenset[str] = field(default_factory=lambda: frozenset(ENDPOINTS))
    pending: _Pending | None = None


def _endpoints(endpoints: Iterable[str] | None) -> frozenset[str]:
    """Validate an endpoint selection (None = all)."""
    if endpoints is None:
        return frozenset(ENDPOINTS)
    if isinstance(endpoints, str):
        raise ValueError("endpoints must be a list")
    chosen = frozenset(endpoints)
    unknown = chosen - set(ENDPOINTS)
    if unknown or not chosen:
        raise ValueError(f"endpoints must be a non-empty subset of {', '.join(ENDPOINTS)}")
    return chosen


class ModeBook:
    """The modes of every session; sessions never set answer "ok"."""

    def __init__(self) -> None:
        """Start with every session in mode "ok"."""
        self._sessions: dict[str, _SessionMode] = {}

    def set(
        self, session: str, mode: str, after: int = 0, endpoints: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Put `session` into `mode` now (after=0) or after `after` more requests."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError("after must be a whole number >= 0")
        chosen = _endpoints(endpoints)
        entry = self._sessions.setdefault(session, _SessionMode())
        if after == 0:
            entry.mode, entry.endpoints, entry.pending = mode, chosen, None
        else:
            entry.pending = _Pending(mode, chosen, after)
        return {"id": session, "mode": mode, "after": after, "endpoints": sorted(chosen)}

    def on_request(self, session: str, endpoint: Endpoint) -> str | None:
        """Count one request of `session`; return the mode answering it (None = normal)."""
        entry = self._sessions.get(session)
        if entry is None:
            return None
        pending = entry.pending
        if pending is not None:
            if pending.remaining <= 0:
                entry.mode, entry.endpoints, entry.pending = pending.mode, pending.endpoints, None
            else:
                pending.remaining -= 1
        if entry.mode == "ok" or endpoint not in entry.endpoints:
            return None
        return entry.mode

    def describe(self, session: str) -> dict[str, Any]:
        """Return the session's mode, its endpoints and the pending switch (or None)."""
        entry = self._sessions.get(session) or _SessionMode()
        pending = entry.pending
        return {
            "mode": entry.mode,
            "endpoints": sorted(entry.endpoints),
            "pending": None
            if pending is None
            else {
                "mode": pending.mode,
                "after": pending.remaining,
                "endpoints": sorted(pending.endpoints),
            },
        }

    def sessions(self) -> list[str]:
        """Return the sessions that ever had a mode set."""
        return list(self._sessions)

    def reset(self) -> None:
        """Put every session back into mode "ok"."""
        self._sessions.clear()
