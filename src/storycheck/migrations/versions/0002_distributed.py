"""distributed mode: pair leases and worker heartbeats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:47:09.319990
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pairs_owned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_heartbeats_last_seen"), ["last_seen"], unique=False
        )

    op.create_table(
        "pair_leases",
        sa.Column("proxy_id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("acquired_at", storycheck.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proxy_id"],
            ["proxies.id"],
            name=op.f("fk_pair_leases_proxy_id_proxies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proxy_id", name=op.f("pk_pair_leases")),
    )
    with op.batch_alter_table("pair_leases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pair_leases_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pair_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pair_leases_owner"))
    op.drop_table("pair_leases")
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_last_seen"))
    op.drop_table("worker_heartbeats")
