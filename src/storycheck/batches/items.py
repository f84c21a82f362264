"""Set-based creation of a batch's items: one INSERT … SELECT, no row passes through Python."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    false,
    insert,
    literal,
    literal_column,
    select,
)

from storycheck.batches.models import BatchProfile, ItemStatus
from storycheck.db import UTCDateTime
from storycheck.profiles.models import Profile

BATCH_ITEMS = cast(Table, BatchProfile.__table__)

# A random (version 4) UUID as text, made by the database for every inserted row.
_SQLITE_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || "
    "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || "
    "lower(hex(randomblob(6)))"
)
_POSTGRES_UUID = "gen_random_uuid()::text"


def insert_active_profiles(
    connection: Connection, *, batch_id: str, niche_id: str, now: datetime
) -> int:
    """Add every active profile of the niche to the batch as a pending item; returns how many."""
    dialect = connection.dialect.name
    new_uuid: ColumnElement[str] = literal_column(
        _SQLITE_UUID if dialect == "sqlite" else _POSTGRES_UUID
    )
    moment = literal(now, UTCDateTime())
    rows = select(
        new_uuid,
        literal(batch_id),
        Profile.id,
        literal(ItemStatus.PENDING.value),
        false(),
        literal(0),
        literal(0),
        moment,
        moment,
    ).where(Profile.niche_id == niche_id, Profile.status == "active")
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
