"""story windows: one row per live story window of an account

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_windows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("first_taken_at", storycheck.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_taken_at", storycheck.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storycheck.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_story_windows_batch_id_batches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_story_windows_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_windows")),
    )
    with op.batch_alter_table("story_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_story_windows_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_story_windows_first_seen_at"), ["first_seen_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_story_windows_last_seen_at"), ["last_seen_at"], unique=False
        )
        batch_op.create_index(
            "ix_story_windows_profile_expires", ["profile_id", "expires_at"], unique=False
        )

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("story_posted_at", storycheck.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "story_first_posted_at", storycheck.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("story_expires_at", storycheck.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("story_item_count", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_profiles_story_posted_at"), ["story_posted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profiles_story_expires_at"), ["story_expires_at"], unique=False
        )
    # Detections made before windows existed: live for 24 hours after the detection, as before.
    if op.get_bind().dialect.name == "sqlite":
        expires = "datetime(last_story_detected, '+24 hours') || substr(last_story_detected, 20)"
    else:
        expires = "last_story_detected + interval '24 hours'"
    op.execute(
        "UPDATE profiles SET story_posted_at = last_story_detected, story_item_count = 1,"
        f" story_expires_at = {expires}"
        " WHERE active_story = TRUE AND last_story_detected IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_story_expires_at"))
        batch_op.drop_index(batch_op.f("ix_profiles_story_posted_at"))
        batch_op.drop_column("story_item_count")
        batch_op.drop_column("story_expires_at")
        batch_op.drop_column("story_first_posted_at")
        batch_op.drop_column("story_posted_at")
    with op.batch_alter_table("story_windows", schema=None) as batch_op:
        batch_op.drop_index("ix_story_windows_profile_expires")
        batch_op.drop_index(batch_op.f("ix_story_windows_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_story_windows_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_story_windows_expires_at"))
    op.drop_table("story_windows")
