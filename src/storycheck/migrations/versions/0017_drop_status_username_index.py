"""profiles: drop `ix_profiles_status_username`, an index no query reads.

No list orders or filters by `username` behind a status (the lists order by `username_key`,
niche first); the index only cost every imported row one more entry.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 06:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_profiles_status_username", table_name="profiles")


def downgrade() -> None:
    op.create_index("ix_profiles_status_username", "profiles", ["status", "username"])
