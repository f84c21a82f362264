"""Profile counts per niche and status, read from `profile_counts` (kept by triggers).

Migration 0007 installs triggers on `profiles` that adjust `profile_counts` in the writer's own
transaction on every insert, delete, niche move and status change, whichever code path writes.
Reading a count is therefore a lookup of a handful of rows, whatever the number of profiles.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storycheck.profiles.models import ProfileCount

NO_NICHE = ""  # `niche_key` of profiles without a niche


def stored_count(session: Session, *, niche_id: str | None, status: str | None) -> int:
    """Profiles in this niche (all niches when None) with this status (any when None)."""
    query = select(func.coalesce(func.sum(ProfileCount.profiles), 0))
    if niche_id is not None:
        query = query.where(ProfileCount.niche_key == niche_id)
    if status is not None:
        query = query.where(ProfileCount.status == status)
    return int(session.scalar(query) or 0)


def niche_counts(session: Session, niche_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Non-deleted profiles per niche id (every niche with profiles when `niche_ids` is None)."""
    query = (
        select(ProfileCount.niche_key, func.sum(ProfileCount.profiles))
        .where(ProfileCount.niche_key != NO_NICHE, ProfileCount.status != "deleted")
        .group_by(ProfileCount.niche_key)
    )
    if niche_ids is not None:
        ids = list(niche_ids)
        if not ids:
            return {}
        query = query.where(ProfileCount.niche_key.in_(ids))
    return {key: int(count) for key, count in session.execute(query) if count}
