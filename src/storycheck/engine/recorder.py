"""Every database statement of the engine, as one object: `Recorder`.

The statements are split by what they store — `leases` (claim, release, renew, looked-up
identities), `results` (exactly-once outcomes, detections, batch counters) and `pairstore`
(pair counters and health, usage reservations, logs; pairs/settings/usage reads). All
methods are synchronous and run on the engine's single database thread; each is one short
transaction (`Database.write()`, i.e. `BEGIN IMMEDIATE` on SQLite).

The engine's data types live in `engine.types`; they are re-exported here for callers that
import them from the recorder.
"""

from __future__ import annotations

from storycheck.engine.leases import LeaseStore
from storycheck.engine.pairstore import PairStore
from storycheck.engine.results import ResultStore
from storycheck.engine.types import (
    COMPLETED,
    FAILED,
    IN_FLIGHT,
    IN_PROGRESS,
    NOT_FOUND_ERROR,
    PENDING,
    BatchProgress,
    EngineSettings,
    Identity,
    ItemOutcome,
    LogRow,
    PairRow,
    PairWrite,
    PersistJob,
    PersistReport,
    RecordReport,
    to_datetime,
)


class Recorder(LeaseStore, ResultStore, PairStore):
    """The engine's database access; one instance per pool, used from one thread."""


__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_FLIGHT",
    "IN_PROGRESS",
    "NOT_FOUND_ERROR",
    "PENDING",
    "BatchProgress",
    "EngineSettings",
    "Identity",
    "ItemOutcome",
    "LogRow",
    "PairRow",
    "PairWrite",
    "PersistJob",
    "PersistReport",
    "RecordReport",
    "Recorder",
    "to_datetime",
]
