"""story indexes hold only accounts with a story: imports no longer write to them

The five indexes read only for accounts with a story window or a live-story flag (a niche's
live stories by posting time and by expiry, the same across niches, and the `active_story`
flags the maintenance thread clears) become partial. An import's new rows have no window and
the flag off, so a 100,000-line import no longer adds 500,000 index entries that no query
reads. The conditions are written as the queries write their terms (SQLite uses a partial
index only for a query term of the same text; a plan test holds each query to its index).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WITH_STORY = "story_posted_at IS NOT NULL"
# name -> (columns, SQLite condition, PostgreSQL condition)
PARTIAL = {
    "ix_profiles_niche_story_posted": (
        ["niche_id", "story_posted_at", "id", "story_expires_at", "status"],
        WITH_STORY,
        WITH_STORY,
    ),
    "ix_profiles_niche_story_expires": (
        ["niche_id", "story_expires_at", "id", "story_posted_at", "status"],
        WITH_STORY,
        WITH_STORY,
    ),
    "ix_profiles_story_posted_at": (["story_posted_at"], WITH_STORY, WITH_STORY),
    "ix_profiles_story_expires_at": (
        ["story_expires_at"],
        "story_expires_at IS NOT NULL",
        "story_expires_at IS NOT NULL",
    ),
    "ix_profiles_active_story": (["active_story"], "active_story IS 1", "active_story IS true"),
}


def upgrade() -> None:
    for name, (columns, sqlite_where, postgresql_where) in PARTIAL.items():
        op.drop_index(name, table_name="profiles")
        op.create_index(
            name,
            "profiles",
            columns,
            sqlite_where=sa.text(sqlite_where),
            postgresql_where=sa.text(postgresql_where),
        )


def downgrade() -> None:
    for name, (columns, _sqlite, _postgresql) in PARTIAL.items():
        op.drop_index(name, table_name="profiles")
        op.create_index(name, "profiles", columns)
