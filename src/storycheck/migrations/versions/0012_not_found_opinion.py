"""first "not found" opinion: which pair first said an item's account does not exist

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_found_by", sa.String(length=36), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): a batch-mode copy of the table would
    # reflect `profiles` through its foreign key, whose expression index it cannot read.
    op.execute("ALTER TABLE batch_profiles DROP COLUMN not_found_by")
