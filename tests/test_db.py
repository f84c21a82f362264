"""The database wrapper: SQLite housekeeping."""

from __future__ import annotations

from pathlib import Path

from storycheck.db import Database
from storycheck.niches.models import Niche


def test_the_wal_shrinks_after_a_checkpoint(sqlite_url: str) -> None:
    """Housekeeping truncates SQLite's write-ahead log (it grew without bound behind a
    stalled download before)."""
    db = Database(sqlite_url)
    try:
        with db.write() as session:
            for i in range(300):
                session.add(Niche(name=f"niche {i}"))
        wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
        assert wal.exists() and wal.stat().st_size > 0
        db.checkpoint()
        assert wal.stat().st_size == 0
    finally:
        db.dispose()
