"""Pair state and pacing: background writes (counters, health, usage, logs) and reads.

`persist` writes what the scheduler collected since its last flush in one transaction:
usage reservations (`proxy_usage`), pair counters and health (conditional on the health we
last saw, so a change made through the API wins), the learned hourly limit, session status,
`proxy_error_logs` rows and batch log rows. The reads load pairs, settings and usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, select, update

from storycheck.alerts.sources import pair_needs_attention
from storycheck.db import new_id
from storycheck.engine.health import PairEvent
from storycheck.engine.sql import (
    BATCHES,
    ERRORS,
    LOGS,
    PROXIES,
    SESSIONS,
    USAGE,
    Store,
    float_or,
    int_or,
    log_row,
)
from storycheck.engine.types import (
    EngineSettings,
    LogRow,
    PairRow,
    PairWrite,
    PersistJob,
    PersistReport,
    to_datetime,
)
from storycheck.settings.models import SystemSettings

NEEDS_A_HUMAN = ("invalid", "challenge")


class PairStore(Store):
    """Pair counters, health, usage reservations and logs; pairs, settings and usage reads."""

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
            if p.learned_limit is not None:
                conn.execute(
                    update(PROXIES)
                    .where(PROXIES.c.id == p.proxy_id)
                    .values(learned_hourly_limit=p.learned_limit[0])
                )
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
                if p.health in NEEDS_A_HUMAN and p.expected_health != p.health:
                    pair_needs_attention(conn, p.proxy_id, p.health, reason=p.last_error)
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
            log_row(
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
            PROXIES.c.learned_hourly_limit,
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
                learned_hourly_limit=r.learned_hourly_limit,
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
            d = EngineSettings()
            if row is None:
                return d
            return EngineSettings(
                profiles_per_minute=int_or(row.profiles_per_minute, d.profiles_per_minute),
                max_threads=int_or(row.max_threads, d.max_threads),
                max_concurrent_batches=int_or(row.max_concurrent_batches, 1),
                story_retention_hours=int_or(row.story_retention_hours, d.story_retention_hours),
                proxy_test_timeout=int_or(row.proxy_test_timeout, d.proxy_test_timeout),
                proxy_max_failures=int_or(row.proxy_max_failures, d.proxy_max_failures),
                proxy_hourly_limit=int_or(row.proxy_hourly_limit, d.proxy_hourly_limit),
                lookup_hourly_limit=int_or(row.lookup_hourly_limit, d.lookup_hourly_limit),
                min_request_interval=float_or(row.min_request_interval, d.min_request_interval),
                reel_ids_per_request=int_or(row.reel_ids_per_request, d.reel_ids_per_request),
                max_attempts=int_or(row.max_attempts, d.max_attempts),
                request_jitter=float_or(row.request_jitter, d.request_jitter),
                action_block_cooldown_hours=float_or(
                    row.action_block_cooldown_hours, d.action_block_cooldown_hours
                ),
                not_found_recheck_days=int_or(row.not_found_recheck_days, d.not_found_recheck_days),
                dense_doc_id=(row.dense_doc_id or "").strip(),
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
