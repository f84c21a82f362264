"""The live-story CSV export streams in constant memory: 100,000 rows cost no more than 10,000."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import insert

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.db import Database, new_id, utcnow
from storycheck.profiles.models import Profile, username_key
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_niche


def _add_live_profiles(db: Database, niche_id: str, start: int, count: int) -> None:
    now = utcnow()
    rows = []
    for index in range(start, start + count):
        name = f"live_{index:07d}"
        rows.append(
            {
                "id": new_id(),
                "username": name,
                "username_key": username_key(name),
                "url": f"https://instagram.com/{name}",
                "niche_id": niche_id,
                "status": "active",
                "active_story": True,
                "total_checks": 1,
                "total_detections": 1,
                "not_found": False,
                "last_checked": now,
                "story_posted_at": now - timedelta(seconds=index % 80_000),
                "story_first_posted_at": now - timedelta(seconds=index % 80_000 + 60),
                "story_expires_at": now + timedelta(hours=2, seconds=index % 5_000),
                "story_item_count": 1 + index % 4,
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.write() as session:
        for offset in range(0, len(rows), 5000):
            session.execute(insert(Profile), rows[offset : offset + 5000])


def _export_peak(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(lines received, peak traced memory growth in bytes) of one streamed download."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        response = client.get("/api/stories/live.csv", buffered=False)
        assert response.status_code == 200
        lines = 0
        for chunk in response.response:
            lines += chunk.count(b"\n")  # drop each chunk at once, as a socket would
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak - baseline


@pytest.mark.slow
def test_csv_export_of_100000_live_rows_streams_in_constant_memory(sqlite_url):
    app = create_app(
        Config(database_url=sqlite_url, engine_enabled=False, secret_key=TEST_SECRET_KEY),
        start_background=False,
    )
    try:
        db = app.extensions["storycheck"].db
        client = app.test_client()
        niche_id = make_niche(db, name="big")
        _add_live_profiles(db, niche_id, 0, 10_000)
        small_lines, small_peak = _export_peak(client)
        _add_live_profiles(db, niche_id, 10_000, 90_000)
        large_lines, large_peak = _export_peak(client)
    finally:
        shutdown(app)

    assert (small_lines, large_lines) == (10_001, 100_001)  # header + every row
    # Ten times the rows, about the same peak: memory is one chunk, not the result.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)
