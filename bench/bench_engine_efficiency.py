"""Efficiency: achieved checks/s ÷ the pool's ceiling, with 50 pairs and compressed limits.

ceiling = pairs × allowed requests/s per pair × ids per request. The simulator allows each
session (and each proxy address) `LIMIT` story queries per `WINDOW` seconds; the engine is
configured to the same budget and spreads a pair's requests evenly (min_request_interval =
WINDOW / LIMIT). Profiles exist and have cached user ids, so every request is a dense story query of 50
ids. After one window of warm-up, throughput is measured over `MEASURE` windows.

    .venv/bin/python bench/bench_engine_efficiency.py          (≈ 70 s)
"""

from __future__ import annotations

import argparse
import time

from bench_engine_common import (
    emit,
    limit_args,
    now,
    per_pair_rate,
    processed,
    say,
    seed_world,
    start_engine,
    temporary_database,
)

from storycheck.engine.options import EngineOptions
from storycheck.testing import SimulatorProcess, batch_row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--limit", type=int, default=5, help="story queries per window per pair")
    parser.add_argument("--window", type=float, default=10.0, help="seconds")
    parser.add_argument("--measure", type=int, default=4, help="windows measured")
    args = parser.parse_args()

    ids = 50
    rate_per_pair = args.limit / args.window
    ceiling = args.pairs * rate_per_pair * ids
    duration = args.window * (args.measure + 1)
    profiles = int(ceiling * (duration + 2 * args.window))
    sim = SimulatorProcess(args.pairs, limit_args(args.limit, args.window))
    try:
        with temporary_database() as db:
            say(f"seeding {profiles} resolved profiles, {args.pairs} pairs")
            niche, _ = seed_world(db, sim, profiles, resolved=True, existing_only=True)
            engine = start_engine(
                db,
                sim.base_url,
                EngineOptions(window_seconds=args.window, flush_interval=0.25),
                proxy_hourly_limit=args.limit,
                lookup_hourly_limit=args.limit,
                min_request_interval=args.window / args.limit,
                max_threads=args.pairs * 2,
                proxy_test_timeout=10,
            )
            try:
                batch = engine.state.create_batch(niche_id=niche, all_profiles=True)
                started = now()
                measure_from = started + args.window
                measure_to = measure_from + args.measure * args.window
                say(
                    f"running; measuring {measure_from - started:.0f}s … {measure_to - started:.0f}s"
                )
                time.sleep(max(0.0, measure_to + 1.0 - now()))
                engine.state.stop([batch.id])
                events = processed(db, batch.id)
                row = batch_row(db, batch.id)
            finally:
                engine.stop()
            rate = per_pair_rate(events, measure_from, measure_to)
            in_window = sum(1 for at, _ in events if measure_from <= at < measure_to)
            stats = sim.stats()
    finally:
        sim.stop()
    achieved = rate["checks_per_second"]
    emit(
        {
            "benchmark": "engine_efficiency",
            "pairs": args.pairs,
            "limit": f"{args.limit} story queries / {args.window:g}s per session and per address",
            "ids_per_request": ids,
            "ceiling_checks_per_second": round(ceiling, 1),
            "achieved_checks_per_second": round(achieved, 1),
            "efficiency": round(achieved / ceiling, 4),
            "items_in_window_per_second": round(in_window / (measure_to - measure_from), 1),
            "mean_ids_per_request": round(rate["mean_ids_per_request"], 2),
            "checked_profiles": row.completed_profiles if row else None,
            "limit_violations": stats["violations"]["count"],
            "rate_limited_answers": stats["total"]["rate_limited"],
            "target": ">= 0.95",
        }
    )


if __name__ == "__main__":
    main()
