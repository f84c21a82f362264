"""Graceful shutdown: SIGTERM while a batch runs with requests in flight.

The server must exit with code 0 within about five seconds and leave the database clean: no
item `in_flight` (answers that arrived were recorded, every other lease went back to
pending), counters equal to the items (I3), and nothing counted twice. Started again, it
finishes the batch: every item final, each profile checked exactly once, results as the
simulator's truth says.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchProfile
from storycheck.db import Database
from storycheck.profiles.models import Profile
from storycheck.simulator import FaultConfig
from storycheck.stories.models import StoryResult
from tests.helpers import wait_until
from tests.robustness.conftest import Api, ServerProcess, usernames

PROFILES = 240
SHUTDOWN_LIMIT = 6.0  # seconds from the signal to the exit (the pool waits at most 5 s)


def item_counts(database: Database, batch_id: str) -> dict[str, int]:
    with database.read() as session:
        rows = session.execute(
            select(BatchProfile.status, func.count())
            .where(BatchProfile.batch_id == batch_id)
            .group_by(BatchProfile.status)
        ).all()
    return {status: count for status, count in rows}


def assert_counted_once(database: Database) -> None:
    """Every completed item counted once on its profile, every detection stored once."""
    with database.snapshot() as session:
        assert check_invariants(session) == []
        completed = (
            session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(BatchProfile.status == "completed")
            )
            or 0
        )
        assert (session.scalar(select(func.max(Profile.total_checks))) or 0) <= 1
        assert (session.scalar(select(func.sum(Profile.total_checks))) or 0) == completed
        with_story = (
            session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(BatchProfile.status == "completed", BatchProfile.has_story.is_(True))
            )
            or 0
        )
        stories = session.scalar(select(func.count()).select_from(StoryResult)) or 0
        distinct = (
            session.scalar(select(func.count(func.distinct(StoryResult.batch_profile_id)))) or 0
        )
        detections = session.scalar(select(func.sum(Profile.total_detections))) or 0
        assert stories == distinct == with_story == detections


def start_running_batch(
    make_simulator: Any, make_fleet: Any, start_server: Any
) -> tuple[Any, ServerProcess, Api, str]:
    sim = make_simulator(sessions=4, faults=FaultConfig(latency_seconds=0.2))
    fleet = make_fleet(4)
    server = start_server(sim.base_url)
    api = server.api()
    for url, session in zip(fleet.urls, sim.session_ids, strict=True):
        api.add_pair(url, session)
    api.fast_settings()
    niche_id = api.create_niche("shutdown")
    assert api.import_usernames(niche_id, usernames(PROFILES, prefix="sd"))["created_count"] == (
        PROFILES
    )
    batch = api.ok("POST", "/api/batches", 201, json={"niche_id": niche_id, "all_profiles": True})
    assert batch["status"] == "in_progress"
    return sim, server, api, batch["id"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_a_running_batch_exits_cleanly_and_the_batch_finishes_after_restart(
    make_simulator: Any, make_fleet: Any, start_server: Any, tmp_path: Path, signum: int
) -> None:
    sim, server, api, batch_id = start_running_batch(make_simulator, make_fleet, start_server)

    # Wait until the engine is mid-batch: results recorded and requests in flight.
    def mid_batch() -> bool:
        batch = api.batch(batch_id, items_limit=0)
        return batch["completed_profiles"] >= 10 and batch["in_flight_profiles"] > 0

    wait_until(mid_batch, timeout=30, interval=0.05, what="the batch to be mid-way")
    api.close()
    code, seconds = server.terminate(timeout=30, signum=signum)
    assert code == 0, server.output()[-2000:].decode(errors="replace")
    assert seconds < SHUTDOWN_LIMIT, f"shutdown took {seconds:.1f}s"
    output = server.output().decode(errors="replace")
    assert "Traceback" not in output, output[-3000:]

    database = Database(server.database_url)
    try:
        counts = item_counts(database, batch_id)
        assert counts.get("in_flight", 0) == 0, f"items left in flight: {counts}"
        assert 0 < counts.get("completed", 0) + counts.get("failed", 0) < PROFILES, counts
        with database.read() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.status == "in_progress"
        assert_counted_once(database)
        database.dispose()

        # Started again, the server picks the batch up where it stopped.
        server.start()
        api = server.api()
        done = api.wait_batch_status(batch_id, "done", timeout=90)
        assert done["completed_profiles"] == done["total_profiles"] == PROFILES
        assert api.invariants() == {"ok": True, "violations": []}
        detail = api.batch(batch_id, items_limit=PROFILES)
        api.close()
        code, seconds = server.terminate(timeout=30)
        assert code == 0 and seconds < SHUTDOWN_LIMIT, (code, seconds)

        counts = item_counts(database, batch_id)
        assert set(counts) <= {"completed", "failed"}, counts
        assert_counted_once(database)
        with database.read() as session:
            checked = session.scalar(select(func.sum(Profile.total_checks))) or 0
        assert checked == counts.get("completed", 0)
        # What was recorded is what the simulator says (stories do not change during the test).
        wrong = []
        for item in detail["items"]:
            truth = sim.truth(item["username"])
            if not truth["exists"]:
                if item["status"] != "failed":
                    wrong.append((item["username"], "should have failed as not found"))
            elif item["status"] == "completed" and not truth["is_private"]:
                if item["has_story"] != truth["has_story"]:
                    wrong.append((item["username"], item["has_story"], truth["has_story"]))
        assert wrong == []
    finally:
        database.dispose()


@pytest.mark.slow
def test_sigterm_with_open_event_streams_exits_at_once(
    make_simulator: Any, start_server: Any
) -> None:
    """Live-update streams (up to 5 minutes each) must not hold the process after SIGTERM."""
    sim = make_simulator(sessions=1)
    server = start_server(sim.base_url)
    received: list[bytes] = []

    def listen() -> None:
        try:
            with httpx.stream("GET", server.base_url + "/api/events", timeout=60) as response:
                for chunk in response.iter_bytes():
                    received.append(chunk)
        except httpx.HTTPError:
            pass  # the server went away: expected

    listeners = [threading.Thread(target=listen, daemon=True) for _ in range(3)]
    for listener in listeners:
        listener.start()
    wait_until(lambda: len(received) >= 3, timeout=10, what="the event streams to open")
    code, seconds = server.terminate(timeout=30)
    assert code == 0
    assert seconds < SHUTDOWN_LIMIT, f"shutdown took {seconds:.1f}s"
    for listener in listeners:
        listener.join(timeout=10)
        assert not listener.is_alive()
