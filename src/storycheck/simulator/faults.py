"""Fault injection: decides, per Instagram-endpoint request, whether and how it misbehaves."""

from __future__ import annotations

import enum
import random

from storycheck.simulator.config import FaultConfig


class Fault(enum.Enum):
    """One way a request can go wrong; at most one is drawn per request."""

    DROP = "drop"  # reset the connection without sending a response
    HANG = "hang"  # sleep past the client's timeout, then answer normally
    ERROR_5XX = "error_5xx"  # answer 500, 502 or 503
    RATE_LIMIT = "rate_limit"  # a spurious "Please wait a few minutes" (not a violation)
    MALFORMED = "malformed"  # process normally, then cut the JSON body short


class FaultInjector:
    """Draws faults and latency from seeded randomness; settings may change at run time."""

    def __init__(self, config: FaultConfig, seed: int = 0) -> None:
        """Start with `config`; the same seed gives the same sequence of draws."""
        self.config = config
        self._random = random.Random(f"faults|{seed}")

    def update(self, changes: dict[str, float]) -> FaultConfig:
        """Apply a partial update (keys as in `FaultConfig`) and return the new settings."""
        self.config = self.config.updated(changes)
        return self.config

    @property
    def active(self) -> bool:
        """Tell whether any fault or latency is configured (the fast path skips the draws)."""
        config = self.config
        return bool(
            config.drop_share
            or config.hang_share
            or config.error_5xx_share
            or config.rate_limit_share
            or config.malformed_share
            or config.latency_seconds
            or config.jitter_seconds
        )

    def draw(self) -> Fault | None:
        """Return the fault for the next request, or None for a healthy one."""
        config = self.config
        point = self._random.random()
        for fault, share in (
            (Fault.DROP, config.drop_share),
            (Fault.HANG, config.hang_share),
            (Fault.ERROR_5XX, config.error_5xx_share),
            (Fault.RATE_LIMIT, config.rate_limit_share),
            (Fault.MALFORMED, config.malformed_share),
        ):
            if point < share:
                return fault
            point -= share
        return None

    def latency(self) -> float:
        """Return the extra seconds to wait before answering the next request."""
        config = self.config
        jitter = self._random.uniform(0, config.jitter_seconds) if config.jitter_seconds else 0.0
        return config.latency_seconds + jitter

    def choice(self, options: tuple[int, ...]) -> int:
        """Pick one of `options` with the injector's seeded randomness."""
        return self._random.choice(options)
