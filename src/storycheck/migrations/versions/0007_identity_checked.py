"""identity freshness: when a profile's cached id and privacy were last looked up

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIME = storycheck.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Existing rows stay NULL: their privacy is of unknown age, so the first absent reel of
    # each is looked up again before "no story" is said.
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("identity_checked_at", TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("identity_checked_at")
