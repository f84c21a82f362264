"""item lease owner: which worker holds an item's lease (released at once when it dies)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_batch_profiles_lease_owner"), ["lease_owner"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_profiles_lease_owner"))
        batch_op.drop_column("lease_owner")
