"""Batch items: the lease and processing-time indexes hold only the items that have one.

A new batch's items are pending: no lease expiry, no lease owner, no processing time. The
three indexes on those columns held an entry for every item anyway (NULL keys), so creating a
100,000-item batch wrote 300,000 index entries nobody reads. They become partial:

* `(status, lease_expires_at)` → `ix_batch_profiles_in_flight_lease (lease_expires_at)
  WHERE status = 'in_flight'`: every query that used it asks for in-flight items (expired
  leases, the in-flight counts, a dead worker's items);
* `ix_batch_profiles_lease_owner` and `ix_batch_profiles_processed_at`: `WHERE … IS NOT NULL`
  (their queries compare the column, which implies it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _partial(name: str, column: str, where: str) -> None:
    op.create_index(
        name,
        "batch_profiles",
        [column],
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index("ix_batch_profiles_status_lease", table_name="batch_profiles")
    op.drop_index("ix_batch_profiles_lease_owner", table_name="batch_profiles")
    op.drop_index("ix_batch_profiles_processed_at", table_name="batch_profiles")
    _partial("ix_batch_profiles_in_flight_lease", "lease_expires_at", "status = 'in_flight'")
    _partial("ix_batch_profiles_lease_owner", "lease_owner", "lease_owner IS NOT NULL")
    _partial("ix_batch_profiles_processed_at", "processed_at", "processed_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_batch_profiles_processed_at", table_name="batch_profiles")
    op.drop_index("ix_batch_profiles_lease_owner", table_name="batch_profiles")
    op.drop_index("ix_batch_profiles_in_flight_lease", table_name="batch_profiles")
    op.create_index("ix_batch_profiles_processed_at", "batch_profiles", ["processed_at"])
    op.create_index("ix_batch_profiles_lease_owner", "batch_profiles", ["lease_owner"])
    op.create_index(
        "ix_batch_profiles_status_lease", "batch_profiles", ["status", "lease_expires_at"]
    )
