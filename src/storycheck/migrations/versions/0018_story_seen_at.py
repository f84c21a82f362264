"""profiles: `story_seen_at`, the last check that could see whether a story was up.

A private account's check sees nothing unless a usable session follows it, and a session that
followed it may stop working while `followed_by_session_id` still names it. "No story" is
only said when the latest check could see (profiles.answers); the coverage index now holds
the checked accounts whose latest check could not (it replaces 0013's private index, which
trusted `followed_by_session_id`). Existing profiles get their last check where it could see
by the old rule: found, and not private-and-unfollowed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# As in profiles.models (copied: a migration must not change when the models do).
UNSEEN = (
    "last_checked IS NOT NULL AND not_found = {false} "
    "AND (story_seen_at IS NULL OR story_seen_at < last_checked)"
)


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch-mode rebuild of `profiles` on SQLite
    # would cascade its DROP into story windows and batch items.
    op.add_column(
        "profiles",
        sa.Column("story_seen_at", storycheck.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE profiles SET story_seen_at = last_checked WHERE last_checked IS NOT NULL"
        " AND NOT not_found AND NOT (is_private IS TRUE AND followed_by_session_id IS NULL)"
    )
    op.drop_index("ix_profiles_niche_private_checked", table_name="profiles")
    op.create_index(
        "ix_profiles_niche_unseen_checked",
        "profiles",
        ["niche_id", "last_checked", "status"],
        sqlite_where=sa.text(UNSEEN.format(false="0")),
        postgresql_where=sa.text(UNSEEN.format(false="false")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The backfill rewrote most rows: fresh statistics now, not at autovacuum's next
        # pass (the coverage count planned without them read 1,000,000 rows: 56 -> 473 ms).
        op.execute("ANALYZE profiles")


def downgrade() -> None:
    op.drop_index("ix_profiles_niche_unseen_checked", table_name="profiles")
    op.create_index(
        "ix_profiles_niche_private_checked",
        "profiles",
        ["niche_id", "last_checked", "status"],
        sqlite_where=sa.text("is_private = 1 AND followed_by_session_id IS NULL"),
        postgresql_where=sa.text("is_private = true AND followed_by_session_id IS NULL"),
    )
    op.drop_column("profiles", "story_seen_at")
