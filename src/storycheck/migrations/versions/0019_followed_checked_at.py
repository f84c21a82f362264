"""profiles: `followed_checked_at`, when the follow in `followed_by_session_id` was confirmed.

Until now a follow aged with `identity_checked_at`, the time of the last privacy lookup. A
lookup through another session refreshes that time without saying anything about the
follower, so an old follow looked fresh again, and an absent reel through a session that had
stopped following read "no story". The follow now has a time of its own, written and cleared
with `followed_by_session_id` by a lookup through that session (engine.leases).

Existing follows get none: when they were last confirmed is not known (`identity_checked_at`
may come from another session), so the first absent reel of each such account is looked up
again through its follower before "no story" is said.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch-mode rebuild of `profiles` on SQLite
    # would cascade its DROP into story windows and batch items.
    op.add_column(
        "profiles",
        sa.Column("followed_checked_at", storycheck.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("profiles", "followed_checked_at")
