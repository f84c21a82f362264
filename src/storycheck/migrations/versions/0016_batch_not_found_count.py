"""Batches count their confirmed missing accounts (`not_found_profiles`), as they count private ones.

A failed item whose account two pairs confirmed does not exist is an answer ("no such
account"), not a check that could not be made. The counter is kept by the recorder in the
transaction that records the item, like the other counters; existing batches get it from their
items, and the failed items that one pair alone called missing become unknown (`transient`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite ≥ 3.35 drops columns in place): a batch-mode
    # table rebuild on SQLite would cascade its DROP into every batch's items.
    op.add_column(
        "batches",
        sa.Column("not_found_profiles", sa.Integer(), nullable=False, server_default="0"),
    )
    # One pair's "no such user" with no second pair to ask was stored as `not_found`; it is
    # unknown (transient), as the engine now records it.
    op.execute(
        "UPDATE batch_profiles SET failure_kind = 'transient' WHERE status = 'failed'"
        " AND failure_kind = 'not_found' AND error LIKE '%(unconfirmed:%'"
    )
    op.execute(
        "UPDATE batches SET not_found_profiles = (SELECT count(*) FROM batch_profiles"
        " WHERE batch_profiles.batch_id = batches.id AND batch_profiles.status = 'failed'"
        " AND batch_profiles.failure_kind = 'not_found')"
    )


def downgrade() -> None:
    op.drop_column("batches", "not_found_profiles")
