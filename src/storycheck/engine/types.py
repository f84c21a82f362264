"""The engine's data types: what is leased, what is recorded, what is read and written.

`WorkItem`, `ItemAnswer` and `CheckOutcome` belong to the checker's interface
(`engine/checker.py`) and are re-exported here; `LeasedItem` adds what only the scheduler
needs to remember about an item between requests. Everything else here is plain data moved
between the scheduler (event loop) and the recorder (database thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from storycheck.batches.models import BatchStatus, FailureKind, ItemStatus
from storycheck.engine.checker import CheckOutcome, ItemAnswer, WorkItem
from storycheck.engine.health import PairEvent

# The engine's settings object is the settings model itself (defaults and ranges live there).
from storycheck.settings.schemas import SettingsValues as EngineSettings

PENDING = ItemStatus.PENDING.value
IN_FLIGHT = ItemStatus.IN_FLIGHT.value
COMPLETED = ItemStatus.COMPLETED.value
FAILED = ItemStatus.FAILED.value
IN_PROGRESS = BatchStatus.IN_PROGRESS.value

# `batch_profiles.outcome` of completed items (CONTRACTS.md "Item outcomes").
STORY = "story"
NO_STORY = "no_story"
PRIVATE = "private"  # private account the checking session does not follow: unknown
# `batch_profiles.failure_kind` of failed items.
NOT_FOUND = FailureKind.NOT_FOUND.value
UNAVAILABLE = FailureKind.UNAVAILABLE.value
TRANSIENT = FailureKind.TRANSIENT.value
NOT_FOUND_ERROR = "not_found"  # legacy `error` text of a not-found item


def to_datetime(moment: float | None) -> datetime | None:
    """Unix seconds → aware UTC datetime (None stays None)."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


@dataclass(eq=False)
class LeasedItem(WorkItem):
    """A leased item plus the scheduler's memory of it between requests."""

    # The pair whose lookup said "no such user" first; a second, different pair confirms.
    not_found_by: str | None = None
    # A session known to follow this private account: its pair gets the story request.
    followed_by_session_id: str | None = None
    # When a lookup through that session last confirmed the follow (None: not known): an
    # absent reel through it proves "no story" only while this is fresh (privacy_max_age).
    followed_checked_at: float | None = None
    # Sent alone next time: after a failed group request used up its attempts, only an
    # answer about this item alone may fail it (a group is split, never failed whole).
    solo: bool = False
    # Profile flagged "not found" recently: fails at once, no request.
    known_missing: bool = False
    # A story request found no reel, but whether the account is private was unknown: a lookup
    # must tell "no story" (public) from "hidden" (private) before anything is recorded.
    absent_seen: bool = False


@dataclass(frozen=True)
class ItemOutcome:
    """The final outcome of one leased item, ready to be recorded."""

    item: WorkItem
    status: str  # completed | failed
    processed_at: float
    outcome: str | None = None  # completed: story | no_story | private (None: from has_story)
    has_story: bool = False
    item_count: int = 0
    oldest_taken_at: int | None = None
    newest_taken_at: int | None = None
    expiring_at: int | None = None
    error: str | None = None
    failure_kind: str | None = None  # failed: not_found | unavailable | transient
    proxy_id: str | None = None
    session_id: str | None = None
    not_found: bool = False  # confirmed now: flag the profile and stamp `not_found_at`
    attempts: int | None = None  # the item's attempts after this answer (None: unchanged)

    @property
    def story_count(self) -> int:
        """`item_count` under the name the story windows read."""
        return self.item_count

    @property
    def attempts_used(self) -> int:
        """The attempt count to store."""
        return self.item.attempts if self.attempts is None else self.attempts

    @property
    def result(self) -> str | None:
        """The `batch_profiles.outcome` to store (None for failed items)."""
        if self.status != COMPLETED:
            return None
        return self.outcome or (STORY if self.has_story else NO_STORY)

    @property
    def kind_of_failure(self) -> str | None:
        """The `batch_profiles.failure_kind` to store (None for completed items)."""
        if self.status != FAILED:
            return None
        return self.failure_kind or (NOT_FOUND if self.not_found else TRANSIENT)


