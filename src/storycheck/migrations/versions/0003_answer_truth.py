"""answer truth: item outcomes (private), not-found confirmation, learned pair limits

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("failure_kind", sa.String(length=20), nullable=True))
    # Items completed before this revision: their has_story is the outcome.
    op.execute(
        "UPDATE batch_profiles SET outcome = CASE WHEN has_story THEN 'story' ELSE 'no_story' END"
        " WHERE status = 'completed'"
    )
    op.execute(
        "UPDATE batch_profiles SET failure_kind = CASE WHEN error = 'not_found'"
        " THEN 'not_found' ELSE 'transient' END WHERE status = 'failed'"
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("private_profiles", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("not_found_at", storycheck.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("followed_by_session_id", sa.String(length=36), nullable=True)
        )
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("learned_hourly_limit", sa.Integer(), nullable=True))
    with op.batch_alter_table("system_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("request_jitter", sa.Float(), nullable=False, server_default="0.4")
        )
        batch_op.add_column(
            sa.Column("action_block_cooldown_hours", sa.Float(), nullable=False, server_default="6")
        )
        batch_op.add_column(
            sa.Column("not_found_recheck_days", sa.Integer(), nullable=False, server_default="7")
        )
        batch_op.add_column(
            sa.Column("dense_doc_id", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("system_settings", schema=None) as batch_op:
        batch_op.drop_column("dense_doc_id")
        batch_op.drop_column("not_found_recheck_days")
        batch_op.drop_column("action_block_cooldown_hours")
        batch_op.drop_column("request_jitter")
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.drop_column("learned_hourly_limit")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("followed_by_session_id")
        batch_op.drop_column("not_found_at")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("private_profiles")
    with op.batch_alter_table("batch_profiles", schema=None) as batch_op:
        batch_op.drop_column("failure_kind")
        batch_op.drop_column("outcome")
