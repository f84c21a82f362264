"""pair tests and the session's account id encrypted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00

* `proxies.last_tested_at`, `last_test_ok`, `last_test_summary`, `last_test_steps`: the result
  of the pair's last test (`POST /api/proxies/{id}/test`); NULL = untested. Editing the proxy
  or its session empties them again.
* `sessions.ds_user_id_encrypted`: the session's account id, encrypted like the cookies. A
  migration cannot reach the secret key (it lives outside the database: see `keys.py`), so the
  existing clear values stay in `sessions.ds_user_id` until the next start, when
  `keys.seal_clear_values` encrypts them into the new column and empties the old one
  (idempotent: it only touches rows whose clear column is still set).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = storycheck.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_tested_at", TIME, nullable=True))
        batch_op.add_column(sa.Column("last_test_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("last_test_summary", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("last_test_steps", sa.Text(), nullable=True))
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ds_user_id_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    # The encrypted account ids cannot be decrypted here (no key): they are dropped, and a
    # session sends no ds_user_id cookie until it is pasted again. Plain DROP COLUMN (SQLite
    # >= 3.35), never a batch copy: recreating `proxies` with foreign keys on would cascade
    # the DROP TABLE into every session, usage and error-log row.
    op.drop_column("sessions", "ds_user_id_encrypted")
    for column in ("last_test_steps", "last_test_summary", "last_test_ok", "last_tested_at"):
        op.drop_column("proxies", column)
