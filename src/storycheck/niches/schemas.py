"""Niche request bodies and the niche object, with the limits of names, orders and targets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from storycheck.fields import Answer, Body, IdList, Number, Text, absent_key

NAME_MAX_LENGTH = 50
NicheName = Annotated[str, Text(NAME_MAX_LENGTH, label="Niche name")]
Order = Annotated[int, Number(-1_000_000, 1_000_000)]
DailyTarget = Annotated[int, Number(0, 1_000_000)]


class NicheCreate(Body):
    """`POST /api/niches`: a name; without `order` the niche goes last."""

    name: NicheName
    order: Order | None = None
    daily_story_target: DailyTarget | None = None


class NicheUpdate(Body):
    """`PUT /api/niches/{id}`: any of the fields; absent or null numbers are left unchanged."""

    name: NicheName = absent_key("A new name (null is refused)")
    order: Order | None = None
    daily_story_target: DailyTarget | None = None


class NicheReorder(Body):
    """`POST /api/niches/reorder`: every niche id in the new order."""

    niche_ids: Annotated[list[str], IdList(
        wrong="must be a list of niche id strings",
        bad_item="must be a list of niche id strings",
        unique="niche",
    )]


class Niche(Answer):
    """A niche with the number of its profiles that are not deleted."""

    id: str
    name: str
    order: int
    daily_story_target: int
    profile_count: int
    created_at: datetime | None
    updated_at: datetime | None
