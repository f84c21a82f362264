"""The referee's record: what every session and client address sent, and every violation.

A violation is a request received while its session or address had already used up its
budget; a well-paced client produces none. Outcomes are recorded once per request.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from storycheck.simulator.limits import Rejection

ANONYMOUS = "-"
# Every "Please wait" answer: over a limit, injected, a session mode, or an old user agent.
RATE_LIMITED_OUTCOMES = frozenset(
    {
        "rate_limited",
        "fault_rate_limited",
        "mode_rate_limit_401",
        "mode_rate_limit_429",
        "old_client",
    }
)


@dataclass
class Tally:
    """Counts for one session or one address."""

    total: int = 0
    ok: int = 0
    rate_limited: int = 0
    violations: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)

    def add(self, endpoint: str, outcome: str) -> None:
        """Count one request."""
        self.total += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome in RATE_LIMITED_OUTCOMES:
            self.rate_limited += 1
        self.by_endpoint[endpoint] += 1
        self.by_outcome[outcome] += 1

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy."""
        return {
            "total": self.total,
            "ok": self.ok,
            "rate_limited": self.rate_limited,
            "violations": self.violations,
            "by_endpoint": dict(self.by_endpoint),
            "by_outcome": dict(self.by_outcome),
        }


class Referee:
    """Counts requests per session and per address and keeps samples of violations."""

    def __init__(self, max_samples: int = 100) -> None:
        """Start with an empty record keeping at most `max_samples` violation samples."""
        self.max_samples = max_samples
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self.total = Tally()
        self.sessions: dict[str, Tally] = {}
        self.addresses: dict[str, Tally] = {}
        self.faults: Counter[str] = Counter()
        self.violation_count = 0
        self.samples: deque[dict[str, Any]] = deque(maxlen=self.max_samples)

    def record(self, session: str, address: str, endpoint: str, outcome: str) -> None:
        """Count one answered (or dropped) request under its session and address."""
        session = session or ANONYMOUS
        tally = self.sessions.get(session)
        if tally is None:
            tally = self.sessions[session] = Tally()
        tally.add(endpoint, outcome)
        tally = self.addresses.get(address)
        if tally is None:
            tally = self.addresses[address] = Tally()
        tally.add(endpoint, outcome)
        self.total.add(endpoint, outcome)

    def fault(self, name: str) -> None:
        """Count one injected fault."""
        self.faults[name] += 1

    def violation(
        self, rejection: Rejection, session: str, address: str, endpoint: str, at: float
    ) -> None:
        """Record a request that arrived while a budget was already used up."""
        self.violation_count += 1
        session = session or ANONYMOUS
        for table, key in ((self.sessions, session), (self.addresses, address)):
            tally = table.get(key)
            if tally is None:
                tally = table[key] = Tally()
            tally.violations += 1
        self.total.violations += 1
        self.samples.append(
            {
                "at": at,
                "session": session,
                "address": address,
                "endpoint": endpoint,
                "scope": rejection.scope,
                "category": rejection.category,
                "limit": rejection.limit.requests,
                "window_seconds": rejection.limit.window_seconds,
            }
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the whole record as a JSON-ready dict (the /__sim__/stats body)."""
        return {
            "total": self.total.as_dict(),
            "sessions": {key: tally.as_dict() for key, tally in self.sessions.items()},
            "addresses": {key: tally.as_dict() for key, tally in self.addresses.items()},
            "faults": dict(self.faults),
            "violations": {"count": self.violation_count, "samples": list(self.samples)},
        }
