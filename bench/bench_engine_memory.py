"""Memory: peak RSS of the engine process while it runs one 200,000-profile batch.

The batch is created first (as the API would), then the engine runs in its own process
(`python -m storycheck.engine.run_standalone --until-idle`) whose resident set size is sampled
every 100 ms until the batch is done. 95% of the profiles have cached user ids (story
queries); the other 5% do not exist and cost a lookup each (they end `failed: not_found`).
The simulator runs without limits so the run stays short.

    .venv/bin/python bench/bench_engine_memory.py              (≈ 90 s)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import psutil
from bench_engine_common import (
    SECRET_KEY,
    emit,
    say,
    seed_world,
    set_settings,
    temporary_database,
)

from storycheck.batches.state import BatchStateManager
from storycheck.testing import SimulatorProcess, batch_row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--profiles", type=int, default=200_000)
    args = parser.parse_args()

    sim = SimulatorProcess(args.pairs, ["--no-limits"])
    try:
        with temporary_database() as db:
            say(f"seeding {args.profiles} profiles and creating the batch")
            niche, _ = seed_world(db, sim, args.profiles, resolved=True)
            set_settings(
                db,
                proxy_hourly_limit=10**6,
                lookup_hourly_limit=10**6,
                min_request_interval=0.0,
                max_threads=64,
                proxy_test_timeout=10,
            )
            batch = BatchStateManager(db).create_batch(niche_id=niche, all_profiles=True)
            env = {
                **os.environ,
                "STORYCHECK_DATABASE_URL": str(db.url),
                "STORYCHECK_INSTAGRAM_URL": sim.base_url,
                "STORYCHECK_SECRET_KEY": SECRET_KEY,
            }
            say("running the engine process")
            started = time.perf_counter()
            engine = subprocess.Popen(
                [sys.executable, "-m", "storycheck.engine.run_standalone", "--until-idle"],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            process = psutil.Process(engine.pid)
            assert engine.stdout is not None
            engine.stdout.readline()  # "engine ready"
            ready_rss = process.memory_info().rss
            peak = ready_rss
            samples = 0
            while engine.poll() is None:
                try:
                    peak = max(peak, process.memory_info().rss)
                    samples += 1
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            engine.stdout.close()
            row = batch_row(db, batch.id)
    finally:
        sim.stop()
    mib = 1024 * 1024
    emit(
        {
            "benchmark": "engine_memory",
            "profiles": args.profiles,
            "pairs": args.pairs,
            "batch_status": row.status if row else None,
            "checked": row.completed_profiles if row else None,
            "not_found": row.failed_checks if row else None,
            "engine_seconds": round(elapsed, 1),
            "rss_after_start_mib": round(ready_rss / mib, 1),
            "peak_rss_mib": round(peak / mib, 1),
            "rss_samples": samples,
            "target": "<= 300 MiB",
        }
    )


if __name__ == "__main__":
    main()
