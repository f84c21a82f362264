"""Baseline: the same pool and simulator driven the way the original did it, against the engine.

The original checked one profile at a time: a username lookup, then a v1 reels_media query
for that one id, then a 1-second pause, rotating through the proxies (original-contract
§7.2, §8.1). Here that loop runs with the engine's own `InstagramClient` (one client per
pair, reused — kinder than the original, which built a new session per check). Then the
engine runs on the same simulator, limits and pairs: first on profiles it has never seen
(each needs a lookup), then on profiles whose user ids are cached (dense story queries).
The simulator's windows are cleared between phases.

    .venv/bin/python bench/bench_engine_baseline.py            (≈ 90 s)
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench_engine_common import (
    emit,
    limit_args,
    processed,
    say,
    seed_world,
    start_engine,
    temporary_database,
)

from storycheck.engine.client import InstagramClient, PairIdentity, proxy_url
from storycheck.engine.errors import IgError
from storycheck.engine.options import EngineOptions
from storycheck.testing import SimulatorProcess


async def original_loop(
    sim: SimulatorProcess, usernames: list[str], duration: float
) -> dict[str, float]:
    """One profile at a time: lookup, one-id story query, 1 s pause, next proxy."""
    clients = [
        InstagramClient(
            PairIdentity(
                proxy_id=str(i),
                session_id=str(i),
                label=f"pair {i}",
                proxy_url=proxy_url(
                    spec.scheme, spec.host, spec.port, spec.username, spec.password
                ),
                sessionid=cookie,
            ),
            base_url=sim.base_url,
        )
        for i, (spec, cookie) in enumerate(zip(sim.proxies, sim.sessions, strict=True))
    ]
    checks = errors = requests = 0
    started = time.perf_counter()
    try:
        for index, username in enumerate(usernames):
            if time.perf_counter() - started >= duration:
                break
            client = clients[index % len(clients)]
            try:
                requests += 1
                user = await client.resolve(username)
                requests += 1
                await client.stories([user.user_id])
                checks += 1
            except IgError:
                errors += 1
            await asyncio.sleep(1.0)
    finally:
        for client in clients:
            await client.aclose()
    elapsed = time.perf_counter() - started
    return {"checks": checks, "errors": errors, "requests": requests, "seconds": elapsed}


def engine_phase(
    db, sim, niche: str, duration: float, window: float, settings: dict
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    engine = start_engine(
        db, sim.base_url, EngineOptions(window_seconds=window, flush_interval=0.25), **settings
    )
    try:
        batch = engine.state.create_batch(niche_id=niche, all_profiles=True)
        started = time.time()
        time.sleep(duration + window)
        engine.state.stop([batch.id])
    finally:
        engine.stop()
    events = processed(db, batch.id)
    measured = [at for at, _ in events if started + window <= at < started + window + duration]
    return {
        "checks": len(measured),
        "seconds": duration,
        "checks_per_second": len(measured) / duration,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument(
        "--limit", type=int, default=5, help="requests of each kind per window per pair"
    )
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    args = parser.parse_args()

    sim = SimulatorProcess(args.pairs, limit_args(args.limit, args.window))
    settings = {
        "proxy_hourly_limit": args.limit,
        "lookup_hourly_limit": args.limit,
        "min_request_interval": args.window / args.limit,
        "max_threads": args.pairs * 2,
        "proxy_test_timeout": 10,
    }
    try:
        say(f"original loop for {args.duration:.0f}s")
        baseline = asyncio.run(
            original_loop(sim, sim.usernames(1000, prefix="orig"), args.duration)
        )
        baseline["checks_per_second"] = baseline["checks"] / baseline["seconds"]
        with temporary_database() as db:
            per_phase = int(
                args.limit / args.window * args.pairs * 50 * (args.duration + 3 * args.window)
            )
            first_niche, _ = seed_world(db, sim, 5000, resolved=False, prefix="new")
            cached_niche, _ = seed_world(db, sim, per_phase, resolved=True, existing_only=True)
            sim.reset()
            say("engine on never-seen profiles (lookups first)")
            fresh = engine_phase(db, sim, first_niche, args.duration, args.window, settings)
            sim.reset()
            say("engine on profiles with cached user ids")
            cached = engine_phase(db, sim, cached_niche, args.duration, args.window, settings)
            violations = sim.stats()["violations"]["count"]
    finally:
        sim.stop()
    base_rate = baseline["checks_per_second"]
    emit(
        {
            "benchmark": "engine_vs_original_loop",
            "pairs": args.pairs,
            "limits": f"{args.limit} lookups and {args.limit} story queries / {args.window:g}s per pair",
            "original_loop": {k: round(v, 2) for k, v in baseline.items()},
            "engine_unseen_profiles": {k: round(v, 2) for k, v in fresh.items()},
            "engine_cached_ids": {k: round(v, 2) for k, v in cached.items()},
            "ratio_unseen_profiles": round(fresh["checks_per_second"] / base_rate, 1),
            "ratio_cached_ids": round(cached["checks_per_second"] / base_rate, 1),
            "engine_limit_violations_last_phase": violations,
        }
    )


if __name__ == "__main__":
    main()
