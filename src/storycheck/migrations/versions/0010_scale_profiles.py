"""scale: per-niche sort indexes, trigger-kept profile counts, indexed substring search

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00

* one (niche_id, sort column, username_key, status) index per sortable column, plus the same
  for the computed detection rate (an expression index), and two for a niche's live stories;
* `profile_counts` (profiles per niche and status), filled here and kept by triggers on
  `profiles` in the writer's own transaction;
* substring search through an index: an FTS5 trigram table on SQLite (kept by triggers), a
  `pg_trgm` GIN index on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SORT_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_profiles_niche_username": ("username_key", "status"),
    "ix_profiles_niche_status_key": ("status", "username_key"),
    "ix_profiles_niche_last_checked": ("last_checked", "username_key", "status"),
    "ix_profiles_niche_last_detected": ("last_detected", "username_key", "status"),
    "ix_profiles_niche_total_checks": ("total_checks", "username_key", "status"),
    "ix_profiles_niche_total_detections": ("total_detections", "username_key", "status"),
    "ix_profiles_niche_active_story": ("active_story", "username_key", "status"),
    "ix_profiles_niche_created_at": ("created_at", "username_key", "status"),
    "ix_profiles_niche_updated_at": ("updated_at", "username_key", "status"),
}
STORY_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_profiles_niche_story_posted": ("story_posted_at", "id", "story_expires_at", "status"),
    "ix_profiles_niche_story_expires": ("story_expires_at", "id", "story_posted_at", "status"),
}
# Must stay textually equal to `profiles.listing.DETECTION_RATE_SQL` (SQLite matches index
# expressions by their text); a plan test fails when they drift apart.
RATE = "(CASE WHEN total_checks > 0 THEN total_detections * 100.0 / total_checks ELSE 0.0 END)"

SQLITE_COUNT_TRIGGERS = (
    """CREATE TRIGGER profile_counts_insert AFTER INSERT ON profiles BEGIN
        INSERT INTO profile_counts (niche_key, status, profiles)
        VALUES (coalesce(new.niche_id, ''), new.status, 1)
        ON CONFLICT (niche_key, status) DO UPDATE SET profiles = profiles + 1;
    END""",
    """CREATE TRIGGER profile_counts_delete AFTER DELETE ON profiles BEGIN
        UPDATE profile_counts SET profiles = profiles - 1
        WHERE niche_key = coalesce(old.niche_id, '') AND status = old.status;
    END""",
    """CREATE TRIGGER profile_counts_update AFTER UPDATE OF niche_id, status ON profiles
    WHEN coalesce(old.niche_id, '') != coalesce(new.niche_id, '') OR old.status != new.status
    BEGIN
        UPDATE profile_counts SET profiles = profiles - 1
        WHERE niche_key = coalesce(old.niche_id, '') AND status = old.status;
        INSERT INTO profile_counts (niche_key, status, profiles)
        VALUES (coalesce(new.niche_id, ''), new.status, 1)
        ON CONFLICT (niche_key, status) DO UPDATE SET profiles = profiles + 1;
    END""",
)

SQLITE_SEARCH = (
    """CREATE VIRTUAL TABLE profiles_search USING fts5(
        username, content='profiles', content_rowid='rowid', tokenize='trigram'
    )""",
    """CREATE TRIGGER profiles_search_insert AFTER INSERT ON profiles BEGIN
        INSERT INTO profiles_search (rowid, username) VALUES (new.rowid, new.username);
    END""",
    """CREATE TRIGGER profiles_search_delete AFTER DELETE ON profiles BEGIN
        INSERT INTO profiles_search (profiles_search, rowid, username)
        VALUES ('delete', old.rowid, old.username);
    END""",
    """CREATE TRIGGER profiles_search_update AFTER UPDATE OF username ON profiles BEGIN
        INSERT INTO profiles_search (profiles_search, rowid, username)
        VALUES ('delete', old.rowid, old.username);
        INSERT INTO profiles_search (rowid, username) VALUES (new.rowid, new.username);
    END""",
    "INSERT INTO profiles_search (profiles_search) VALUES ('rebuild')",
)

# Inserts and deletes adjust the counts once per statement (a 100,000-row import is one
# grouped upsert); a niche move or status change once per changed row (the WHEN clause keeps
# the engine's counter updates free of any trigger call).
POSTGRES_COUNT_TRIGGERS = (
    """CREATE FUNCTION profile_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO profile_counts (niche_key, status, profiles)
        SELECT coalesce(niche_id, ''), status, count(*) FROM inserted_profiles GROUP BY 1, 2
        ON CONFLICT (niche_key, status)
        DO UPDATE SET profiles = profile_counts.profiles + EXCLUDED.profiles;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER profile_counts_insert AFTER INSERT ON profiles
    REFERENCING NEW TABLE AS inserted_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION profile_counts_inserted()""",
    """CREATE FUNCTION profile_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE profile_counts AS c SET profiles = c.profiles - d.n
        FROM (
            SELECT coalesce(niche_id, '') AS niche_key, status, count(*) AS n
            FROM deleted_profiles GROUP BY 1, 2
        ) AS d
        WHERE c.niche_key = d.niche_key AND c.status = d.status;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER profile_counts_delete AFTER DELETE ON profiles
    REFERENCING OLD TABLE AS deleted_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION profile_counts_deleted()""",
    """CREATE FUNCTION profile_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE profile_counts SET profiles = profiles - 1
        WHERE niche_key = coalesce(OLD.niche_id, '') AND status = OLD.status;
        INSERT INTO profile_counts (niche_key, status, profiles)
        VALUES (coalesce(NEW.niche_id, ''), NEW.status, 1)
        ON CONFLICT (niche_key, status) DO UPDATE SET profiles = profile_counts.profiles + 1;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER profile_counts_update AFTER UPDATE OF niche_id, status ON profiles
    FOR EACH ROW
    WHEN (OLD.niche_id IS DISTINCT FROM NEW.niche_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION profile_counts_moved()""",
)

POSTGRES_SEARCH = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # fastupdate off: no pending list for searches to scan (and to cost) after a big import.
    "CREATE INDEX ix_profiles_username_trgm ON profiles USING gin (username_key gin_trgm_ops)"
    " WITH (fastupdate = off)",
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.drop_index("ix_profiles_niche_status", table_name="profiles")
    op.drop_index("ix_profiles_niche_id", table_name="profiles")
    for name, columns in {**SORT_INDEXES, **STORY_INDEXES}.items():
        op.create_index(name, "profiles", ["niche_id", *columns])
    op.execute(
        f"CREATE INDEX ix_profiles_niche_rate ON profiles (niche_id, {RATE}, username_key, status)"
    )

    op.create_table(
        "profile_counts",
        sa.Column("niche_key", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("niche_key", "status", name=op.f("pk_profile_counts")),
    )
    op.execute(
        "INSERT INTO profile_counts (niche_key, status, profiles) "
        "SELECT coalesce(niche_id, ''), status, count(*) FROM profiles GROUP BY 1, 2"
    )
    for statement in POSTGRES_COUNT_TRIGGERS if postgres else SQLITE_COUNT_TRIGGERS:
        op.execute(statement)
    for statement in POSTGRES_SEARCH if postgres else SQLITE_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_profiles_username_trgm")
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER profile_counts_{trigger} ON profiles")
        for function in ("inserted", "deleted", "moved"):
            op.execute(f"DROP FUNCTION profile_counts_{function}()")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER profiles_search_{trigger}")
            op.execute(f"DROP TRIGGER profile_counts_{trigger}")
        op.execute("DROP TABLE profiles_search")
    op.drop_table("profile_counts")
    op.execute("DROP INDEX ix_profiles_niche_rate")
    for name in {**SORT_INDEXES, **STORY_INDEXES}:
        op.drop_index(name, table_name="profiles")
    op.create_index("ix_profiles_niche_id", "profiles", ["niche_id"])
    op.create_index("ix_profiles_niche_status", "profiles", ["niche_id", "status"])
