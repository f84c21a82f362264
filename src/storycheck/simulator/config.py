"""Configuration of the Instagram simulator: one dataclass tree, built by tests or the CLI.

Every knob has a default that behaves like Instagram as the engine meets it; tests shrink
windows and shares instead of patching code.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Clock = Callable[[], float]
RateLimitStatus = Literal["401", "429", "mix"]
NotFoundStyle = Literal["empty", "json", "user_null"]
NOT_FOUND_STYLES: tuple[NotFoundStyle, ...] = ("empty", "json", "user_null")
LIMIT_NAMES = (
    "session_profile",
    "session_stories",
    "session_total",
    "address_profile",
    "address_stories",
)

_LIMIT_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Limit:
    """At most `requests` accepted requests in any sliding window of `window_seconds`."""

    requests: int
    window_seconds: float

    def __post_init__(self) -> None:
        """Reject negative budgets and empty windows."""
        if self.requests < 0 or self.window_seconds <= 0:
            raise ValueError(f"invalid limit {self.requests}/{self.window_seconds}s")

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """Parse `N/SECONDS` (units s, m, h, d: `200/1h`); `off`, `none` or `0` mean unlimited."""
        if text.strip().lower() in ("off", "none", "unlimited", "0"):
            return None
        match = _LIMIT_RE.match(text)
        if match is None:
            raise ValueError(f"limit must look like 200/3600 or 10/2s, not {text!r}")
        count, amount, unit = match.groups()
        return cls(int(count), float(amount) * _UNIT_SECONDS[unit])

    def __str__(self) -> str:
        """Return the `N/SECONDSs` form."""
        return f"{self.requests}/{self.window_seconds:g}s"


@dataclass
class LimitsConfig:
    """Sliding-window budgets per session and per client address, for lookups and story reads.

    `session_total` is one budget per session over every endpoint together (Instagram counts
    per session), on top of the per-endpoint windows. `None` for a single limit means that
    scope is unlimited; `enabled=False` turns all off.
    """

    enabled: bool = True
    session_profile: Limit | None = field(default_factory=lambda: Limit(200, 3600.0))
    session_stories: Limit | None = field(default_factory=lambda: Limit(200, 3600.0))
    address_profile: Limit | None = field(default_factory=lambda: Limit(400, 3600.0))
    address_stories: Limit | None = field(default_factory=lambda: Limit(1000, 3600.0))
    session_total: Limit | None = None

    @classmethod
    def uniform(cls, requests: int, window_seconds: float) -> LimitsConfig:
        """Return limits with the same budget for every scope (handy for compressed tests)."""
        limit = Limit(requests, window_seconds)
        return cls(True, limit, limit, limit, limit)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update in place: `enabled`, and limits as "N/SECONDS", "off"/None
        or `{"requests": N, "window_seconds": S}`; unknown keys or bad values raise ValueError.
        """
        unknown = set(changes) - {"enabled", *LIMIT_NAMES}
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(sorted(unknown))}")
        parsed: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "enabled":
                if not isinstance(value, bool):
                    raise ValueError("enabled must be true or false")
                parsed[name] = value
            elif value is None:
                parsed[name] = None
            elif isinstance(value, str):
                parsed[name] = Limit.parse(value)
            elif isinstance(value, dict):
                try:
                    parsed[name] = Limit(int(value["requests"]), float(value["window_seconds"]))
                except (KeyError, TypeError) as exc:
                    raise ValueError(f"{name} needs requests and window_seconds") from exc
            else:
                raise ValueError(f"{name} must be 'N/SECONDS', 'off' or null")
        for name, value in parsed.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Return the limits as JSON-ready data (None = unlimited)."""
        result: dict[str, Any] = {"enabled": self.enabled}
        for name in LIMIT_NAMES:
            limit = getattr(self, name)
            result[name] = (
                None
                if limit is None
                else {"requests": limit.requests, "window_seconds": limit.window_seconds}
            )
        return result


@dataclass(frozen=True)
class PopulationConfig:
    """How the seeded world looks: which usernames exist, are private, and when they post.

    Time is cut into slots of `slot_seconds`; in each slot a public, posting user publishes one
    story post (1..`max_items_per_post` items, taken within the slot) with that user's own
    probability, drawn uniformly from [0, 2 × `story_probability`]. Each item is live from
    its `taken_at` until `taken_at + story_ttl_seconds`. Private accounts post the same way
    (unless `private_stories` is off), but only sessions that follow them see their reels. `business_deleted_share` of the public
    accounts are business accounts whose web_profile_info answers Instagram's 400 "Asset …
    ig_business_category_subvertical has been deleted".
    """

    missing_share: float = 0.05
    private_share: float = 0.10
    never_post_share: float = 0.20
    business_deleted_share: float = 0.0
    private_stories: bool = True
    story_probability: float = 0.02
    slot_seconds: float = 3600.0
    story_ttl_seconds: float = 86400.0
    max_items_per_post: int = 3

    def __post_init__(self) -> None:
        """Reject shares that do not fit together and non-positive durations."""
        shares = (self.missing_share, self.private_share, self.never_post_share)
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError("population shares must be >= 0 and sum to at most 1")
        if not 0 <= self.business_deleted_share <= 1:
            raise ValueError("business_deleted_share must be within [0, 1]")
        if not 0 <= self.story_probability <= 0.5:
            raise ValueError("story_probability must be within [0, 0.5]")
        if self.slot_seconds <= 0 or self.story_ttl_seconds <= 0 or self.max_items_per_post < 1:
            raise ValueError(
                "slot_seconds, story_ttl_seconds and max_items_per_post must be positive"
            )


@dataclass(frozen=True)
class FaultConfig:
    """Shares (0..1) of Instagram-endpoint requests that misbehave, plus added latency.

    Each request draws one fault at most, in this order: drop (connection reset without a
    response), hang (sleep `hang_seconds`, then answer normally), 5xx, spurious rate limit
    (not a violation), malformed JSON (the request is processed, the body is cut short).
    Latency `latency_seconds + uniform(0, jitter_seconds)` is added to every answer.
    """

    error_5xx_share: float = 0.0
    hang_share: float = 0.0
    hang_seconds: float = 30.0
    malformed_share: float = 0.0
    drop_share: float = 0.0
    rate_limit_share: float = 0.0
    latency_seconds: float = 0.0
    jitter_seconds: float = 0.0

    def __post_init__(self) -> None:
        """Reject shares outside [0, 1] and negative times."""
        shares = (
            self.error_5xx_share,
            self.hang_share,
            self.malformed_share,
            self.drop_share,
            self.rate_limit_share,
        )
        if any(not 0 <= share <= 1 for share in shares) or sum(shares) > 1:
            raise ValueError("fault shares must lie in [0, 1] and sum to at most 1")
        if self.hang_seconds < 0 or self.latency_seconds < 0 or self.jitter_seconds < 0:
            raise ValueError("hang_seconds, latency_seconds and jitter_seconds must be >= 0")

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """Return a copy with `changes` applied; unknown keys raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **{k: float(v) for k, v in changes.items()})

    def as_dict(self) -> dict[str, float]:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class SimulatorConfig:
    """Everything the simulator needs; defaults give an Instagram-like server on a free port.

    Web-client knobs: `not_found_style` is how a missing user answers ("empty": 404 with an
    empty body, "json": 404 with a JSON body, "user_null": 200 with `data.user: null`);
    `min_chrome_major` (0 = off) answers 401 "Please wait" to an older Chrome user agent;
    every `cookie_rotation_every` requests of a session (0 = never) the answer rotates the
    csrftoken and rur cookies and the www-claim; `doc_ids` are the GraphQL documents the dense
    `POST /graphql/query` form accepts; `proxy_silent_close` is the default of the CLI's
    proxy fleet (close each connection after one answer without saying so).
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    sessions: int = 0
    session_ids: tuple[str, ...] = ()
    accept_any_session: bool = False
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    rate_limit_status: RateLimitStatus = "401"
    retry_after: bool = False
    # A logged-out or unknown session: 403 `login_required` JSON, as the facts file says
    # (instagrapi, InstagramApiSharp); 401 and the 302 to the login page are options.
    login_required_status: int = 403
    missing_app_id_status: int = 400
    reel_ids_cap: int = 20
    graphql_reel_ids_cap: int = 50
    violation_samples: int = 100
    not_found_style: NotFoundStyle = "empty"
    min_chrome_major: int = 0
    cookie_rotation_every: int = 25
    doc_ids: tuple[str, ...] = ()
    proxy_silent_close: bool = False
    clock: Clock = time.time

    def __post_init__(self) -> None:
        """Reject statuses and caps the simulator cannot serve."""
        if self.rate_limit_status not in ("401", "429", "mix"):
            raise ValueError("rate_limit_status must be '401', '429' or 'mix'")
        if self.login_required_status not in (401, 403, 302):
            raise ValueError("login_required_status must be 401, 403 or 302")
        if self.missing_app_id_status not in (400, 403):
            raise ValueError("missing_app_id_status must be 400 or 403")
        if self.reel_ids_cap < 1 or self.graphql_reel_ids_cap < 1:
            raise ValueError("reel id caps must be at least 1")
        if self.not_found_style not in NOT_FOUND_STYLES:
            raise ValueError(f"not_found_style must be one of {', '.join(NOT_FOUND_STYLES)}")
        if self.min_chrome_major < 0 or self.cookie_rotation_every < 0:
            raise ValueError("min_chrome_major and cookie_rotation_every must be >= 0")
