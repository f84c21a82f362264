"""Niche queries and commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storycheck.batches.state import BatchStateManager
from storycheck.db import Database, iso, utcnow
from storycheck.errors import NotFound, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.counts import niche_counts
from storycheck.profiles.models import Profile

# Deleting a niche first deletes its batches through the state manager (its own transaction);
# a batch created in between makes us go round again, a few times at most.


def profile_counts(session: Session, niche_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Number of non-deleted profiles per niche id (all niches when `niche_ids` is None).

    Read from the trigger-kept `profile_counts` rows: constant time whatever the niche's size.
    """
    return niche_counts(session, niche_ids)


def niche_to_dict(niche: Niche, profile_count: int) -> dict[str, Any]:
    """The niche object of the API (original field names plus `profile_count`)."""
    return {
        "id": niche.id,
        "name": niche.name,
        "order": niche.order,
        "daily_story_target": niche.daily_story_target,
        "profile_count": profile_count,
        "created_at": iso(niche.created_at),
        "updated_at": iso(niche.updated_at),
    }


def niche_payload(session: Session, niche: Niche) -> dict[str, Any]:
    """One niche as the API shows it, with its real profile count."""
    return niche_to_dict(niche, profile_counts(session, [niche.id]).get(niche.id, 0))


def list_niches(session: Session) -> list[dict[str, Any]]:
    """Every niche ordered by `order`, then name, each with its real profile count."""
    niches = session.scalars(select(Niche).order_by(Niche.order, Niche.name, Niche.id)).all()
    counts = profile_counts(session)
    return [niche_to_dict(n, counts.get(n.id, 0)) for n in niches]


def get_niche(session: Session, *, niche_id: str) -> Niche:
    """The niche with this id, or a 404."""
    niche = session.get(Niche, niche_id)
    if niche is None:
        raise NotFound("Niche not found", details={"niche_id": niche_id})
    return niche


def create_niche(
    session: Session, *, name: str, order: int | None = None, daily_story_target: int | None = None
) -> Niche:
    """Create a niche; without an explicit `order` it goes after every existing niche."""
    _ensure_name_free(session, name)
    if order is None:
        order = (session.scalar(select(func.max(Niche.order))) or 0) + 1
    niche = Niche(name=name, order=order)
    if daily_story_target is not None:
        niche.daily_story_target = daily_story_target
    session.add(niche)
    session.flush()
    return niche


def update_niche(
    session: Session,
    *,
    niche_id: str,
    name: str | None = None,
    order: int | None = None,
    daily_story_target: int | None = None,
) -> Niche:
    """Change a niche's name, order or daily story target (only the given ones)."""
    niche = get_niche(session, niche_id=niche_id)
    if name is not None and name != niche.name:
        _ensure_name_free(session, name, exclude_id=niche.id)
        niche.name = name
    if order is not None:
        niche.order = order
    if daily_story_target is not None:
        niche.daily_story_target = daily_story_target
    session.flush()
    return niche


def remove_niche(*, db: Database, state: BatchStateManager, niche_id: str) -> None:
    """Delete a niche: its batches go through the state manager, its profiles move on.

    Profiles move to the first other niche (by order, then name) or lose their niche when it
    was the last one. `BatchStateManager.delete_niche_batches` owns the batch rows and the
    queue, and deletes the niche row in the same transaction.
    """
    with db.read() as session:
        get_niche(session, niche_id=niche_id)

    def delete_row(session: Session) -> None:
        get_niche(session, niche_id=niche_id)
        _delete_niche_row(session, niche_id=niche_id)

    state.delete_niche_batches(niche_id, then=delete_row)


def _delete_niche_row(session: Session, *, niche_id: str) -> None:
    target = session.scalar(
        select(Niche.id)
        .where(Niche.id != niche_id)
        .order_by(Niche.order, Niche.name, Niche.id)
        .limit(1)
    )
    session.execute(
        update(Profile)
        .where(Profile.niche_id == niche_id)
        .values(niche_id=target, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Niche).where(Niche.id == niche_id).execution_options(synchronize_session=False)
    )


def reorder_niches(session: Session, *, niche_ids: list[str]) -> list[dict[str, Any]]:
    """Give every niche the position of its id in `niche_ids` (distinct ids, validated by
    `NicheReorder`), which must list every niche."""
    niches = {n.id: n for n in session.scalars(select(Niche))}
    unknown = [i for i in niche_ids if i not in niches]
    if unknown:
        raise ValidationError(
            f"Invalid niche ID: {unknown[0][:64]}",
            details={"field": "niche_ids", "unknown_ids": [u[:64] for u in unknown[:20]]},
        )
    if len(niche_ids) != len(niches):
        raise ValidationError(
            "All niches must be included "
            f"({len(niches)} niches exist, {len(niche_ids)} were listed)",
            details={"field": "niche_ids"},
        )
    for position, niche_id in enumerate(niche_ids):
        niche = niches[niche_id]
        if niche.order != position:
            niche.order = position
    session.flush()
    return list_niches(session)


def _ensure_name_free(session: Session, name: str, *, exclude_id: str | None = None) -> None:
    query = select(Niche.id).where(Niche.name == name)
    if exclude_id is not None:
        query = query.where(Niche.id != exclude_id)
    if session.scalar(query.limit(1)) is not None:
        # The original answered 400 {"error": "Niche already exists"}; its client shows `error`.
        raise ValidationError(
            "Niche already exists", code="Niche already exists", details={"name": name}
        )
