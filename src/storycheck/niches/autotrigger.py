"""Daily targets (DESIGN.md §4.6): create batches for niches below their target, automatically.

When `auto_trigger_enabled`, each housekeeping tick looks at every niche: if fewer of its
accounts had a story seen today than `daily_story_target`, nothing of that niche is queued or
running, and its last batch is older than `min_trigger_interval` minutes, a batch is created of
the accounts most likely to have a story (detection history) that were not checked recently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from storycheck.batches.models import Batch, BatchStatus
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database, utcnow
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile
from storycheck.settings.service import get_settings
from storycheck.stories.models import StoryResult

log = logging.getLogger(__name__)

# Accounts checked more recently than this are not picked again by the auto-trigger.
RECHECK_AFTER = timedelta(minutes=30)


def start_of_day(now: datetime) -> datetime:
    """Midnight (UTC) of `now`'s day: stories "today" are those seen since then."""
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def stories_seen_today(session: Session, now: datetime) -> dict[str, int]:
    """Accounts per niche with a story detected since midnight."""
    rows = session.execute(
        select(Profile.niche_id, func.count(distinct(StoryResult.profile_id)))
        .join(Profile, Profile.id == StoryResult.profile_id)
        .where(StoryResult.detected_at >= start_of_day(now))
        .group_by(Profile.niche_id)
    ).all()
    return {niche_id: count for niche_id, count in rows if niche_id is not None}


class AutoTrigger:
    """Creates batches for niches under their daily target; call `tick()` periodically."""

    def __init__(
        self, db: Database, state: BatchStateManager, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.state = state
        self.clock = clock

    def tick(self) -> list[str]:
        """Create the batches that are due now; return their ids."""
        now = self.clock()
        with self.db.read() as session:
            settings = get_settings(session)
            if not settings.auto_trigger_enabled:
                return []
            interval = timedelta(minutes=settings.min_trigger_interval)
            size = settings.default_batch_size
            seen = stories_seen_today(session, now)
            busy = set(
                session.scalars(
                    select(Batch.niche_id).where(
                        Batch.status.in_((BatchStatus.QUEUED.value, BatchStatus.IN_PROGRESS.value))
                    )
                )
            )
            last_created = dict(
                session.execute(
                    select(Batch.niche_id, func.max(Batch.created_at)).group_by(Batch.niche_id)
                ).all()
            )
            due: list[tuple[str, list[str]]] = []
            for niche in session.scalars(select(Niche).order_by(Niche.order)):
                if seen.get(niche.id, 0) >= niche.daily_story_target or niche.id in busy:
                    continue
                previous = last_created.get(niche.id)
                if previous is not None and now - previous < interval:
                    continue
                candidates = self._candidates(session, niche.id, now, size)
                if candidates:
                    due.append((niche.id, candidates))
        created = []
        for niche_id, profile_ids in due:
            batch = self.state.create_batch(niche_id=niche_id, profile_ids=profile_ids)
            log.info(
                "Auto-triggered batch %s for niche %s (%d accounts)",
                batch.id,
                niche_id,
                len(profile_ids),
            )
            created.append(batch.id)
        return created

    def _candidates(self, session: Session, niche_id: str, now: datetime, size: int) -> list[str]:
        rate = case(
            (Profile.total_checks > 0, Profile.total_detections * 1.0 / Profile.total_checks),
            else_=0.5,  # never checked: as likely as anyone until we know
        )
        return list(
            session.scalars(
                select(Profile.id)
                .where(
                    Profile.niche_id == niche_id,
                    Profile.status == "active",
                    Profile.not_found.is_(False),
                    (Profile.last_checked.is_(None)) | (Profile.last_checked < now - RECHECK_AFTER),
                )
                .order_by(rate.desc(), Profile.last_checked.asc().nulls_first(), Profile.id)
                .limit(size)
            )
        )
