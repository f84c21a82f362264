"""What do the waiting reason and the model ETA cost GET /api/batches with a big running batch?

Builds a fresh SQLite database (or uses --database-url) with one running batch of --profiles
accounts (half of them without a cached user id), a few pairs and --queued small queued batches,
then times the list endpoint through the Flask test client: the first request of each round
counts the running batch's open items (`batches/progress.py` read_work), the following ones
reuse that count for a while (`WORK_COST_FACTOR`). Prints one JSON line.

    PYTHONPATH=. .venv/bin/python bench/bench_batch_progress.py --profiles 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tests.factories import make_niche, make_profiles

from storycheck.app import create_app, shutdown
from storycheck.batches import progress
from storycheck.config import Config
from storycheck.db import new_id
from storycheck.proxies.models import IgSession, Proxy
from storycheck.testing import seed_profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
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
    names = [f"bench{i:07d}" for i in range(args.profiles)]
    known = names[::2]
    profiles = seed_profiles(
        db, niche, names, user_ids={n: str(i) for i, n in enumerate(known)},
        private=dict.fromkeys(known, False),
    )
    with db.write() as session:
        for i in range(args.pairs):
            proxy = Proxy(id=new_id(), ip="127.0.0.1", port=30000 + i, health="ready")
            session.add(proxy)
            session.flush()
            session.add(IgSession(session_encrypted="x", session_digest=new_id(),
                                  proxy_id=proxy.id))
    state.create_batch(niche_id=niche, profile_ids=profiles)
    small = make_profiles(db, niche, 10)
    for _ in range(args.queued):
        state.create_batch(niche_id=niche, profile_ids=small)

    client = app.test_client()
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(args.repeat):
        progress._work_cache.clear()
        for target in (cold, warm, warm, warm):
            t0 = time.perf_counter()
            response = client.get("/api/batches")
            target.append(time.perf_counter() - t0)
            assert response.status_code == 200
    running = next(b for b in response.json if b["status"] == "in_progress")
    shutdown(app)
    print(
        json.dumps(
            {
                "bench": "batch_progress",
                "running_profiles": args.profiles,
                "queued_batches": args.queued,
                "cold_median_s": round(statistics.median(cold), 3),
                "warm_median_s": round(statistics.median(warm), 3),
                "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 1),
                "eta_bound_by": running["eta_bound_by"],
            }
        )
    )


if __name__ == "__main__":
    main()
