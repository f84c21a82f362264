"""The schema built by the migrations equals the one the models describe (both databases)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storycheck.db import Database, utcnow
from storycheck.migrate import modelled, upgrade
from storycheck.models import Base
from storycheck.profiles.models import Profile
from tests.factories import make_niche, make_profiles
from tests.helpers import migrate, revision_before


# The detection-rate index of migration 0007 is an expression index (SQLite cannot reflect it).
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_models(database_url):
    database = Database(database_url)
    try:
        upgrade(database.engine)  # already at head: a second run is a no-op
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": modelled})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


def test_status_columns_have_check_constraints(database_url):
    database = Database(database_url)
    try:
        inspector = inspect(database.engine)
        for table in ("batches", "batch_profiles", "profiles", "proxies", "sessions"):
            names = {c["name"] for c in inspector.get_check_constraints(table)}
            assert any("status" in (name or "") for name in names), table
    finally:
        database.dispose()


def test_follows_from_before_0019_have_no_confirmation_time(database_url):
    """Migration 0019 adds `profiles.followed_checked_at`, empty for existing follows (when
    they were confirmed is not known: the engine looks them up again before trusting them),
    and goes down and up again."""
    db = Database(database_url)
    try:
        (followed,) = make_profiles(db, make_niche(db, name="followed"), 1)
        before = revision_before(database_url, "_followed_checked_at.py")
        migrate(db, database_url, before, down=True)
        assert "followed_checked_at" not in columns(db, "profiles")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE profiles SET is_private = :private, followed_by_session_id = 's1',"
                    " identity_checked_at = :at WHERE id = :id"
                ),
                {"private": True, "at": utcnow(), "id": followed},
            )
        migrate(db, database_url, "head")
        with db.read() as session:
            profile = session.get(Profile, followed)
            assert profile is not None
            assert (profile.followed_by_session_id, profile.followed_checked_at) == ("s1", None)
        migrate(db, database_url, before, down=True)
        assert "followed_checked_at" not in columns(db, "profiles")
        migrate(db, database_url, "head")
        assert "followed_checked_at" in columns(db, "profiles")
    finally:
        db.dispose()


def columns(db: Database, table: str) -> set[str]:
    """The column names `table` has now."""
    return {column["name"] for column in inspect(db.engine).get_columns(table)}
