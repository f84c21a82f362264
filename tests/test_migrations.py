"""The schema built by the migrations equals the one the models describe (both databases)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storycheck.db import Database
from storycheck.migrate import modelled, upgrade
from storycheck.models import Base


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
