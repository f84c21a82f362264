"""Crash safety: kill -9 the engine process at random moments; nothing is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryResult
from storycheck.testing import (
    batch_row,
    seed_niche,
    seed_pairs,
    seed_profiles,
    set_settings,
    wait_until,
)
from tests.engine.conftest import SECRET_KEY, limit_args
from tests.engine.test_engine_sim import assert_matches_truth
from tests.helpers import free_port

KILLS = 10


def command(kind: str) -> list[str]:
    """The real server (`storycheck serve`), or the engine alone as a server runs it."""
    if kind == "serve":
        return [sys.executable, "-m", "storycheck.cli", "serve", "--port", str(free_port())]
    return [
        sys.executable,
        "-m",
        "storycheck.engine.run_standalone",
        "--until-idle",
        "--interval",
        "0.5",
    ]


def engine_env(db: Database, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "STORYCHECK_DATABASE_URL": str(db.url),
        "STORYCHECK_INSTAGRAM_URL": base_url,
        "STORYCHECK_SECRET_KEY": SECRET_KEY,
        "STORYCHECK_ENGINE_WINDOW_SECONDS": "2",
        "STORYCHECK_ENGINE_FLUSH_INTERVAL": "0.1",
        "STORYCHECK_ENGINE_REFRESH_INTERVAL": "0.3",
        "STORYCHECK_ENGINE_PARTIAL_WAIT": "0.3",
        "STORYCHECK_ENGINE_RECHECK_INTERVAL": "0.3",
        "STORYCHECK_ENGINE_LEASE_SECONDS": "30",
        "STORYCHECK_RECONCILE_INTERVAL": "0.5",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serve", "standalone"])
def test_kill_minus_nine_at_random_moments_loses_and_doubles_nothing(
    kind: str, simulator: Any, engine_db: Database, secrets: Any
) -> None:
    seed = int(os.environ.get("STORYCHECK_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    sim = simulator(6, *limit_args(lookups="20/2s", stories="20/2s"))
    set_settings(
        engine_db,
        min_request_interval=0.0,
        max_threads=32,
        proxy_hourly_limit=20,
        lookup_hourly_limit=20,
        proxy_test_timeout=3,
    )
    seed_pairs(engine_db, secrets, sim.proxies, sim.sessions)
    niche = seed_niche(engine_db)
    names = sim.usernames(1500)
    # A third already resolved (story queries only), the rest needs lookups first.
    resolved = {n: t["user_id"] for n in names[:500] if (t := sim.truth(n, 0.0))["exists"]}
    seed_profiles(
        engine_db, niche, names[:500], user_ids=resolved, private=sim.known_privacy(names[:500])
    )
    seed_profiles(engine_db, niche, names[500:])
    batch_id = BatchStateManager(engine_db).create_batch(niche_id=niche, all_profiles=True).id
    env = engine_env(engine_db, sim.base_url)

    def done() -> bool:
        row = batch_row(engine_db, batch_id)
        return row is not None and row.status == "done"

    kills = 0
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not done():
        process = subprocess.Popen(
            command(kind), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            if kills < KILLS:
                try:
                    process.wait(timeout=rng.uniform(0.8, 3.5))
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=10)
                    kills += 1
                    continue
            elif kind == "serve":
                wait_until(done, timeout=max(1.0, deadline - time.monotonic()), what="batch done")
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
            else:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            assert process.stderr is not None
            errors = process.stderr.read().decode()
            assert process.returncode == 0, errors[-2000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()

    row = batch_row(engine_db, batch_id)
    assert row is not None and row.status == "done", (
        f"seed {seed}: batch {row and row.status} after {kills} kills"
    )
    assert kills == KILLS, f"seed {seed}: the batch finished before all kills"
    with engine_db.read() as session:
        assert check_invariants(session) == [], f"seed {seed}"
        # No profile counted twice, none lost.
        completed = session.scalar(
            select(func.count()).select_from(BatchProfile).where(BatchProfile.status == "completed")
        )
        assert session.scalar(select(func.max(Profile.total_checks))) == 1
        assert session.scalar(select(func.sum(Profile.total_checks))) == completed
        with_story = session.scalar(
            select(func.count()).select_from(BatchProfile).where(BatchProfile.has_story.is_(True))
        )
        stories = session.scalar(select(func.count()).select_from(StoryResult))
        distinct = session.scalar(select(func.count(func.distinct(StoryResult.batch_profile_id))))
        assert (
            stories
            == distinct
            == with_story
            == session.scalar(select(func.sum(Profile.total_detections)))
        )
        assert row.completed_profiles == row.total_profiles == 1500
    # Pacing survived every restart: not one request over a limit.
    violations = sim.stats()["violations"]
    assert violations["count"] == 0, (seed, violations["samples"][:3])

    from tests.engine.conftest import Rig

    view = Rig(engine_db, secrets, None, None, None, niche)  # type: ignore[arg-type]
    assert_matches_truth(view, sim, batch_id)
