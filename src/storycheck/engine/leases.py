"""Leases: claim items of running batches, return them, renew them; save looked-up ids.

* **claim** leases items: `pending → in_flight` with a fresh `lease_token`,
  `lease_expires_at` and `lease_owner` (the worker id, in distributed mode), only while the
  batch is `in_progress` (checked in the same statement's transaction);
* **release** returns leased items to `pending` under the same lease condition;
* **save_identities** stores a looked-up username → id (with `is_private` and who follows it)
  in its own short transaction the moment it is known: a crash never repeats a lookup, the
  scarcest budget (issue 9 item 6). A first "not found" opinion is saved on its item the
  same way, so a crash does not repeat the lookup that gave it (issue 16).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, exists, or_, select, update

from storycheck.db import new_id
from storycheck.engine.sql import BATCHES, BP, PROFILES, FastSql, Store
from storycheck.engine.types import (
    IN_FLIGHT,
    IN_PROGRESS,
    PENDING,
    Identity,
    LeasedItem,
    NotFoundOpinion,
    WorkItem,
    to_datetime,
)
from storycheck.settings.schemas import DEFAULT_SETTINGS

DAY = 86400.0


class LeaseStore(Store):
    """Claim, release and renew item leases; cache looked-up identities."""

    def claim(
        self,
        batch_id: str,
        *,
        resolved: bool,
        limit: int,
        lease_seconds: float,
        now: float,
        recheck_days: float = DEFAULT_SETTINGS.not_found_recheck_days,
    ) -> list[LeasedItem]:
        """Lease up to `limit` pending items of a running batch.

        `resolved` picks items that need no lookup: a cached user id, or a profile confirmed
        "not found" less than `recheck_days` ago (it fails at once). Otherwise items that need
        a username lookup first, including "not found" profiles due for a re-check.
        """
        if limit <= 0:
            return []
        token = new_id()
        now_dt = to_datetime(now)
        expires = to_datetime(now + lease_seconds)
        cutoff = to_datetime(now - recheck_days * DAY)
        running = exists().where(BATCHES.c.id == batch_id, BATCHES.c.status == IN_PROGRESS)
        missing = PROFILES.c.not_found.is_(True)
        recent = and_(missing, PROFILES.c.not_found_at >= cutoff)
        if resolved:
            identity = or_(and_(~missing, PROFILES.c.ig_user_id.is_not(None)), recent)
        else:
            due = or_(PROFILES.c.not_found_at.is_(None), PROFILES.c.not_found_at < cutoff)
            identity = or_(and_(~missing, PROFILES.c.ig_user_id.is_(None)), and_(missing, due))
        query = (
            select(
                BP.c.id,
                BP.c.profile_id,
                BP.c.attempts,
                PROFILES.c.username,
                PROFILES.c.ig_user_id,
                PROFILES.c.is_private,
                PROFILES.c.identity_checked_at,
                PROFILES.c.not_found,
                PROFILES.c.followed_by_session_id,
                PROFILES.c.followed_checked_at,
                BP.c.not_found_by,
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
                    lease_owner=self.lease_owner,
                    updated_at=now_dt,
                )
            )
        return [
            LeasedItem(
                id=row.id,
                batch_id=batch_id,
                profile_id=row.profile_id,
                username=row.username,
                lease_token=token,
                # A "not found" profile due for a re-check is looked up again.
                ig_user_id=None if row.not_found else row.ig_user_id,
                is_private=row.is_private,
                identity_checked_at=(
                    row.identity_checked_at.timestamp() if row.identity_checked_at else None
                ),
                attempts=row.attempts or 0,
                known_missing=bool(row.not_found) and resolved,
                followed_by_session_id=row.followed_by_session_id,
                followed_checked_at=(
                    row.followed_checked_at.timestamp() if row.followed_checked_at else None
                ),
                # A first "not found" from before a restart: another pair confirms it.
                not_found_by=row.not_found_by,
                avoid_pair=row.not_found_by,
            )
            for row in rows
        ]

    def release(self, items: Sequence[WorkItem], *, now: float) -> int:
        """Return leased items to `pending`, keeping their attempts.

        Only items still leased to us change (a deleted batch's items are gone: nothing is
        written for them).
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
            sql = FastSql(conn)
            sql.executemany(
                "UPDATE batch_profiles SET status = ?, lease_token = NULL,"
                " lease_expires_at = NULL, lease_owner = NULL, attempts = ?, updated_at = ?"
                " WHERE id = ? AND status = ? AND lease_token = ?",
                [
                    (PENDING, i.attempts, sql.time(now), i.id, IN_FLIGHT, i.lease_token)
                    for i in matched
                ],
            )
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

    def save_identities(
        self,
        identities: Sequence[Identity],
        opinions: Sequence[NotFoundOpinion] = (),
        *,
        now: float,
    ) -> None:
        """Cache looked-up ids on their profiles, in one short transaction of their own.

        A lookup that says the asking session follows the account records that session in
        `followed_by_session_id` and the time in `followed_checked_at`; one that says it does
        not clears both if it was that session. A lookup through any other session refreshes
        `identity_checked_at` but leaves the follow and its time alone: it says nothing about
        whether the follower still follows.
        An id looked up for a batch item that no longer exists (its batch was deleted) is not
        written: a deleted batch's late answers change nothing. A paused batch's are kept.
        `opinions` (first "not found" answers, or their withdrawal) go on their leased items.
        """
        if not identities and not opinions:
            return
        with self.db.write() as session:
            sql = FastSql(session.connection())
            if opinions:
                sql.executemany(
                    "UPDATE batch_profiles SET not_found_by = ? WHERE id = ? AND status = ?",
                    [(o.pair_id, o.item_id, IN_FLIGHT) for o in opinions],
                )
            if not identities:
                return
            rows = [
                (
                    i.ig_user_id,
                    i.is_private,
                    False,
                    follows,
                    i.session_id,
                    unfollows,
                    i.session_id,
                    follows,
                    stamp,
                    unfollows,
                    i.session_id,
                    stamp,
                    stamp,
                    i.profile_id,
                    i.item_id,
                    i.item_id,
                )
                for i in identities
                for follows, unfollows, stamp in (
                    (bool(i.followed and i.session_id), i.followed is False, sql.time(now)),
                )
            ]
            # Both CASEs read the row's old `followed_by_session_id` (SQL evaluates every SET
            # expression against the row as it was), so the follow and its time stay paired.
            sql.executemany(
                "UPDATE profiles SET ig_user_id = ?, is_private = ?, not_found = ?,"
                " not_found_at = NULL, followed_by_session_id = CASE"
                " WHEN ? THEN ? WHEN ? AND followed_by_session_id = ? THEN NULL"
                " ELSE followed_by_session_id END, followed_checked_at = CASE"
                " WHEN ? THEN ? WHEN ? AND followed_by_session_id = ? THEN NULL"
                " ELSE followed_checked_at END, identity_checked_at = ?, updated_at = ?"
                " WHERE id = ?"
                " AND (CAST(? AS VARCHAR(36)) IS NULL"
                " OR EXISTS (SELECT 1 FROM batch_profiles WHERE batch_profiles.id = ?))",
                rows,
            )
