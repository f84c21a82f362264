"""Results, exactly once (DESIGN.md §4.5): one transaction per group of request outcomes.

An item moves to `completed`/`failed` only `WHERE status = 'in_flight' AND lease_token =
:token`; its outcome (`story` / `no_story` / `private`) or failure kind, profile statistics,
story detections, batch counters and log rows are written *only for the items that moved*.
A late or duplicated answer, or an answer for a deleted batch, matches nothing and writes
nothing. Story detections are written in one place, `write_detections`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from storycheck.alerts.sources import on_new_story_windows
from storycheck.batches.models import STORY_PREVIEW_LIMIT, BatchStatus
from storycheck.db import new_id
from storycheck.engine.sql import (
    BATCHES,
    BP,
    LOGS,
    PROXIES,
    SESSIONS,
    FastSql,
    Store,
    duration,
    log_row,
)
from storycheck.engine.types import (
    COMPLETED,
    FAILED,
    IN_FLIGHT,
    NO_STORY,
    NOT_FOUND,
    PRIVATE,
    STORY,
    TRANSIENT,
    BatchProgress,
    ItemOutcome,
    RecordReport,
    to_datetime,
)
from storycheck.stories.windows import record_sightings, sightings_from_outcomes

DONE = BatchStatus.DONE.value


class ResultStore(Store):
    """Record final item outcomes exactly once."""

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
            sql = FastSql(conn)
            self._update_items(sql, matched, live_proxies, live_sessions, now)
            self._update_profiles(sql, matched, now)
            self.write_detections(conn, sql, matched, retention_hours)
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
        sql: FastSql,
        matched: Sequence[ItemOutcome],
        live_proxies: set[str],
        live_sessions: set[str],
        now: float,
    ) -> None:
        sql.executemany(
            "UPDATE batch_profiles SET status = ?, has_story = ?, story_count = ?,"
            " latest_story_at = ?, story_expires_at = ?, outcome = ?, failure_kind = ?,"
            " error = ?, attempts = ?, processed_at = ?, proxy_id = ?, session_id = ?,"
            " lease_token = NULL, lease_expires_at = NULL, lease_owner = NULL, updated_at = ?"
            " WHERE id = ? AND status = ? AND lease_token = ?",
            [
                (
                    o.status,
                    o.has_story,
                    o.item_count,
                    sql.time(o.newest_taken_at),
                    sql.time(o.expiring_at),
                    o.result,
                    o.kind_of_failure,
                    o.error[:255] if o.error else None,
                    o.attempts_used,
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

    def _update_profiles(self, sql: FastSql, matched: Sequence[ItemOutcome], now: float) -> None:
        stamp = sql.time(now)
        by_result: dict[str | None, list[ItemOutcome]] = defaultdict(list)
        for o in matched:
            by_result[o.result].append(o)
        sql.executemany(
            "UPDATE profiles SET total_checks = total_checks + 1,"
            " total_detections = total_detections + 1, active_story = ?, last_checked = ?,"
            " story_seen_at = ?, last_detected = ?, last_story_detected = ?, not_found = ?,"
            " not_found_at = NULL, updated_at = ? WHERE id = ?",
            [
                (True, at, at, at, at, False, stamp, o.item.profile_id)
                for o in by_result[STORY]
                for at in (sql.time(o.processed_at),)
            ],
        )
        sql.executemany(
            "UPDATE profiles SET total_checks = total_checks + 1, active_story = ?,"
            " last_checked = ?, story_seen_at = ?, not_found = ?, not_found_at = NULL,"
            " updated_at = ? WHERE id = ?",
            [
                (False, at, at, False, stamp, o.item.profile_id)
                for o in by_result[NO_STORY]
                for at in (sql.time(o.processed_at),)
            ],
        )
        # Private and not followed: checked, but whether a story is up is unknown (no
        # `story_seen_at`: the latest check could not see, profiles.answers).
        sql.executemany(
            "UPDATE profiles SET total_checks = total_checks + 1, last_checked = ?,"
            " not_found = ?, not_found_at = NULL, updated_at = ? WHERE id = ?",
            [
                (sql.time(o.processed_at), False, stamp, o.item.profile_id)
                for o in by_result[PRIVATE]
            ],
        )
        # Ids looked up for these items are saved on their own thread as soon as they are
        # known; a crash may order that save after this commit, so write the id here too
        # (only where none is stored: never undo a newer one).
        sql.executemany(
            "UPDATE profiles SET ig_user_id = ?, is_private = COALESCE(is_private, ?)"
            " WHERE id = ? AND ig_user_id IS NULL",
            [
                (o.item.ig_user_id, o.item.is_private, o.item.profile_id)
                for o in matched
                if o.item.ig_user_id
            ],
        )
        sql.executemany(
            "UPDATE profiles SET not_found = ?, not_found_at = ?, active_story = ?,"
            " last_checked = ?, updated_at = ? WHERE id = ?",
            [
                (True, at, False, at, stamp, o.item.profile_id)
                for o in matched
                if o.not_found
                for at in (sql.time(o.processed_at),)
            ],
        )

    def write_detections(
        self,
        conn: Connection,
        sql: FastSql,
        matched: Sequence[ItemOutcome],
        retention_hours: int,
    ) -> None:
        """Write the story detections of the recorded items (the one place that does).

        Each detection is a `story_results` row, and every definite answer (a story, or a
        definite "no story" — never `private`) extends or closes the profile's story window
        (`stories.windows.record_sightings`), in this same transaction; a new window is an
        alert event (`alerts.sources.on_new_story_windows`).
        """
        opened = record_sightings(conn, sightings_from_outcomes(matched))
        if opened:
            on_new_story_windows(conn, opened)  # alerts: `story.detected`, same transaction
        found = [o for o in matched if o.result == STORY]
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
                    max(1, o.item_count),
                    detected,
                    detected,
                )
                for o in found
                for detected in (sql.time(o.processed_at),)
            ],
        )

    def _count(self, conn: Connection, matched: Sequence[ItemOutcome]) -> dict[str, BatchProgress]:
        # batch id → [final, with a story, failed, private, confirmed missing]
        deltas: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        for o in matched:
            delta = deltas[o.item.batch_id]
            delta[0] += 1
            delta[1] += o.result == STORY
            delta[2] += o.status == FAILED
            delta[3] += o.result == PRIVATE
            delta[4] += o.kind_of_failure == NOT_FOUND
        progress: dict[str, BatchProgress] = {}
        for batch_id, (done, stories, failed, private, missing) in deltas.items():
            row = conn.execute(
                update(BATCHES)
                .where(BATCHES.c.id == batch_id)
                .values(
                    completed_profiles=BATCHES.c.completed_profiles + done,
                    successful_checks=BATCHES.c.successful_checks + stories,
                    failed_checks=BATCHES.c.failed_checks + failed,
                    private_profiles=BATCHES.c.private_profiles + private,
                    not_found_profiles=BATCHES.c.not_found_profiles + missing,
                )
                .returning(
                    BATCHES.c.completed_profiles,
                    BATCHES.c.total_profiles,
                    BATCHES.c.successful_checks,
                    BATCHES.c.failed_checks,
                    BATCHES.c.private_profiles,
                )
            ).one_or_none()
            if row is not None:
                progress[batch_id] = BatchProgress(
                    row[0], row[1], row[2], row[3], row[0] - done, private=row[4]
                )
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
            if o.item.batch_id == batch_id and o.result == STORY:
                if o.item.username not in names:
                    names.append(o.item.username)
        conn.execute(
            update(BATCHES).where(BATCHES.c.id == batch_id).values(story_preview=json.dumps(names))
        )

    def _record_logs(
        self,
        sql: FastSql,
        matched: Sequence[ItemOutcome],
        progress: dict[str, BatchProgress],
        live_proxies: set[str],
    ) -> None:
        rows: list[tuple[Any, ...]] = []
        for o in matched:
            message = _item_message(o)
            if message is None:
                continue
            event = "STORY_FOUND" if o.status == COMPLETED else "CHECK_FAILED"
            proxy_id = o.proxy_id if o.proxy_id in live_proxies else None
            rows.append(
                (
                    new_id(),
                    o.item.batch_id,
                    sql.time(o.processed_at),
                    event,
                    message[:500],
                    o.item.profile_id,
                    proxy_id,
                )
            )
        last = max(o.processed_at for o in matched)
        for batch_id, p in progress.items():
            before = p.completed_before
            if p.total > 0 and p.completed * 10 // p.total > before * 10 // p.total:
                percent = p.completed * 100 // p.total
                private = f", {p.private} private" if p.private else ""
                message = (
                    f"Progress {percent}%: {p.completed}/{p.total} checked, "
                    f"{p.with_story} with a story{private}, {p.failed} failed"
                )
                rows.append((new_id(), batch_id, sql.time(last), "PROGRESS", message, None, None))
        sql.executemany(
            'INSERT INTO batch_logs (id, batch_id, "timestamp", event_type, message,'
            " profile_id, proxy_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def batch_end_log(self, batch_id: str, *, now: float) -> bool:
        """Write the BATCH_END row of a done batch, once per run; True if it wrote it.

        The engine and the reconciler can both complete a batch, so this is safe to call
        from either path (and again): a batch that is not done, or already has its row for
        this run, gets nothing.
        """
        with self.db.write() as session:
            conn = session.connection()
            row = conn.execute(
                select(
                    BATCHES.c.status,
                    BATCHES.c.total_profiles,
                    BATCHES.c.successful_checks,
                    BATCHES.c.failed_checks,
                    BATCHES.c.private_profiles,
                    BATCHES.c.not_found_profiles,
                    BATCHES.c.started_at,
                ).where(BATCHES.c.id == batch_id)
            ).one_or_none()
            if row is None or row.status != DONE:
                return False
            written = select(LOGS.c.id).where(
                LOGS.c.batch_id == batch_id, LOGS.c.event_type == "BATCH_END"
            )
            if row.started_at is not None:
                written = written.where(LOGS.c.timestamp >= row.started_at)
            if conn.execute(written.limit(1)).first() is not None:
                return False
            total, stories, failed, private, missing = (
                row.total_profiles,
                row.successful_checks,
                row.failed_checks,
                row.private_profiles,
                row.not_found_profiles,
            )
            took = f" in {duration(now - row.started_at.timestamp())}" if row.started_at else ""
            unknown = f", {private} private (unknown)" if private else ""
            not_found = f", {missing} not found (no such account)" if missing else ""
            message = (
                f"Batch completed{took}: {total} profiles, {stories} with a story, "
                f"{total - stories - failed - private} without{unknown}{not_found}, "
                f"{failed - missing} failed"
            )
            conn.execute(
                LOGS.insert(),
                [log_row(batch_id, "BATCH_END", message, to_datetime(now), None, None)],
            )
            return True


def _item_message(o: ItemOutcome) -> str | None:
    """The STORY_FOUND / CHECK_FAILED line of one outcome (None: nothing to log)."""
    item = o.item
    if o.result == STORY:
        newest = to_datetime(o.newest_taken_at)
        when = f", newest {newest:%H:%M:%S}Z" if newest else ""
        return f"Story found: @{item.username} ({o.item_count} item(s){when})"
    if o.status != FAILED:
        return None
    kind = o.kind_of_failure
    if kind == NOT_FOUND:
        return f"@{item.username}: not found on Instagram"
    if kind == TRANSIENT:
        return f"@{item.username} failed after {o.attempts_used} attempt(s): {o.error}"
    return f"@{item.username}: {o.error}"
