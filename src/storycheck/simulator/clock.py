"""The simulator's adjustable clock: a base clock plus an offset, or frozen at one time."""

from __future__ import annotations

from typing import Any

from storycheck.simulator.config import Clock


class SimClock:
    """Callable returning unix seconds; tests and `/__sim__/clock` shift or freeze it."""

    def __init__(self, base: Clock) -> None:
        """Follow `base` (the config's injectable clock) with no offset."""
        self.base = base
        self.offset = 0.0
        self.frozen_at: float | None = None

    def __call__(self) -> float:
        """Return the simulator's current time."""
        if self.frozen_at is not None:
            return self.frozen_at
        return self.base() + self.offset

    def set(self, *, offset: float | None = None, frozen_at: float | None | Any = ...) -> None:
        """Change the offset and/or freeze (a number) or unfreeze (None) the clock."""
        if offset is not None:
            self.offset = float(offset)
        if frozen_at is not ...:
            self.frozen_at = None if frozen_at is None else float(frozen_at)

    def as_dict(self) -> dict[str, float | None]:
        """Return the clock's state as JSON-ready data."""
        return {"now": self(), "offset": self.offset, "frozen_at": self.frozen_at}
