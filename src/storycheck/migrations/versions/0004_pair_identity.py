"""pair identity: full browser cookie set, www-claim, user agent per pair, dense doc_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00

The `dense_doc_id` setting itself is engine-core's (settings, migration 0003); this revision
holds the pair's side: the browser cookies beside sessionid/csrftoken (encrypted JSON), the
www-claim Instagram set (encrypted), and the pair's user agent (NULL = the default Chrome).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storycheck.db  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cookies_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("www_claim_encrypted", sa.Text(), nullable=True))
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_agent", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.drop_column("user_agent")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("www_claim_encrypted")
        batch_op.drop_column("cookies_encrypted")
