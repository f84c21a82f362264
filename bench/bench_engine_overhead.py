"""Overhead: how many checks/s the engine itself sustains when Instagram never says no.

The simulator runs with every limit off; the engine's pacing is opened up (huge hourly
limits, no minimum interval) so the only limits left are the engine's own work: claiming,
HTTP through 50 local proxies, classification and exactly-once recording in SQLite.
Profiles have cached user ids (dense story queries of 50 ids).

    .venv/bin/python bench/bench_engine_overhead.py            (≈ 40 s)
"""

from __future__ import annotations

import argparse
import time

from bench_engine_common import (
    emit,
    processed,
    say,
    seed_world,
    start_engine,
    temporary_database,
    wait_done,
)

from storycheck.engine.options import EngineOptions
from storycheck.testing import SimulatorProcess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--profiles", type=int, default=80_000)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()

    sim = SimulatorProcess(args.pairs, ["--no-limits"])
    try:
        with temporary_database() as db:
            say(f"seeding {args.profiles} resolved profiles, {args.pairs} pairs")
            niche, _ = seed_world(db, sim, args.profiles, resolved=True, existing_only=True)
            engine = start_engine(
                db,
                sim.base_url,
                EngineOptions(),
                proxy_hourly_limit=10**6,
                lookup_hourly_limit=10**6,
                min_request_interval=0.0,
                max_threads=args.threads,
                proxy_test_timeout=10,
            )
            try:
                started = time.perf_counter()
                cpu = time.process_time()
                batch = engine.state.create_batch(niche_id=niche, all_profiles=True)
                created = time.perf_counter()
                wait_done(db, batch.id, timeout=150)
                finished = time.perf_counter()
                cpu = time.process_time() - cpu
            finally:
                engine.stop()
            events = processed(db, batch.id)
            stats = sim.stats()
    finally:
        sim.stop()
    times = sorted(at for at, _ in events)
    active = times[-1] - times[0]
    emit(
        {
            "benchmark": "engine_overhead",
            "pairs": args.pairs,
            "max_threads": args.threads,
            "profiles": len(events),
            "story_requests": stats["total"]["by_endpoint"].get("graphql_reels_media", 0),
            "checks_per_second": round(len(events) / active, 1),
            "checks_per_second_including_batch_creation": round(
                len(events) / (finished - started), 1
            ),
            "batch_creation_seconds": round(created - started, 2),
            "first_to_last_answer_seconds": round(active, 2),
            "engine_process_cpu_seconds": round(cpu, 2),
            "target": ">= 3000 checks/s with SQLite",
        }
    )


if __name__ == "__main__":
    main()
