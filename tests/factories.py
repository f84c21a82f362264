"""Test factories: rows with sensible defaults and keyword overrides."""

from __future__ import annotations

from typing import Any

from storycheck.db import Database, new_id
from storycheck.niches.models import Niche
from storycheck.testing import seed_profiles, set_settings

__all__ = ["make_niche", "make_profiles", "set_settings"]


def make_niche(db: Database, **overrides: Any) -> str:
    """Insert a niche and return its id."""
    values = {"id": new_id(), "name": f"niche-{new_id()[:8]}", "order": 0}
    values.update(overrides)
    with db.write() as session:
        session.add(Niche(**values))
    return str(values["id"])


def make_profiles(db: Database, niche_id: str | None, count: int, prefix: str = "user") -> list[str]:
    """Insert `count` active profiles into a niche and return their ids."""
    tag = new_id()[:6]
    return seed_profiles(db, niche_id, [f"{prefix}_{tag}_{i}"[:30] for i in range(count)])
