"""All mutable state of one simulator: world, sessions and their modes, limits, faults, referee."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from storycheck.simulator import answers
from storycheck.simulator.clock import SimClock
from storycheck.simulator.config import NOT_FOUND_STYLES, SimulatorConfig
from storycheck.simulator.faults import FaultInjector
from storycheck.simulator.limits import Limiter
from storycheck.simulator.modes import ModeBook
from storycheck.simulator.referee import Referee
from storycheck.simulator.sessions import Follows, SessionRegistry, session_ids_for
from storycheck.simulator.truth import OverrideKind, Truth
from storycheck.simulator.webclient import WebClients

_RUNTIME_SETTINGS = ("not_found_style", "min_chrome_major", "cookie_rotation_every", "doc_ids")


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
        self.modes = ModeBook()
        self.follows = Follows()
        self.web = WebClients(config.cookie_rotation_every)
        # Client addresses Instagram's edge refuses (403 HTML), whatever session they carry.
        self.blocked_addresses: set[str] = set()

    def _known(self, session_id: str) -> str:
        """Return the stored id of a session; KeyError when the simulator would refuse it."""
        found = self.sessions.find(session_id)
        if found is not None:
            return found
        if self.sessions.accept_any and session_id:
            return session_id
        raise KeyError(session_id)

    def set_mode(
        self,
        session_id: str,
        mode: str,
        after: int = 0,
        endpoints: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Make one session answer `mode` (a name of `answers.MODES`), now or after N requests.

        `endpoints` picks among "profile", "reels" and "graphql" (default all); "ok" restores.
        """
        return self.modes.set(self._known(session_id), mode, after, endpoints)

    def follow(self, session_id: str, usernames: Iterable[str], follow: bool = True) -> list[str]:
        """Make a session follow (or unfollow) accounts; return all it follows (each account
        by the name it was created under: a follow stays with a renamed account)."""
        accounts = [self.truth.profile(name).account for name in usernames]
        return self.follows.set(self._known(session_id), accounts, follow)

    def rename(self, username: str, new_username: str) -> dict[str, Any]:
        """Rename the account called `username`; return its truth under the new name."""
        profile = self.truth.rename(username, new_username)
        return self.truth.lookup(profile.username, self.clock())

    def set_profile_kind(self, username: str, kind: OverrideKind | None) -> dict[str, Any]:
        """Override what one username is (None restores it); return its truth now."""
        profile = self.truth.set_kind(username, kind)
        return self.truth.lookup(profile.username, self.clock())

    def block_addresses(self, addresses: Iterable[str], blocked: bool = True) -> list[str]:
        """Block (or unblock) client addresses at the edge; return every blocked address."""
        for address in addresses:
            if blocked:
                self.blocked_addresses.add(address)
            else:
                self.blocked_addresses.discard(address)
        return sorted(self.blocked_addresses)

    def update_settings(self, changes: dict[str, Any]) -> None:
        """Change run-time web-client settings; unknown keys or bad values raise ValueError."""
        unknown = set(changes) - set(_RUNTIME_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        style = changes.get("not_found_style", self.config.not_found_style)
        if style not in NOT_FOUND_STYLES:
            raise ValueError(f"not_found_style must be one of {', '.join(NOT_FOUND_STYLES)}")
        numbers = {}
        for name in ("min_chrome_major", "cookie_rotation_every"):
            value = changes.get(name, getattr(self.config, name))
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0")
            numbers[name] = value
        doc_ids = changes.get("doc_ids", list(self.config.doc_ids))
        if not isinstance(doc_ids, list) or not all(isinstance(d, str) for d in doc_ids):
            raise ValueError("doc_ids must be a list of strings")
        self.config.not_found_style = style
        self.config.min_chrome_major = numbers["min_chrome_major"]
        self.config.cookie_rotation_every = numbers["cookie_rotation_every"]
        self.web.rotation_every = numbers["cookie_rotation_every"]
        self.config.doc_ids = tuple(doc_ids)

    def reset(self, *, sessions: bool = False) -> None:
        """Clear the referee's record and every limit window (and session flags and modes,
        and address blocks)."""
        self.referee.reset()
        self.limiter.reset()
        if sessions:
            self.sessions.restore_all()
            self.modes.reset()
            self.blocked_addresses.clear()

    def describe(self) -> dict[str, Any]:
        """Return the effective settings as JSON-ready data (the /__sim__/config body)."""
        config = self.config
        return {
            "seed": config.seed,
            "reel_ids_cap": config.reel_ids_cap,
            "graphql_reel_ids_cap": config.graphql_reel_ids_cap,
            "rate_limit_status": config.rate_limit_status,
            "retry_after": config.retry_after,
            "login_required_status": config.login_required_status,
            "accept_any_session": self.sessions.accept_any,
            "not_found_style": config.not_found_style,
            "min_chrome_major": config.min_chrome_major,
            "cookie_rotation_every": config.cookie_rotation_every,
            "doc_ids": list(config.doc_ids),
            "modes": list(answers.MODES),
            "limits": config.limits.as_dict(),
            "population": dataclasses.asdict(config.population),
            "faults": self.faults.config.as_dict(),
            "clock": self.clock.as_dict(),
        }
