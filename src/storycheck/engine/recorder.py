"""Every database statement of the engine: claim, record exactly once, release, persist.

Exactly once (DESIGN.md §4.5):

* **claim** leases items: `pending → in_flight` with a fresh `lease_token` and
  `lease_expires_at`, only while the batch is `in_progress` (checked in the same statement's
  transaction);
* **record** writes one request's outcomes in one transaction. An item moves to
  `completed`/`failed` only `WHERE status = 'in_flight' AND lease_token = :token`; profile
  statistics, `story_results` rows, batch counters and log rows are written *only for the
  items that moved*. A late or duplicated answer, or an answer for a deleted batch, matches
  nothing and writes nothing;
* **release** returns leased items to `pending` under the same condition.

All methods are synchronous and run on the engine's single database thread; each is one
short transaction (`Database.write()`, i.e. `BEGIN IMMEDIATE` on SQLite). Statements are
SQLAlchemy Core executemany calls, so a request with 50 items costs a handful of statements.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from storycheck.batches.models import (
    STORY_PREVIEW_LIMIT,
    Batch,
    BatchLog,
    BatchProfile,
    BatchStatus,
    ItemStatus,
)
from storycheck.db import Database, new_id
from storycheck.engine.checker import WorkItem
from storycheck.engine.health import PairEvent
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog, ProxyUsage
from storycheck.settings.models import SystemSettings
from storycheck.stories.models import StoryResult
from storycheck.stories.windows import record_sightings, sightings_from_outcomes


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

PENDING = ItemStatus.PENDING.value
IN_FLIGHT = ItemStatus.IN_FLIGHT.value
COMPLETED = ItemStatus.COMPLETED.value
FAILED = ItemStatus.FAILED.value
IN_PROGRESS = BatchStatus.IN_PROGRESS.value
NOT_FOUND_ERROR = "not_found"


def to_datetime(moment: float | None) -> datetime | None:
    """Unix seconds → aware UTC datetime (None stays None)."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


@dataclass(frozen=True)
class ItemOutcome:
    """The final outcome of one leased item, ready to be recorded."""

    item: WorkItem
    status: str  # completed | failed
    processed_at: float
    has_story: bool = False
    story_count: int = 0
    newest_taken_at: int | None = None
    expiring_at: int | None = None
    error: str | None = None
    proxy_id: str | None = None
    session_id: str | None = None
    not_found: bool = False


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
    ds_user_id: str | None
    session_status: str | None
    cookies_encrypted: str | None = None  # engine-client: the browser's other cookies
    www_claim_encrypted: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class EngineSettings:
    """The `system_settings` values the engine uses (model defaults when the row is missing)."""

    profiles_per_minute: int = 0
    max_threads: int = 8
    max_concurrent_batches: int = 1
    story_retention_hours: int = 24
    proxy_test_timeout: int = 10
    proxy_max_failures: int = 3
    proxy_hourly_limit: int = 150
    lookup_hourly_limit: int = 60
    min_request_interval: float = 2.0
    reel_ids_per_request: int = 20
    max_attempts: int = 3


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


