"""The trigram index collects an import's entries in its pending list (issue 12).

With `fastupdate = off` (0010) PostgreSQL adds every imported username to the GIN index entry
by entry, which cost about a third of a 100,000-line COPY. With `fastupdate = on` the COPY
appends to the pending list and the importer merges it at once
(`gin_clean_pending_list`, a few tens of milliseconds), so searches right after an import
still find an almost empty pending list. Nothing changes on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """PostgreSQL: turn the pending list of the trigram index on."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_profiles_username_trgm SET (fastupdate = on)")


def downgrade() -> None:
    """PostgreSQL: back to entry-by-entry inserts (the pending list is merged first)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT gin_clean_pending_list('ix_profiles_username_trgm'::regclass)")
        op.execute("ALTER INDEX ix_profiles_username_trgm SET (fastupdate = off)")
