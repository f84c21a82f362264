"""Where events come from: one function per fact, each called inside the fact's transaction.

* `batch_completed` — `BatchStateManager`'s complete transition (batches/state.py).
* `on_new_story_windows` — the recorder, with the profile ids `record_sightings` returned as
  new; it also records `niche.target_reached` once per niche and day.
* `pair_needs_attention` — where a pair's health is persisted as invalid / challenge.
* `check_stalled_batches` — the server's maintenance loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, distinct, func, select
from sqlalchemy.orm import Session

from storycheck.alerts.events import event_exists, record_event
from storycheck.alerts.models import AlertEvent, EventType
from storycheck.batches.answers import batch_answers
from storycheck.batches.models import Batch, BatchProfile, BatchStatus, ItemStatus
from storycheck.batches.progress import ProgressOptions, last_activity, read_picture
from storycheck.db import utcnow
from storycheck.engine.pool_model import pool_picture
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile
from storycheck.proxies.models import Proxy
from storycheck.stories.models import StoryResult, StoryWindow

Conn = Connection | Session


def _start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def _niche_names(conn: Conn, niche_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    ids = sorted(set(niche_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(Niche.id, Niche.name, Niche.daily_story_target).where(Niche.id.in_(ids))
    ).all()
    return {row[0]: (row[1], row[2]) for row in rows}


def on_new_story_windows(
    conn: Conn,
    profile_ids: Iterable[str],
    now: datetime | None = None,
    *,
    window_keys: Mapping[str, str] | None = None,
    details: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Record `story.detected` for each profile whose story window is new, then
    `niche.target_reached` for each of their niches that reached its daily target today.

    Call it in the transaction that opened the windows, with the ids `record_sightings`
    returned. Each event names the profile's latest story window (its id is the dedupe key;
    posted_at, first_posted_at, expires_at, item_count and batch_id go into the payload).
    `window_keys` and `details` (profile id → …) override both. Returns the recorded event ids.
    """
    now = now or utcnow()
    ids = sorted(set(profile_ids))
    if not ids:
        return []
    profiles = conn.execute(
        select(Profile.id, Profile.username, Profile.niche_id).where(Profile.id.in_(ids))
    ).all()
    niches = _niche_names(conn, (p[2] for p in profiles if p[2] is not None))
    windows = _latest_windows(conn, ids)
    recorded: list[str] = []
    by_niche: dict[str, set[str]] = defaultdict(set)
    for profile_id, username, niche_id in profiles:
        window = windows.get(profile_id, {})
        key = (window_keys or {}).get(profile_id) or window.get("window_id") or now.isoformat()
        payload: dict[str, Any] = {
            "profile_id": profile_id,
            "username": username,
            "niche_id": niche_id,
            "niche_name": niches.get(niche_id, (None, 0))[0] if niche_id else None,
            "detected_at": now.isoformat(),
            "story_url": f"https://www.instagram.com/stories/{username}/",
            **window,
        }
        payload.update((details or {}).get(profile_id, {}))
        event_id = record_event(
            conn,
            EventType.STORY_DETECTED.value,
            payload,
            dedupe_key=f"story.detected:{profile_id}:{key}",
            niche_id=niche_id,
            subject_id=profile_id,
            now=now,
        )
        if event_id:
            recorded.append(event_id)
        if niche_id:
            by_niche[niche_id].add(profile_id)
    recorded.extend(_targets_reached(conn, by_niche, niches, now))
    return recorded


