"""How fast is GET /api/batches with many big batches? (1,000 batches × 1,000 profiles.)

Builds a fresh SQLite database (or uses --database-url), creates the batches through the state
manager, marks a share of items as finished with stories, then times the list endpoint through
the Flask test client. Prints one JSON line.

    PYTHONPATH=. .venv/bin/python bench/bench_batch_list.py --batches 1000 --profiles 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import update
from tests.factories import make_niche, make_profiles

from storycheck.app import create_app, shutdown
from storycheck.batches.models import STORY_PREVIEW_LIMIT, Batch, BatchProfile
from storycheck.config import Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--story-share", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app(
        Config(database_url=url, engine_enabled=False, secret_key="bench"), start_background=False
    )
    services = app.extensions["storycheck"]
    db, state = services.db, services.state
    niche = make_niche(db, name="bench")
    profiles = make_profiles(db, niche, args.profiles)

    started = time.perf_counter()
    for _ in range(args.batches):
        state.create_batch(niche_id=niche, profile_ids=profiles)
    create_seconds = time.perf_counter() - started

    with db.write() as session:
        stories = int(args.profiles * args.story_share)
        chosen = profiles[:stories]
        session.execute(
            update(BatchProfile)
            .where(BatchProfile.profile_id.in_(chosen))
            .values(status="completed", has_story=True)
        )
        names = json.dumps([f"user_{i}" for i in range(min(stories, STORY_PREVIEW_LIMIT))])
        session.execute(
            update(Batch).values(
                completed_profiles=stories, successful_checks=stories, story_preview=names
            )
        )

    client = app.test_client()
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        response = client.get("/api/batches")
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 200 and len(response.json) == args.batches
    shutdown(app)
    print(
        json.dumps(
            {
                "bench": "batch_list",
                "batches": args.batches,
                "profiles_per_batch": args.profiles,
                "create_batches_seconds": round(create_seconds, 2),
                "list_median_seconds": round(statistics.median(timings), 3),
                "list_min_seconds": round(min(timings), 3),
                "response_bytes": len(response.data),
            }
        )
    )


if __name__ == "__main__":
    main()
