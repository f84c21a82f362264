"""Learning a pair's real hourly limit from rate limits (AIMD), pure and clock-free.

Instagram's limit per session is unknown and may be below `proxy_hourly_limit`. Keeping
the same pace after a 401 "Please wait" brings the 401 back, so after each rate-limit answer
the pair's allowed budget drops multiplicatively (×`decrease`, from the lower of what it was
allowed and what it had actually sent in the window when refused), and after each quiet
period without one it grows additively: quickly (a tenth of the refused level per period)
up to 90 % of the level that was refused, then slowly (2 %) up to just below that level,
where it stays. Only after `forget_after` seconds without a refusal does the budget go back
to the setting (Instagram's limits change rarely). Refusals therefore stay a small constant
per pair, and the pair runs just under its real limit. The learned value is persisted per pair
(`proxies.learned_hourly_limit`) and shown in the proxy payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FAST_SHARE = 0.9  # recover quickly up to this share of the refused level
FAST_STEP = 0.1  # … by this share of the refused level per quiet period
SLOW_STEP = 0.02  # … then by this share per quiet period


@dataclass
class AdaptiveLimit:
    """One pair's learned session budget (None: the setting applies)."""

    configured: int
    learned: int | None = None
    refused_at: int | None = None  # requests in the window when last refused
    last_change: float = -math.inf
    last_refusal: float = -math.inf
    decrease: float = 0.5
    dirty: bool = False  # changed since it was last persisted

    @property
    def current(self) -> int:
        """The budget in force now."""
        if self.learned is None:
            return self.configured
        return max(1, min(self.configured, self.learned))

    def configure(self, configured: int) -> None:
        """The setting changed; a learned value at or above it no longer matters."""
        self.configured = max(1, configured)
        if self.learned is not None and self.learned >= self.configured:
            self._reset()

    def rate_limited(self, sent_in_window: int, now: float) -> int:
        """Halve the budget after a rate-limit answer; return the new budget."""
        allowed = self.current
        # What was really sent is the better guess of the limit — unless the refusal came
        # almost at once (some 429s do), which says little about the rate.
        observed = max(sent_in_window, math.ceil(allowed / 4))
        base = min(allowed, observed)
        self.refused_at = max(1, sent_in_window)
        self.learned = max(1, math.floor(base * self.decrease))
        self.last_change = now
        self.last_refusal = now
        self.dirty = True
        return self.learned

    def quiet(self, now: float, period: float, forget_after: float = math.inf) -> bool:
        """Grow the budget if a quiet `period` passed since the last change; True if it did."""
        if self.learned is None or now - self.last_change < period:
            return False
        level = self.refused_at or self.learned
        cap = max(1, level - 1)  # never knowingly back at the level that was refused
        if self.learned >= cap:
            if now - self.last_refusal < forget_after:
                return False
            self._reset()  # long quiet: try the setting again
            self.last_change = now
            return True
        if self.learned < FAST_SHARE * level:
            step = max(1, math.ceil(FAST_STEP * level))
            grown = min(self.learned + step, math.ceil(FAST_SHARE * level))
        else:
            grown = self.learned + max(1, math.ceil(SLOW_STEP * level))
        self.last_change = now
        self.dirty = True
        if grown >= self.configured:
            self._reset()
        else:
            self.learned = min(grown, cap)
        return True

    def _reset(self) -> None:
        self.learned = None
        self.refused_at = None
        self.dirty = True


__all__ = ["AdaptiveLimit"]
