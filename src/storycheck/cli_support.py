"""Work behind CLI commands that is more than argument handling."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storycheck.config import Config
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.niches.models import Niche
from storycheck.niches.service import create_niche
from storycheck.profiles.importer import import_profiles


def import_file(config: Config, niche_name: str, raw: bytes) -> dict[str, Any]:
    """Import the lines of `raw` into the niche called `niche_name`, creating it if needed."""
    database = Database(config.database_url)
    try:
        upgrade(database.engine)
        with database.write() as session:
            niche = session.scalar(select(Niche).where(Niche.name == niche_name.strip()))
            if niche is None:
                niche = create_niche(session, name=niche_name.strip())
                session.flush()
            report = import_profiles(session, niche_id=niche.id, raw=raw)
        return report.to_dict()
    finally:
        database.dispose()
