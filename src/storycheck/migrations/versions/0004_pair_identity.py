"""pair identity: full browser cookie set, www-claim, user agent per pair, dense doc_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from alembic import op  # noqa: F401

import storycheck.db  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
