"""Set-based creation of a batch's items: one INSERT … SELECT, no row passes through Python."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Table,
    false,
    func,
    insert,
    literal,
    select,
)

from storycheck.batches.models import BatchProfile, ItemStatus
from storycheck.db import ORDERED_ID_COUNTER_DIGITS, UTCDateTime, ordered_id_prefix
from storycheck.profiles.models import Profile

BATCH_ITEMS = cast(Table, BatchProfile.__table__)


def insert_active_profiles(
    connection: Connection, *, batch_id: str, niche_id: str, now: datetime
) -> int:
    """Add every active profile of the niche to the batch as a pending item; returns how many.

    The rows go in profile-id order with ascending ids (`db.ordered_ids`, the counter made
    by the database): the items' primary key and `(batch_id, profile_id)` indexes grow at
    their end, and the profile-id index and the foreign-key checks read the profiles'
    key index in order, instead of 100,000 random places each.
    """
    number = func.row_number().over(order_by=Profile.id)
    digits = ORDERED_ID_COUNTER_DIGITS
    counter: ColumnElement[str] = (
        func.printf(f"%0{digits}x", number)
        if connection.dialect.name == "sqlite"
        else func.lpad(func.to_hex(number), digits, "0")
    )
    new_id = literal(ordered_id_prefix(), String()) + counter
    moment = literal(now, UTCDateTime())
    rows = (
        select(
            new_id,
            literal(batch_id),
            Profile.id,
            literal(ItemStatus.PENDING.value),
            false(),
            literal(0),
            literal(0),
            moment,
            moment,
        )
        .where(Profile.niche_id == niche_id, Profile.status == "active")
        .order_by(Profile.id)
    )
    columns = (
        "id",
        "batch_id",
        "profile_id",
        "status",
        "has_story",
        "story_count",
        "attempts",
        "created_at",
        "updated_at",
    )
    statement = insert(BATCH_ITEMS).from_select(columns, rows)
    result = connection.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount)
