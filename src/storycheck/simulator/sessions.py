"""The sessions the simulator knows, the state each one is in, and whom each one follows."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import Literal

from storycheck.simulator.truth import normalize_username

SessionState = Literal[
    "ok", "logged_out", "challenge_required", "checkpoint_required", "feedback_required"
]
CHALLENGE_STATES: tuple[SessionState, ...] = (
    "challenge_required",
    "checkpoint_required",
    "feedback_required",
)
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def token(data: bytes, length: int) -> str:
    """Return `length` base-62 characters derived from `data`."""
    value = int.from_bytes(hashlib.blake2b(data, digest_size=32).digest(), "big")
    chars = []
    for _ in range(length):
        value, digit = divmod(value, len(_TOKEN_ALPHABET))
        chars.append(_TOKEN_ALPHABET[digit])
    return "".join(chars)


def session_ids_for(seed: int, count: int) -> list[str]:
    """Return `count` deterministic, Instagram-looking sessionid cookie values for `seed`."""
    ids = []
    for index in range(count):
        data = f"session|{seed}|{index}".encode()
        user = 50_000_000_000 + int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")
        ids.append(f"{user}%3A{token(data, 14)}%3A{index % 28 + 1}%3A{token(data + b'!', 24)}")
    return ids


class SessionRegistry:
    """Valid session ids and their state; optionally accepts any non-empty session."""

    def __init__(self, session_ids: Iterable[str] = (), accept_any: bool = False) -> None:
        """Know `session_ids` (all in state "ok")."""
        self.accept_any = accept_any
        self._states: dict[str, SessionState] = {}
        self._flagged_at: dict[str, float] = {}
        self.add(session_ids)

    def add(self, session_ids: Iterable[str]) -> list[str]:
        """Add sessions (existing ones keep their state) and return the ids added."""
        added = []
        for session_id in session_ids:
            if not isinstance(session_id, str) or not session_id.strip():
                raise ValueError("session ids must be non-empty strings")
            if session_id not in self._states:
                self._states[session_id] = "ok"
                added.append(session_id)
        return added

    def find(self, session_id: str) -> str | None:
        """Return the stored id matching `session_id`, also when ':' arrived percent-decoded."""
        if session_id in self._states:
            return session_id
        encoded = session_id.replace(":", "%3A")
        return encoded if encoded in self._states else None

    def state(self, session_id: str) -> SessionState | None:
        """Return the state of a presented cookie value, or None when it is not accepted."""
        if not session_id:
            return None
        state = self._states.get(session_id)
        if state is None and self.accept_any:
            return "ok"
        return state

    def flag(
        self, session_id: str, state: SessionState, clock: Callable[[], float] = time.time
    ) -> None:
        """Put a known (or, with accept_any, any) session into `state`."""
        if session_id not in self._states and not self.accept_any:
            raise KeyError(session_id)
        self._states[session_id] = state
        self._flagged_at[session_id] = clock()

    def restore_all(self) -> None:
        """Put every session back into state "ok"."""
        for session_id in self._states:
            self._states[session_id] = "ok"
        self._flagged_at.clear()

    def listing(self) -> list[dict[str, object]]:
        """Return every known session with its state."""
        return [
            {"id": session_id, "state": state, "flagged_at": self._flagged_at.get(session_id)}
            for session_id, state in self._states.items()
        ]

    def __contains__(self, session_id: object) -> bool:
        """Tell whether `session_id` is a known session."""
        return session_id in self._states

    def __len__(self) -> int:
        """Return the number of known sessions."""
        return len(self._states)


class Follows:
    """Which accounts each session follows (a private account's reel shows only to them)."""

    def __init__(self) -> None:
        """Start with nobody following anybody."""
        self._follows: dict[str, set[str]] = {}

    def set(self, session: str, usernames: Iterable[str], follow: bool = True) -> list[str]:
        """Make `session` follow (or unfollow) `usernames`; return everyone it follows."""
        names = self._follows.setdefault(session, set())
        for username in usernames:
            name = normalize_username(username)
            if follow:
                names.add(name)
            else:
                names.discard(name)
        return sorted(names)

    def follows(self, session: str, username: str) -> bool:
        """Tell whether `session` follows `username` (already normalized)."""
        names = self._follows.get(session)
        return names is not None and username in names

    def listing(self) -> dict[str, list[str]]:
        """Return every session's followed usernames."""
        return {session: sorted(names) for session, names in self._follows.items() if names}

    def reset(self) -> None:
        """Forget every follow."""
        self._follows.clear()