class Recorder:
    """The engine's database access; one instance per pool, used from one thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.is_postgres = not db.is_sqlite

    def _insert(self, table: Table) -> Any:
        return postgresql.insert(table) if self.is_postgres else sqlite.insert(table)

    # ------------------------------------------------------------------ claim / release

    def claim(
        self,
        batch_id: str,
        *,
        resolved: bool,
        limit: int,
        lease_seconds: float,
        now: float,
    ) -> list[WorkItem]:
        """Lease up to `limit` pending items of a running batch.

        `resolved` picks items whose profile has a cached user id (or is known not to
        exist); otherwise items that need a username lookup first.
        """
        if limit <= 0:
            return []
        token = new_id()
        now_dt = to_datetime(now)
        expires = to_datetime(now + lease_seconds)
        running = exists().where(BATCHES.c.id == batch_id, BATCHES.c.status == IN_PROGRESS)
        if resolved:
            identity = or_(PROFILES.c.ig_user_id.is_not(None), PROFILES.c.not_found.is_(True))
        else:
            identity = and_(PROFILES.c.ig_user_id.is_(None), PROFILES.c.not_found.is_(False))
        query = (
            select(
                BP.c.id,
                BP.c.profile_id,
                BP.c.attempts,
                PROFILES.c.username,
                PROFILES.c.ig_user_id,
                PROFILES.c.is_private,
                PROFILES.c.not_found,
            )
            .select_from(BP.join(PROFILES, PROFILES.c.id == BP.c.profile_id))
            .where(BP.c.batch_id == batch_id, BP.c.status == PENDING, running, identity)
            .limit(limit)
        )
        if self.is_postgres:
            query = query.with_for_update(of=BP, skip_locked=True)
        with self.db.write() as session:
            conn = session.connection()
            rows = conn.execute(query).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            conn.execute(
                update(BP)
                .where(BP.c.id.in_(ids), BP.c.status == PENDING)
                .values(
                    status=IN_FLIGHT,
                    lease_token=token,
                    lease_expires_at=expires,
                    updated_at=now_dt,
                )
            )
        return [
            WorkItem(
                id=row.id,
                batch_id=batch_id,
                profile_id=row.profile_id,
                username=row.username,
                lease_token=token,
                ig_user_id=row.ig_user_id,
                is_private=row.is_private,
                attempts=row.attempts or 0,
                last_error=NOT_FOUND_ERROR if (row.not_found and not row.ig_user_id) else None,
            )
            for row in rows
        ]

    def release(self, items: Sequence[WorkItem], *, now: float) -> int:
        """Return leased items to `pending`, keeping attempts and any user id looked up meanwhile.

        Only items still leased to us change (a deleted batch's items are gone: nothing is
        written for them, not even the looked-up id).
        """
        if not items:
            return 0
        with self.db.write() as session:
            conn = session.connection()
            query = select(BP.c.id, BP.c.lease_token).where(
                BP.c.id.in_([i.id for i in items]), BP.c.status == IN_FLIGHT
            )
            if self.is_postgres:
                query = query.with_for_update()
            leased = {row.id: row.lease_token for row in conn.execute(query)}
            matched = [i for i in items if leased.get(i.id) == i.lease_token]
            if not matched:
                return 0
            sql = _Sql(conn)
            sql.executemany(
                "UPDATE batch_profiles SET status = ?, lease_token = NULL,"
                " lease_expires_at = NULL, attempts = ?, updated_at = ?"
                " WHERE id = ? AND status = ? AND lease_token = ?",
                [
                    (PENDING, i.attempts, sql.time(now), i.id, IN_FLIGHT, i.lease_token)
                    for i in matched
                ],
            )
            self._cache_identities(sql, [i for i in matched if i.resolved_now], now)
            return len(matched)

    def renew(self, tokens: Iterable[str], *, lease_seconds: float, now: float) -> None:
        """Push the expiry of every lease in `tokens` out by `lease_seconds`."""
        token_list = list(tokens)
        if not token_list:
            return
        expires = to_datetime(now + lease_seconds)
        with self.db.write() as session:
            conn = session.connection()
            for start in range(0, len(token_list), 500):
                conn.execute(
                    update(BP)
                    .where(
                        BP.c.status == IN_FLIGHT,
                        BP.c.lease_token.in_(token_list[start : start + 500]),
                    )
                    .values(lease_expires_at=expires)
                )

    # ------------------------------------------------------------------ record

    def record(
        self,
        outcomes: Sequence[ItemOutcome],
        *,
        retention_hours: int,
        now: float,
    ) -> RecordReport:
        """Record final outcomes in one transaction; only items still leased to us change."""
        report = RecordReport()
        if not outcomes:
            return report
        unique: dict[str, ItemOutcome] = {}
        for outcome in outcomes:
            unique.setdefault(outcome.item.id, outcome)
        with self.db.write() as session:
            conn = session.connection()
            if self.is_postgres:
                # The code base's lock order (batches/state.py): batch rows before their items.
                batch_ids = sorted({o.item.batch_id for o in unique.values()})
                conn.execute(
                    select(BATCHES.c.id)
                    .where(BATCHES.c.id.in_(batch_ids))
                    .order_by(BATCHES.c.id)
                    .with_for_update()
                )
            query = select(BP.c.id, BP.c.lease_token).where(
                BP.c.id.in_(list(unique)), BP.c.status == IN_FLIGHT
            )
            if self.is_postgres:
                query = query.with_for_update()
            leased = {row.id: row.lease_token for row in conn.execute(query)}
            matched = [o for o in unique.values() if leased.get(o.item.id) == o.item.lease_token]
            if not matched:
                return report
            # Profiles are locked in id order, so two recorders never wait on each other in turn.
            matched.sort(key=lambda o: o.item.profile_id)
            live_proxies, live_sessions = self._existing_pairs(
                conn,
                {o.proxy_id for o in matched if o.proxy_id},
                {o.session_id for o in matched if o.session_id},
            )
            sql = _Sql(conn)
            self._update_items(sql, matched, live_proxies, live_sessions, now)
            self._update_profiles(sql, matched, now)
            self._insert_stories(sql, matched, retention_hours)
            report.progress = self._count(conn, matched)
            self._record_logs(sql, matched, report.progress, live_proxies)
        report.recorded = {o.item.id for o in matched}
        return report

    def _existing_pairs(
        self, conn: Connection, proxy_ids: set[str], session_ids: set[str]
    ) -> tuple[set[str], set[str]]:
        proxies: set[str] = set()
        sessions: set[str] = set()
        if proxy_ids:
            proxies = set(conn.scalars(select(PROXIES.c.id).where(PROXIES.c.id.in_(proxy_ids))))
        if session_ids:
            sessions = set(
                conn.scalars(select(SESSIONS.c.id).where(SESSIONS.c.id.in_(session_ids)))
            )
        return proxies, sessions

    def _update_items(
        self,
        sql: _Sql,
        matched: Sequence[ItemOutcome],
        live_proxies: set[str],
        live_sessions: set[str],
        now: float,
    ) -> None:
        sql.executemany(
            "UPDATE batch_profiles SET status = ?, has_story = ?, story_count = ?,"
            " latest_story_at = ?, story_expires_at = ?, error = ?, attempts = ?,"
            " processed_at = ?, proxy_id = ?, session_id = ?, lease_token = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            " WHERE id = ? AND status = ? AND lease_token = ?",
            [
                (
                    o.status,
                    o.has_story,
                    o.story_count,
                    sql.time(o.newest_taken_at),
                    sql.time(o.expiring_at),
                    o.error[:255] if o.error else None,
                    o.item.attempts,
                    sql.time(o.processed_at),
                    o.proxy_id if o.proxy_id in live_proxies else None,
                    o.session_id if o.session_id in live_sessions else None,
                    sql.time(now),
                    o.item.id,
                    IN_FLIGHT,
                    o.item.lease_token,
                )
                for o in matched
            ],
        )

    def _update_profiles(self, sql: _Sql, matched: Sequence[ItemOutcome], now: float) -> None:
        checked = [o for o in matched if o.status == COMPLETED]
        with_story = [o for o in checked if o.has_story]
        without_story = [o for o in checked if not o.has_story]
        missing = [o for o in matched if o.not_found]
        stamp = sql.time(now)
        if with_story:
            sql.executemany(
                "UPDATE profiles SET total_checks = total_checks + 1,"
                " total_detections = total_detections + 1, active_story = ?, last_checked = ?,"
                " last_detected = ?, last_story_detected = ?, not_found = ?, updated_at = ?"
                " WHERE id = ?",
                [
                    (True, at, at, at, False, stamp, o.item.profile_id)
                    for o in with_story
                    for at in (sql.time(o.processed_at),)
                ],
            )
        if without_story:
            sql.executemany(
                "UPDATE profiles SET total_checks = total_checks + 1, active_story = ?,"
                " last_checked = ?, not_found = ?, updated_at = ? WHERE id = ?",
                [
                    (False, sql.time(o.processed_at), False, stamp, o.item.profile_id)
                    for o in without_story
                ],
            )
        if missing:
            sql.executemany(
                "UPDATE profiles SET not_found = ?, active_story = ?, last_checked = ?,"
                " updated_at = ? WHERE id = ?",
                [
                    (True, False, sql.time(o.processed_at), stamp, o.item.profile_id)
                    for o in missing
                ],
            )
        self._cache_identities(sql, [o.item for o in checked if o.item.resolved_now], now)

    def _cache_identities(self, sql: _Sql, items: Sequence[WorkItem], now: float) -> None:
        rows = [
            (i.ig_user_id, i.is_private, False, sql.time(now), i.profile_id)
            for i in items
            if i.ig_user_id
        ]
        if rows:
            sql.executemany(
                "UPDATE profiles SET ig_user_id = ?, is_private = ?, not_found = ?,"
                " updated_at = ? WHERE id = ?",
                rows,
            )

    def _insert_stories(
        self, sql: _Sql, matched: Sequence[ItemOutcome], retention_hours: int
    ) -> None:
        record_sightings(sql.conn, sightings_from_outcomes(matched))
        found = [o for o in matched if o.status == COMPLETED and o.has_story]
        if not found:
            return
        keep = retention_hours * 3600.0
        # A re-run of a done batch reuses its items: refresh that item's detection in place.
        sql.executemany(
            "INSERT INTO story_results (id, profile_id, batch_id, batch_profile_id, detected_at,"
            " expires_at, story_count, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (batch_profile_id) DO UPDATE SET detected_at = excluded.detected_at,"
            " expires_at = excluded.expires_at, story_count = excluded.story_count,"
            " updated_at = excluded.updated_at",
            [
                (
                    new_id(),
                    o.item.profile_id,
                    o.item.batch_id,
                    o.item.id,
                    detected,
                    sql.time(o.processed_at + keep),
                    max(1, o.story_count),
                    detected,
                    detected,
                )
                for o in found
                for detected in (sql.time(o.processed_at),)
            ],
        )

    def _count(self, conn: Connection, matched: Sequence[ItemOutcome]) -> dict[str, BatchProgress]:
        deltas: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for o in matched:
            delta = deltas[o.item.batch_id]
            delta[0] += 1
            if o.status == COMPLETED and o.has_story:
                delta[1] += 1
            if o.status == FAILED:
                delta[2] += 1
        progress: dict[str, BatchProgress] = {}
        for batch_id, (done, stories, failed) in deltas.items():
            row = conn.execute(
                update(BATCHES)
                .where(BATCHES.c.id == batch_id)
                .values(
                    completed_profiles=BATCHES.c.completed_profiles + done,
                    successful_checks=BATCHES.c.successful_checks + stories,
                    failed_checks=BATCHES.c.failed_checks + failed,
                )
                .returning(
                    BATCHES.c.completed_profiles,
                    BATCHES.c.total_profiles,
                    BATCHES.c.successful_checks,
                    BATCHES.c.failed_checks,
                )
            ).one_or_none()
            if row is not None:
                progress[batch_id] = BatchProgress(row[0], row[1], row[2], row[3], row[0] - done)
                if stories and row[2] - stories < STORY_PREVIEW_LIMIT:
                    self._extend_preview(conn, batch_id, matched)
        return progress

    def _extend_preview(
        self, conn: Connection, batch_id: str, matched: Sequence[ItemOutcome]
    ) -> None:
        """Add this request's story usernames to the batch's stored preview (capped)."""
        current = conn.scalar(select(BATCHES.c.story_preview).where(BATCHES.c.id == batch_id))
        try:
            names = json.loads(current) if current else []
        except ValueError:
            names = []
        for o in matched:
            if len(names) >= STORY_PREVIEW_LIMIT:
                break
            if o.item.batch_id == batch_id and o.status == COMPLETED and o.has_story:
                if o.item.username not in names:
                    names.append(o.item.username)
        conn.execute(
            update(BATCHES).where(BATCHES.c.id == batch_id).values(story_preview=json.dumps(names))
        )

    def _record_logs(
        self,
        sql: _Sql,
        matched: Sequence[ItemOutcome],
        progress: dict[str, BatchProgress],
        live_proxies: set[str],
    ) -> None:
        rows: list[tuple[Any, ...]] = []
        for o in matched:
            proxy_id = o.proxy_id if o.proxy_id in live_proxies else None
            at = sql.time(o.processed_at)
            item = o.item
            if o.status == COMPLETED and o.has_story:
                newest = to_datetime(o.newest_taken_at)
                when = f", newest {newest:%H:%M:%S}Z" if newest else ""
                message = f"Story found: @{item.username} ({o.story_count} item(s){when})"
                rows.append(
                    (
                        new_id(),
                        item.batch_id,
                        at,
                        "STORY_FOUND",
                        message[:500],
                        item.profile_id,
                        proxy_id,
                    )
                )
            elif o.status == FAILED:
                if o.not_found:
                    message = f"@{item.username}: not found on Instagram"
                else:
                    message = f"@{item.username} failed after {item.attempts} attempt(s): {o.error}"
                rows.append(
                    (
                        new_id(),
                        item.batch_id,
                        at,
                        "CHECK_FAILED",
                        message[:500],
                        item.profile_id,
                        proxy_id,
                    )
                )
        last = max(o.processed_at for o in matched)
        for batch_id, p in progress.items():
            before = p.completed_before
            if p.total > 0 and p.completed * 10 // p.total > before * 10 // p.total:
                percent = p.completed * 100 // p.total
                message = (
                    f"Progress {percent}%: {p.completed}/{p.total} checked, "
                    f"{p.with_story} with a story, {p.failed} failed"
                )
                rows.append((new_id(), batch_id, sql.time(last), "PROGRESS", message, None, None))
        if rows:
            sql.executemany(
                'INSERT INTO batch_logs (id, batch_id, "timestamp", event_type, message,'
                " profile_id, proxy_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # ------------------------------------------------------------------ background writes

    def persist(self, job: PersistJob, *, now: float) -> PersistReport:
        """Write usage reservations, pair counters and health, error logs and batch logs."""
        report = PersistReport()
        if not (job.usage or job.pairs or job.events or job.logs or job.session_status):
            return report
        now_dt = to_datetime(now)
        with self.db.write() as session:
            conn = session.connection()
            proxy_ids = (
                {k[0] for k in job.usage}
                | {p.proxy_id for p in job.pairs}
                | {e.proxy_id for e in job.events}
                | {log.proxy_id for log in job.logs if log.proxy_id}
            )
            live = set()
            if proxy_ids:
                live = set(conn.scalars(select(PROXIES.c.id).where(PROXIES.c.id.in_(proxy_ids))))
            self._persist_usage(conn, job.usage, live)
            self._persist_pairs(conn, job.pairs, live, now_dt, report)
            if job.session_status:
                for session_id, (status, cookie) in job.session_status.items():
                    conn.execute(
                        update(SESSIONS)
                        .where(
                            SESSIONS.c.id == session_id,
                            SESSIONS.c.status == "active",
                            SESSIONS.c.session_encrypted == cookie,
                        )
                        .values(status=status, updated_at=now_dt)
                    )
            self._persist_events(conn, job.events, live)
            self._insert_logs(conn, job.logs, live)
        return report

    def _persist_usage(
        self, conn: Connection, usage: dict[tuple[str, str, int], int], live: set[str]
    ) -> None:
        rows = [
            {"proxy_id": pid, "kind": kind, "minute": minute, "requests": delta}
            for (pid, kind, minute), delta in usage.items()
            if pid in live and delta > 0
        ]
        if not rows:
            return
        statement = self._insert(USAGE)
        statement = statement.on_conflict_do_update(
            index_elements=[USAGE.c.proxy_id, USAGE.c.kind, USAGE.c.minute],
            set_={"requests": USAGE.c.requests + statement.excluded.requests},
        )
        conn.execute(statement, rows)

    def _persist_pairs(
        self,
        conn: Connection,
        pairs: Sequence[PairWrite],
        live: set[str],
        now_dt: datetime | None,
        report: PersistReport,
    ) -> None:
        rows = [p for p in pairs if p.proxy_id in live]
        if not rows:
            return
        conn.execute(
            update(PROXIES)
            .where(PROXIES.c.id == bindparam("b_id"))
            .values(
                total_requests=PROXIES.c.total_requests + bindparam("b_requests"),
                failed_requests=PROXIES.c.failed_requests + bindparam("b_failures"),
                requests_this_hour=bindparam("b_hour"),
                avg_response_time=bindparam("b_avg"),
                error_count=bindparam("b_errors"),
                error_score=bindparam("b_score"),
                consecutive_failures=bindparam("b_consecutive"),
                backoff_level=bindparam("b_backoff"),
                last_used=func.coalesce(
                    bindparam("b_used", type_=PROXIES.c.last_used.type), PROXIES.c.last_used
                ),
                last_success=func.coalesce(
                    bindparam("b_success", type_=PROXIES.c.last_success.type),
                    PROXIES.c.last_success,
                ),
                last_error=func.coalesce(
                    bindparam("b_error", type_=PROXIES.c.last_error.type), PROXIES.c.last_error
                ),
                updated_at=now_dt,
            ),
            [
                {
                    "b_id": p.proxy_id,
                    "b_requests": p.requests,
                    "b_failures": p.failures,
                    "b_hour": p.requests_this_hour,
                    "b_avg": p.avg_response_ms,
                    "b_errors": p.errors_since_success,
                    "b_score": p.error_score,
                    "b_consecutive": p.consecutive_failures,
                    "b_backoff": p.backoff_level,
                    "b_used": to_datetime(p.last_used),
                    "b_success": to_datetime(p.last_success),
                    "b_error": p.last_error[:500] if p.last_error else None,
                }
                for p in rows
            ],
        )
        for p in rows:
            if p.health is None or p.expected_health is None:
                continue
            result = conn.execute(
                update(PROXIES)
                .where(PROXIES.c.id == p.proxy_id, PROXIES.c.health == p.expected_health)
                .values(
                    health=p.health,
                    cooldown_until=to_datetime(p.cooldown_until),
                    rate_limited=p.health == "cooling",
                )
            )
            if result.rowcount == 1:
                report.health_written[p.proxy_id] = p.health
            else:
                report.health_conflicts.add(p.proxy_id)

    def _persist_events(
        self, conn: Connection, events: Sequence[PairEvent], live: set[str]
    ) -> None:
        rows = [
            {
                "id": new_id(),
                "proxy_id": e.proxy_id,
                "session_id": e.session_id,
                "timestamp": to_datetime(e.at),
                "error_message": e.message,
                "state_change": e.state_change,
                "transition_reason": e.transition_reason,
                "recovery_time": to_datetime(e.recovery_at),
                "created_at": to_datetime(e.at),
            }
            for e in events
            if e.proxy_id in live
        ]
        if not rows:
            return
        session_ids = {r["session_id"] for r in rows if r["session_id"]}
        known = set()
        if session_ids:
            known = set(conn.scalars(select(SESSIONS.c.id).where(SESSIONS.c.id.in_(session_ids))))
        for row in rows:
            if row["session_id"] not in known:
                row["session_id"] = None
        conn.execute(ERRORS.insert(), rows)

    def _insert_logs(
        self, conn: Connection, logs: Sequence[LogRow], live_proxies: set[str]
    ) -> None:
        """Insert log rows of batches that still exist (a deleted batch gets nothing)."""
        if not logs:
            return
        batch_ids = {log.batch_id for log in logs}
        query = select(BATCHES.c.id).where(BATCHES.c.id.in_(batch_ids))
        if self.is_postgres:
            query = query.with_for_update(read=True)
        existing = set(conn.scalars(query))
        rows = [
            _log_row(
                log.batch_id,
                log.event_type,
                log.message,
                to_datetime(log.at),
                log.profile_id,
                log.proxy_id if log.proxy_id in live_proxies else None,
            )
            for log in logs
            if log.batch_id in existing
        ]
        if rows:
            conn.execute(LOGS.insert(), rows)

    # ------------------------------------------------------------------ reads

    def load_pairs(self) -> list[PairRow]:
        """Every proxy with its session (if any)."""
        query = select(
            PROXIES.c.id,
            PROXIES.c.scheme,
            PROXIES.c.ip,
            PROXIES.c.port,
            PROXIES.c.username,
            PROXIES.c.password_encrypted,
            PROXIES.c.is_active,
            PROXIES.c.status,
            PROXIES.c.health,
            PROXIES.c.cooldown_until,
            PROXIES.c.error_score,
            PROXIES.c.consecutive_failures,
            PROXIES.c.backoff_level,
            PROXIES.c.avg_response_time,
            SESSIONS.c.id.label("session_id"),
            SESSIONS.c.session_encrypted,
            SESSIONS.c.csrftoken_encrypted,
            SESSIONS.c.ds_user_id,
            SESSIONS.c.status.label("session_status"),
            SESSIONS.c.cookies_encrypted,
            SESSIONS.c.www_claim_encrypted,
            PROXIES.c.user_agent,
        ).select_from(PROXIES.outerjoin(SESSIONS, SESSIONS.c.proxy_id == PROXIES.c.id))
        with self.db.read() as session:
            rows = session.connection().execute(query).all()
        return [
            PairRow(
                proxy_id=r.id,
                scheme=r.scheme or "http",
                ip=r.ip,
                port=r.port,
                username=r.username,
                password_encrypted=r.password_encrypted,
                is_active=bool(r.is_active),
                status=r.status,
                health=r.health,
                cooldown_until=r.cooldown_until,
                error_score=float(r.error_score or 0),
                consecutive_failures=int(r.consecutive_failures or 0),
                backoff_level=int(r.backoff_level or 0),
                avg_response_time=int(r.avg_response_time or 0),
                session_id=r.session_id,
                session_encrypted=r.session_encrypted,
                csrftoken_encrypted=r.csrftoken_encrypted,
                ds_user_id=r.ds_user_id,
                session_status=r.session_status,
                cookies_encrypted=r.cookies_encrypted,
                www_claim_encrypted=r.www_claim_encrypted,
                user_agent=r.user_agent,
            )
            for r in rows
        ]

    def load_settings(self) -> EngineSettings:
        """The settings row (defaults when it does not exist yet)."""
        with self.db.read() as session:
            row = session.get(SystemSettings, 1)
            if row is None:
                return EngineSettings()
            defaults = EngineSettings()
            return EngineSettings(
                profiles_per_minute=_int_or(row.profiles_per_minute, defaults.profiles_per_minute),
                max_threads=_int_or(row.max_threads, defaults.max_threads),
                max_concurrent_batches=_int_or(row.max_concurrent_batches, 1),
                story_retention_hours=_int_or(row.story_retention_hours, 24),
                proxy_test_timeout=_int_or(row.proxy_test_timeout, 10),
                proxy_max_failures=_int_or(row.proxy_max_failures, 3),
                proxy_hourly_limit=_int_or(row.proxy_hourly_limit, 150),
                lookup_hourly_limit=_int_or(row.lookup_hourly_limit, 60),
                min_request_interval=float(
                    row.min_request_interval
                    if row.min_request_interval is not None
                    else defaults.min_request_interval
                ),
                reel_ids_per_request=_int_or(row.reel_ids_per_request, 20),
                max_attempts=_int_or(row.max_attempts, 3),
            )

    def load_usage(self, *, since_minute: int) -> list[tuple[str, str, int, int]]:
        """Persisted usage buckets from `since_minute` on: (proxy, kind, minute, requests)."""
        with self.db.read() as session:
            rows = session.connection().execute(
                select(USAGE.c.proxy_id, USAGE.c.kind, USAGE.c.minute, USAGE.c.requests).where(
                    USAGE.c.minute >= since_minute
                )
            )
            return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    def prune_usage(self, *, before_minute: int) -> None:
        """Delete usage buckets no window can reach any more."""
        with self.db.write() as session:
            session.connection().execute(delete(USAGE).where(USAGE.c.minute < before_minute))

    def batch_end_log(self, batch_id: str, *, now: float) -> None:
        """Write the BATCH_END row of a batch that just became done (if it still exists)."""
        with self.db.write() as session:
            conn = session.connection()
            row = conn.execute(
                select(
                    BATCHES.c.total_profiles,
                    BATCHES.c.successful_checks,
                    BATCHES.c.failed_checks,
                    BATCHES.c.started_at,
                ).where(BATCHES.c.id == batch_id)
            ).one_or_none()
            if row is None:
                return
            total, stories, failed, started = row
            took = f" in {_duration(now - started.timestamp())}" if started else ""
            message = (
                f"Batch completed{took}: {total} profiles, {stories} with a story, "
                f"{total - stories - failed} without, {failed} failed"
            )
            conn.execute(
                LOGS.insert(),
                [_log_row(batch_id, "BATCH_END", message, to_datetime(now), None, None)],
            )


class _Sql:
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


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _log_row(
    batch_id: str,
    event_type: str,
    message: str,
    at: datetime | None,
    profile_id: str | None,
    proxy_id: str | None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "batch_id": batch_id,
        "timestamp": at,
        "event_type": event_type,
        "message": message[:500],
        "profile_id": profile_id,
        "proxy_id": proxy_id,
    }


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
