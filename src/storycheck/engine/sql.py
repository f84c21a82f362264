"""Shared pieces of the engine's database code: the tables, a base class, fast executemany.

The engine's statements live in three stores split by what they write — `leases`
(claim / release / renew, looked-up identities), `results` (exactly-once outcomes) and
`pairstore` (pair counters, health, usage, settings) — combined in `recorder.Recorder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from storycheck.batches.models import Batch, BatchLog, BatchProfile
from storycheck.db import Database, new_id
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog, ProxyUsage
from storycheck.stories.models import StoryResult


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


BP = _table(BatchProfile)
BATCHES = _table(Batch)
PROFILES = _table(Profile)
LOGS = _table(BatchLog)
STORIES = _table(StoryResult)
PROXIES = _table(Proxy)
SESSIONS = _table(IgSession)
ERRORS = _table(ProxyErrorLog)
USAGE = _table(ProxyUsage)


class Store:
    """What every engine store shares: the database, its dialect, and who holds the leases.

    `lease_owner` is the `storycheck worker` id written with every item lease it claims, so
    that any live process can return a dead worker's items at once (NULL in one process).
    """

    def __init__(self, db: Database, *, lease_owner: str | None = None) -> None:
        self.db = db
        self.is_postgres = not db.is_sqlite
        self.lease_owner = lease_owner

    def _insert(self, table: Table) -> Any:
        return postgresql.insert(table) if self.is_postgres else sqlite.insert(table)


class FastSql:
    """Hand-written executemany for the hot record statements.

    SQLAlchemy's per-row bind processing costs about ten times the database work for these
    wide executemany calls; here values are prepared once (timestamps memoised per call) and
    handed to the driver. SQL is written with `?` and adapted to the driver's placeholder.
    """

    SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # the storage format of SQLAlchemy's SQLite DATETIME

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self._times: dict[float, Any] = {}

    def time(self, moment: float | None) -> Any:
        """A unix time as the driver stores a `UTCDateTime` (naive UTC text on SQLite)."""
        if moment is None:
            return None
        value = self._times.get(moment)
        if value is None:
            stamp = datetime.fromtimestamp(moment, UTC)
            value = stamp.replace(tzinfo=None).strftime(self.SQLITE_TIME) if self.sqlite else stamp
            self._times[moment] = value
        return value

    def executemany(self, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run `statement` once per row."""
        if not rows:
            return
        if not self.sqlite:
            statement = statement.replace("?", "%s")
        self.conn.exec_driver_sql(statement, list(rows))


def log_row(
    batch_id: str,
    event_type: str,
    message: str,
    at: datetime | None,
    profile_id: str | None,
    proxy_id: str | None,
) -> dict[str, Any]:
    """A `batch_logs` row as a dict for `LOGS.insert()`."""
    return {
        "id": new_id(),
        "batch_id": batch_id,
        "timestamp": at,
        "event_type": event_type,
        "message": message[:500],
        "profile_id": profile_id,
        "proxy_id": proxy_id,
    }


def duration(seconds: float) -> str:
    """`1h02m03s` / `2m03s`."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
