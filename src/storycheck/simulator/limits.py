"""Sliding-window request budgets per session and per client address.

Besides the per-endpoint windows, `session_total` is one budget per session over every
endpoint. A window holds the times of *accepted* requests only: a client that stays within its budget
is never refused, and a refused request does not push the window further out. A request that
arrives while its session or its address already has a full window is refused (and the
referee records it as a violation).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from storycheck.simulator.config import Limit, LimitsConfig

Category = Literal["profile", "stories"]
Bucket = Literal["profile", "stories", "total"]
Scope = Literal["session", "address"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was refused: which scope and key were full, and when room returns."""

    scope: Scope
    key: str
    category: Bucket
    limit: Limit
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """Return the Retry-After value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class Limiter:
    """Holds one sliding window per (scope, category, key) and admits or refuses requests."""

    def __init__(self, config: LimitsConfig) -> None:
        """Create an empty limiter enforcing `config`."""
        self.config = config
        self._windows: dict[tuple[Scope, Bucket, str], deque[float]] = {}

    def _limit(self, scope: Scope, category: Bucket) -> Limit | None:
        """Return the configured limit of one scope and category (None = unlimited)."""
        config = self.config
        if scope == "session":
            if category == "total":
                return config.session_total
            return config.session_profile if category == "profile" else config.session_stories
        if category == "total":
            return None
        return config.address_profile if category == "profile" else config.address_stories

    def _window(
        self, scope: Scope, category: Bucket, key: str, limit: Limit, now: float
    ) -> deque[float]:
        """Return the window of one key with entries older than the limit's span dropped."""
        window = self._windows.get((scope, category, key))
        if window is None:
            window = self._windows[(scope, category, key)] = deque()
        horizon = now - limit.window_seconds
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def admit(self, session: str, address: str, category: Category, now: float) -> Rejection | None:
        """Count the request against both scopes and return None, or refuse it without counting."""
        if not self.config.enabled:
            return None
        checked: list[deque[float]] = []
        scopes: tuple[tuple[Scope, Bucket, str], ...] = (
            ("session", "total", session),
            ("session", category, session),
            ("address", category, address),
        )
        for scope, bucket, key in scopes:
            limit = self._limit(scope, bucket)
            if limit is None:
                continue
            window = self._window(scope, bucket, key, limit, now)
            if len(window) >= limit.requests:
                retry = window[0] + limit.window_seconds - now if window else limit.window_seconds
                return Rejection(scope, key, bucket, limit, max(0.0, retry))
            checked.append(window)
        for window in checked:
            window.append(now)
        return None

    def usage(self, now: float) -> dict[str, dict[str, int]]:
        """Return the current window fill per `scope:category` and key (for /__sim__/stats)."""
        result: dict[str, dict[str, int]] = {}
        for scope, category, key in list(self._windows):
            limit = self._limit(scope, category)
            if limit is None:
                continue
            fill = len(self._window(scope, category, key, limit, now))
            result.setdefault(f"{scope}:{category}", {})[key] = fill
        return result

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()