def _latest_windows(conn: Conn, profile_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each profile's newest story window, as payload fields."""
    rows = conn.execute(
        select(
            StoryWindow.profile_id, StoryWindow.id, StoryWindow.batch_id,
            StoryWindow.last_taken_at, StoryWindow.first_taken_at, StoryWindow.expires_at,
            StoryWindow.item_count,
        )
        .where(StoryWindow.profile_id.in_(profile_ids))
        .order_by(StoryWindow.profile_id, StoryWindow.first_seen_at.desc())
    ).all()
    latest: dict[str, dict[str, Any]] = {}
    for profile_id, window_id, batch_id, last, first, expires, items in rows:
        latest.setdefault(profile_id, {
            "window_id": window_id,
            "batch_id": batch_id,
            "posted_at": _iso(last),
            "first_posted_at": _iso(first),
            "expires_at": _iso(expires),
            "item_count": items,
        })
    return latest


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _targets_reached(
    conn: Conn,
    new_by_niche: Mapping[str, set[str]],
    niches: Mapping[str, tuple[str, int]],
    now: datetime,
) -> list[str]:
    """`niche.target_reached` for niches whose accounts with a story today reach the target."""
    day = now.date().isoformat()
    due = [
        niche_id
        for niche_id in new_by_niche
        if niche_id in niches
        and niches[niche_id][1] > 0
        and not event_exists(conn, f"niche.target_reached:{niche_id}:{day}")
    ]
    if not due:
        return []
    midnight = _start_of_day(now)
    # Accounts with a story today: those alerted today, and those with a detection row (the
    # dashboard's count), so the order in which the recorder writes them does not matter.
    alerted = conn.execute(
        select(AlertEvent.niche_id, AlertEvent.subject_id).distinct().where(
            AlertEvent.type == EventType.STORY_DETECTED.value,
            AlertEvent.niche_id.in_(due),
            AlertEvent.created_at >= midnight,
        )
    ).all()
    detected = conn.execute(
        select(Profile.niche_id, StoryResult.profile_id)
        .distinct()
        .join(Profile, Profile.id == StoryResult.profile_id)
        .where(Profile.niche_id.in_(due), StoryResult.detected_at >= midnight)
    ).all()
    accounts: dict[str, set[str]] = defaultdict(set)
    for niche_id, profile_id in [*alerted, *detected]:
        if niche_id is not None and profile_id is not None:
            accounts[niche_id].add(profile_id)
    recorded = []
    for niche_id in due:
        # The recorder may write its story rows before or after calling us: count both.
        today = len(accounts[niche_id] | new_by_niche[niche_id])
        name, target = niches[niche_id]
        if today < target:
            continue
        event_id = record_event(
            conn,
            EventType.NICHE_TARGET_REACHED.value,
            {"niche_id": niche_id, "niche_name": name, "daily_story_target": target,
             "stories_today": today, "day": day},
            dedupe_key=f"niche.target_reached:{niche_id}:{day}",
            niche_id=niche_id,
            now=now,
        )
        if event_id:
            recorded.append(event_id)
    return recorded


def batch_completed(conn: Conn, batch_id: str, completed_at: datetime) -> str | None:
    """Record `batch.completed` for a batch that just turned done (once per completion)."""
    row = conn.execute(
        select(
            Batch.niche_id, Niche.name, Batch.total_profiles, Batch.completed_profiles,
            Batch.successful_checks, Batch.failed_checks, Batch.started_at,
            Batch.not_found_profiles, Batch.private_profiles,
        )
        .join(Niche, Niche.id == Batch.niche_id)
        .where(Batch.id == batch_id)
    ).first()
    if row is None:
        return None
    stories = conn.execute(
        select(func.count(distinct(BatchProfile.profile_id))).where(
            BatchProfile.batch_id == batch_id,
            BatchProfile.status == ItemStatus.COMPLETED.value,
            BatchProfile.has_story.is_(True),
        )
    ).scalar_one()
    payload = {
        "batch_id": batch_id,
        "niche_id": row[0],
        "niche_name": row[1],
        "total_profiles": row[2],
        "completed_profiles": row[3],
        "successful_checks": row[4],
        "failed_checks": row[5],
        "not_found_profiles": row[7],
        "stories_found": stories,
        # The answers apart: a private account no session follows is unknown, not "no story".
        "private_profiles": row[8] or 0,
        "no_story": batch_answers(
            completed=row[3] or 0,
            stories=stories,
            failed_checks=row[5] or 0,
            private=row[8] or 0,
            not_found=row[7] or 0,
        ).no_story,
        "started_at": row[6].isoformat() if row[6] else None,
        "completed_at": completed_at.isoformat(),
    }
    return record_event(
        conn,
        EventType.BATCH_COMPLETED.value,
        payload,
        dedupe_key=f"batch.completed:{batch_id}:{completed_at.isoformat()}",
        niche_id=row[0],
        subject_id=batch_id,
        now=completed_at,
    )


def pair_needs_attention(
    conn: Conn,
    proxy_id: str,
    health: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Record `pair.needs_attention` when a pair's health was persisted as invalid, challenge
    or blocked. Call it once per such transition, in the transaction that wrote it."""
    now = now or utcnow()
    row = conn.execute(
        select(Proxy.scheme, Proxy.ip, Proxy.port).where(Proxy.id == proxy_id)
    ).first()
    payload = {
        "proxy_id": proxy_id,
        # Address only: the proxy's credentials and the session cookie never leave the vault.
        "proxy": f"{row[0]}://{row[1]}:{row[2]}" if row else None,
        "health": health,
        "reason": reason[:300] if reason else None,
    }
    return record_event(
        conn,
        EventType.PAIR_NEEDS_ATTENTION.value,
        payload,
        dedupe_key=f"pair.needs_attention:{proxy_id}:{health}:{now.isoformat()}",
        subject_id=proxy_id,
        now=now,
    )


def check_stalled_batches(
    session: Session,
    now: datetime,
    stall_minutes: float,
    options: ProgressOptions | None = None,
) -> list[str]:
    """Record `batch.stalled` for running batches that had no usable pair and no progress for
    `stall_minutes` (once per run of a batch).

    "Stalled" is the batch payload's `stalled` flag (`batches/progress.py`): no pair may send
    now (unusable, or cooling past the moment), and nothing was recorded since the batch
    started or last moved, for `stall_minutes`.
    """
    base = options or ProgressOptions.from_config()
    picture = read_picture(
        session, replace(base, stall_minutes=stall_minutes), now=now, with_work=False
    )
    if picture.ready_now or not picture.running:
        return []
    held = pool_picture(picture.pairs, picture.now)[0] or "none configured"
    rows = session.execute(
        select(Batch, Niche.name)
        .join(Niche, Niche.id == Batch.niche_id)
        .where(Batch.status == BatchStatus.IN_PROGRESS.value)
    ).all()
    recorded = []
    for batch, niche_name in rows:
        if picture.stalled_since(batch) is None:
            continue
        started_at = batch.started_at
        since = last_activity(batch)
        run = started_at.isoformat() if started_at else "never"
        event_id = record_event(
            session,
            EventType.BATCH_STALLED.value,
            {"batch_id": batch.id, "niche_id": batch.niche_id, "niche_name": niche_name,
             "last_progress_at": since.isoformat() if since else None,
             "stalled_minutes": round(stall_minutes, 1),
             "waiting_reason": f"no usable pair: {held}"},
            dedupe_key=f"batch.stalled:{batch.id}:{run}",
            niche_id=batch.niche_id,
            subject_id=batch.id,
            now=now,
        )
        if event_id:
            recorded.append(event_id)
    return recorded
