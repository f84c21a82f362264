"""The dashboard: stories seen today per niche against its target, checks per minute over the
last hour, pairs per health, and the pool summary (what holds the pairs back, budgets left, the
running batches' waiting reasons, stall flags and ETAs). Read-only; `web/api.py` serves it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from storycheck.batches.models import Batch, BatchProfile, BatchStatus
from storycheck.batches.progress import Picture, ProgressOptions, iso_time, notes, read_picture
from storycheck.engine.pool_model import Work, clock_time, pool_picture, waiting_reason
from storycheck.niches.autotrigger import start_of_day, stories_seen_today
from storycheck.niches.models import Niche
from storycheck.niches.service import profile_counts
from storycheck.proxies.models import PAIR_HEALTH_VALUES, Proxy
from storycheck.stories.service import newest_check, seen_since


def dashboard_payload(session: Session, now: datetime, progress: ProgressOptions) -> dict[str, Any]:
    """The `GET /api/dashboard` answer at `now`."""
    niches = session.scalars(select(Niche).order_by(Niche.order, Niche.name)).all()
    counts = profile_counts(session)
    seen_today = stories_seen_today(session, now)
    health_counts = dict(
        session.execute(select(Proxy.health, func.count()).group_by(Proxy.health)).all()
    )
    running = session.scalars(
        select(Batch).where(Batch.status == BatchStatus.IN_PROGRESS.value).order_by(Batch.id)
    ).all()
    picture = read_picture(session, progress, now=now)
    midnight = start_of_day(now)

    def niche_entry(niche: Niche) -> dict[str, Any]:
        stories = seen_today.get(niche.id, 0)
        newest = newest_check(session, niche.id, now)
        checked = newest is not None and newest >= midnight
        return {
            "id": niche.id,
            "name": niche.name,
            "daily_story_target": niche.daily_story_target,
            "stories_today": stories,
            "profile_count": counts.get(niche.id, 0),
            # False: no account of the niche was checked today, so 0 stories is unknown.
            "checked_today": checked,
            # False: no check today could see a story (e.g. only private accounts no session
            # follows): 0 stories is unknown as well.
            "seen_today": stories > 0 or (checked and seen_since(session, niche.id, midnight, now)),
        }

    return {
        "niches": [niche_entry(n) for n in niches],
        "throughput": checks_per_minute(session, now),
        "pairs": {h: health_counts.get(h, 0) for h in PAIR_HEALTH_VALUES},
        "pool": pool_summary(picture, running),
    }


def pool_summary(picture: Picture, running: Sequence[Batch] = ()) -> dict[str, Any]:
    """The dashboard's pool: what holds the pairs, budgets left, and the running batches'
    waiting reasons, stall flags and ETAs (docs/API.md)."""
    now = picture.now
    pairs = picture.pairs
    ready = [p for p in pairs if p.ready(now)]
    usable = [p for p in pairs if p.usable]
    held, back = pool_picture(pairs, now)
    per_hour = 3600.0 / max(1e-9, picture.settings.window_seconds)
    summary = f"{len(ready)} of {len(pairs)} pairs ready" if pairs else "no pairs configured"
    if held:
        summary += f"; {held}"
    if ready and all(p.lookups_left <= 0 for p in ready):
        until = min((p.lookups_free_at for p in ready if p.lookups_free_at), default=None)
        summary += "; lookup budget exhausted" + (
            f" until {clock_time(until, now)}" if until else ""
        )
    if picture.settings.profiles_per_minute:
        summary += f"; paced: profiles_per_minute = {picture.settings.profiles_per_minute}"
    reason = waiting_reason(pairs, picture.settings, Work(pending=1), now)
    return {
        "pairs": len(pairs),
        "ready": len(ready),
        "usable": len(usable),
        "next_ready_at": iso_time(back) if not ready else None,
        "lookups_left": round(sum(p.lookups_left for p in usable)),
        "requests_left": round(sum(p.requests_left for p in usable)),
        "lookups_per_hour": round(sum(p.lookup_budget for p in usable) * per_hour),
        "requests_per_hour": round(sum(p.session_budget for p in usable) * per_hour),
        "summary": summary,
        "waiting_reason": reason.text if reason and reason.code == "no_usable_pair" else None,
        "running_batches": [
            {"id": b.id, "niche_id": b.niche_id, **notes(b, picture)} for b in running
        ],
    }


def checks_per_minute(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Checks finished in each of the last 60 minutes (oldest first)."""
    since = (now - timedelta(minutes=59)).replace(second=0, microsecond=0)
    if session.get_bind().dialect.name == "sqlite":
        minute = cast(func.strftime("%s", BatchProfile.processed_at), Integer) // 60
    else:
        minute = func.floor(func.extract("epoch", BatchProfile.processed_at) / 60)
    rows = session.execute(
        select(minute, func.count())
        .where(BatchProfile.processed_at >= since)
        .group_by(minute)
    ).all()
    by_minute = {int(m): c for m, c in rows if m is not None}
    first = int(since.timestamp()) // 60
    return [
        {
            "minute": datetime.fromtimestamp((first + i) * 60, tz=now.tzinfo).isoformat(),
            "checks": by_minute.get(first + i, 0),
        }
        for i in range(60)
    ]
