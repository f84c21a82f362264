"""Apply Alembic migrations programmatically (at server start and from `storycheck db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from storycheck.db import AdvisoryLock, advisory_xact_lock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Schema objects the migrations create that the models cannot describe: SQLite's FTS5 search
# table (and its shadow tables), PostgreSQL's trigram index and the detection-rate expression
# index (migration 0007).
UNMODELLED_PREFIXES = ("profiles_search",)
UNMODELLED_INDEXES = frozenset({"ix_profiles_username_trgm", "ix_profiles_niche_rate"})


def modelled(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic `include_name` hook: False for the schema objects listed above."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMODELLED_PREFIXES)
    if type_ == "index":
        return name not in UNMODELLED_INDEXES
    return True


def alembic_config(url: str) -> AlembicConfig:
    """Build an Alembic configuration pointing at the packaged migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision` (default: the newest)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Two processes starting at once must not both run the same migration.
            advisory_xact_lock(connection, AdvisoryLock.MIGRATIONS)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
