"""The API's ETA comes from the pool model and matches a real engine run (issue 13).

A 2,000-profile batch, half of it new accounts (no cached user id: each needs a username
lookup, which has its own, smaller budget), runs against the simulator over real HTTP through
its proxies. Time is compressed (a 2-second "hour") on both sides. At 10 %, 50 % and 90 % of
the batch the API's `eta_seconds` is read; when the batch is done, each prediction is
compared with the time that really remained.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import update

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.db import utcnow
from storycheck.profiles.models import Profile
from storycheck.testing import batch_row
from tests.engine.conftest import SECRET_KEY, fast_options, limit_args

PAIRS = 8
WINDOW = 2.0
LOOKUPS_PER_WINDOW = 10  # per pair: 8 pairs × 5 lookups/s = 40 lookups/s
REQUESTS_PER_WINDOW = 40
PROFILES = 2000
MARKS = (0.10, 0.50, 0.90)
TOLERANCE = 0.25


def test_eta_at_10_50_90_percent_is_within_a_quarter_of_the_real_remaining_time(
    simulator: Any, rig: Any
) -> None:
    sim = simulator(
        PAIRS,
        *limit_args(lookups=f"{LOOKUPS_PER_WINDOW}/2s", stories=f"{REQUESTS_PER_WINDOW}/2s"),
    )
    engine = rig(
        sim,
        options=fast_options(window_seconds=WINDOW),
        proxy_hourly_limit=REQUESTS_PER_WINDOW,
        lookup_hourly_limit=LOOKUPS_PER_WINDOW,
    )
    names = sim.usernames(PROFILES)
    # Every other account was checked before: its user id and privacy are cached, or it is
    # known not to exist (skipped without a request). The others are new.
    known = names[::2]
    engine.add_profiles(names, user_ids=sim.known_ids(known), private=sim.known_privacy(known))
    missing = [n for n in known if not sim.truth(n, 0.0)["exists"]]
    with engine.db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.username.in_(missing))
            .values(not_found=True, not_found_at=utcnow())
        )
    app = create_app(
        Config(
            database_url=str(engine.db.url),
            engine_enabled=False,
            secret_key=SECRET_KEY,
            extra={"engine_window_seconds": str(WINDOW), "engine_partial_wait": "0.3"},
        )
    )
    client = app.test_client()
    try:
        batch_id = engine.create_batch()
        seen: dict[float, tuple[float, dict[str, Any]]] = {}
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            payload = client.get(f"/api/batches/{batch_id}?items_limit=0").get_json()
            if payload["status"] == "done":
                break
            share = payload["completed_profiles"] / payload["total_profiles"]
            for mark in MARKS:
                if share >= mark and mark not in seen and payload["eta_seconds"] is not None:
                    seen[mark] = (time.time(), payload)
            time.sleep(0.1)
        row = batch_row(engine.db, batch_id)
        assert row is not None and row.status == "done" and row.completed_at is not None
        finished = row.completed_at.timestamp()
    finally:
        shutdown(app)

    assert set(seen) == set(MARKS), sorted(seen)
    report = []
    for mark in MARKS:
        at, payload = seen[mark]
        actual = finished - at
        predicted = payload["eta_seconds"]
        report.append(
            f"{mark:.0%}: predicted {predicted}s {payload['eta_range_seconds']} "
            f"({payload['eta_bound_by']}), actual {actual:.1f}s"
        )
    print("\n".join(report))
    for mark in MARKS:
        at, payload = seen[mark]
        actual = finished - at
        # ±25 %, but never finer than one pacing window: budgets come back a window at a time,
        # so near the end (90 %: ~5 s left) one window of machine noise is not a model error.
        assert abs(payload["eta_seconds"] - actual) <= max(TOLERANCE * actual, WINDOW), report