@dataclass(frozen=True)
class Identity:
    """A looked-up username → id (and follow state), saved as soon as it is known."""

    profile_id: str
    ig_user_id: str
    is_private: bool | None
    # The session that asked, and whether it follows the account (None: not said).
    session_id: str | None
    followed: bool | None
    # The batch item it was looked up for: a deleted batch's late answer writes nothing.
    item_id: str | None = None


@dataclass(frozen=True)
class NotFoundOpinion:
    """A batch item's first "no such user" and the pair that said it (None withdraws it).

    Saved at once, like a looked-up id: a worker that dies before a second pair confirms
    leaves the opinion behind, so whoever takes the item over needs one lookup, not two.
    """

    item_id: str
    pair_id: str | None


@dataclass(frozen=True)
class LogRow:
    """A batch log row to insert (only while the batch exists)."""

    batch_id: str
    event_type: str
    message: str
    at: float
    profile_id: str | None = None
    proxy_id: str | None = None


@dataclass
class BatchProgress:
    """Counters of one batch right after a record."""

    completed: int
    total: int
    with_story: int
    failed: int
    completed_before: int = 0
    private: int = 0


@dataclass
class RecordReport:
    """Which items a record actually moved, and where their batches stand now."""

    recorded: set[str] = field(default_factory=set)
    progress: dict[str, BatchProgress] = field(default_factory=dict)


@dataclass(frozen=True)
class PairRow:
    """A proxy with its session, as stored (secrets still encrypted)."""

    proxy_id: str
    scheme: str
    ip: str
    port: int
    username: str | None
    password_encrypted: str | None
    is_active: bool
    status: str
    health: str
    cooldown_until: datetime | None
    error_score: float
    consecutive_failures: int
    backoff_level: int
    avg_response_time: int
    session_id: str | None
    session_encrypted: str | None
    csrftoken_encrypted: str | None
    ds_user_id_encrypted: str | None
    session_status: str | None
    learned_hourly_limit: int | None = None
    cookies_encrypted: str | None = None  # engine-client: the browser's other cookies
    www_claim_encrypted: str | None = None
    user_agent: str | None = None


@dataclass
class PairWrite:
    """What to write about one pair: counter deltas always, health only when it changed."""

    proxy_id: str
    session_id: str | None
    requests: int
    failures: int
    requests_this_hour: int
    avg_response_ms: int
    errors_since_success: int
    error_score: float
    consecutive_failures: int
    backoff_level: int
    last_used: float | None
    last_success: float | None
    last_error: str | None
    health: str | None = None  # set → conditional health write
    expected_health: str | None = None
    cooldown_until: float | None = None
    # The learned hourly budget: (value,) to write it (None inside = back to the setting).
    learned_limit: tuple[int | None] | None = None


@dataclass
class PersistJob:
    """Background writes collected since the last flush."""

    usage: dict[tuple[str, str, int], int] = field(default_factory=dict)
    pairs: list[PairWrite] = field(default_factory=list)
    events: list[PairEvent] = field(default_factory=list)
    logs: list[LogRow] = field(default_factory=list)
    # session id → (new status, the encrypted cookie it applies to): a cookie replaced through
    # the API in the meantime is left alone.
    session_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@dataclass
class PersistReport:
    """Health writes that lost a race against the API (the refresh adopts the new value)."""

    health_written: dict[str, str] = field(default_factory=dict)
    health_conflicts: set[str] = field(default_factory=set)


__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_FLIGHT",
    "IN_PROGRESS",
    "NOT_FOUND",
    "NOT_FOUND_ERROR",
    "NO_STORY",
    "PENDING",
    "PRIVATE",
    "STORY",
    "TRANSIENT",
    "UNAVAILABLE",
    "BatchProgress",
    "CheckOutcome",
    "EngineSettings",
    "Identity",
    "ItemAnswer",
    "ItemOutcome",
    "LeasedItem",
    "LogRow",
    "PairRow",
    "PairWrite",
    "PersistJob",
    "PersistReport",
    "RecordReport",
    "WorkItem",
    "to_datetime",
]
