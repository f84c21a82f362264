"""private accounts per niche by last check: how many answers of "Stories now" are unknown

A partial index of the private accounts no checking session follows (their check cannot see a
story), by niche and last check. Imported profiles have `is_private` NULL, so imports do not
maintain it; only lookups that find a private account add an entry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_profiles_niche_private_checked",
        "profiles",
        ["niche_id", "last_checked", "status"],
        sqlite_where=sa.text("is_private = 1 AND followed_by_session_id IS NULL"),
        postgresql_where=sa.text("is_private = true AND followed_by_session_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_profiles_niche_private_checked", table_name="profiles")
