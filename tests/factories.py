"""Test factories: rows with sensible defaults and keyword overrides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from storycheck.db import Database, new_id, utcnow
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile, username_key
from storycheck.settings.models import SystemSettings


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
    now = utcnow()
    rows = []
    for i in range(count):
        name = f"{prefix}_{tag}_{i}"[:30]
        rows.append(
            {
                "id": new_id(),
                "username": name,
                "username_key": username_key(name),
                "url": f"https://instagram.com/{name}",
                "niche_id": niche_id,
                "status": "active",
                "active_story": False,
                "total_checks": 0,
                "total_detections": 0,
                "not_found": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.write() as session:
        if rows:
            session.execute(insert(Profile), rows)
    return [r["id"] for r in rows]


def set_settings(db: Database, **values: Any) -> None:
    """Create or update the settings row."""
    with db.write() as session:
        row = session.get(SystemSettings, 1)
        if row is None:
            row = SystemSettings(id=1)
            session.add(row)
        for key, value in values.items():
            setattr(row, key, value)
