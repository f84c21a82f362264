"""Benchmark the Instagram simulator: requests per second for reels_media with N ids.

Starts `python -m storycheck.simulator` (limits off, any session accepted) in a subprocess,
hammers it with concurrent aiohttp clients for a bounded time, and prints one JSON line::

    python bench/bench_simulator.py --duration 10 --concurrency 64 --ids 20

Use `--base-url` to measure a simulator that is already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from storycheck.simulator import INSTAGRAM_APP_ID, user_id_for

BENCH_DOC_ID = "1000000000000001"
Request = tuple[str, dict[str, str] | None]
"""A path and, for the dense POST form, its form fields."""


def build_requests(endpoint: str, ids_per_request: int, distinct: int) -> list[Request]:
    """Return requests cycling over `distinct` groups of user ids (or usernames)."""
    usernames = [f"user{index:05d}" for index in range(distinct * ids_per_request)]
    if endpoint == "profile":
        return [(f"/api/v1/users/web_profile_info/?username={name}", None) for name in usernames]
    groups = [
        [str(user_id_for(name)) for name in usernames[start : start + ids_per_request]]
        for start in range(0, len(usernames), ids_per_request)
    ]
    if endpoint == "graphql":
        return [
            (
                "/graphql/query",
                {
                    "doc_id": BENCH_DOC_ID,
                    "variables": json.dumps({"reel_ids": group}),
                    "server_timestamps": "true",
                },
            )
            for group in groups
        ]
    return [
        ("/api/v1/feed/reels_media/?" + urlencode([("reel_ids", i) for i in group]), None)
        for group in groups
    ]


async def hammer(
    base_url: str, requests: list[Request], concurrency: int, duration: float
) -> dict[str, int]:
    """Send requests from `concurrency` workers until `duration` elapses; count the answers."""
    counts = {"requests": 0, "ok": 0, "errors": 0, "stories_seen": 0}
    deadline = time.monotonic() + duration
    headers = {"X-IG-App-ID": INSTAGRAM_APP_ID, "Cookie": "sessionid=bench"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base_url, connector=connector, headers=headers) as session:

        async def worker(offset: int) -> None:
            index = offset
            while time.monotonic() < deadline:
                path, form = requests[index % len(requests)]
                index += 1
                try:
                    sent = session.get(path) if form is None else session.post(path, data=form)
                    async with sent as response:
                        body = await response.read()
                        counts["requests"] += 1
                        if response.status == 200:
                            counts["ok"] += 1
                            # v1 lists each reel twice: in `reels` and in `reels_media`.
                            seen = body.count(b'"latest_reel_media"')
                            counts["stories_seen"] += seen // 2 if b'"reels":' in body else seen
                        else:
                            counts["errors"] += 1
                except aiohttp.ClientError:
                    counts["requests"] += 1
                    counts["errors"] += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return counts


def client_process(
    base_url: str, requests: list[Request], concurrency: int, duration: float
) -> dict[str, int]:
    """Run one client process's share of the load."""
    return asyncio.run(hammer(base_url, requests, concurrency, duration))


def start_simulator(seed: int) -> tuple[subprocess.Popen[str], str]:
    """Start the simulator subprocess (limits off, any session) and return it with its base URL."""
    command = [
        sys.executable,
        "-m",
        "storycheck.simulator",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--no-limits",
        "--accept-any-session",
        "--sessions",
        "0",
        "--doc-id",
        BENCH_DOC_ID,
        "--json",
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the simulator did not start")
    return process, json.loads(line)["base_url"]


def main() -> None:
    """Parse arguments, run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unmeasured load first"
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="requests in flight per client process"
    )
    parser.add_argument("--client-procs", type=int, default=1, help="client processes (default 1)")
    parser.add_argument("--ids", type=int, default=20, help="reel ids per request (default 20)")
    parser.add_argument("--endpoint", choices=["reels", "graphql", "profile"], default="reels")
    parser.add_argument("--distinct", type=int, default=50, help="distinct id groups to cycle over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-url", help="measure an already running simulator instead")
    args = parser.parse_args()

    paths = build_requests(args.endpoint, args.ids, args.distinct)
    process = None
    base_url = args.base_url
    if base_url is None:
        process, base_url = start_simulator(args.seed)
    try:
        if args.warmup > 0:
            client_process(base_url, paths, args.concurrency, args.warmup)
        started = time.monotonic()
        if args.client_procs == 1:
            results = [client_process(base_url, paths, args.concurrency, args.duration)]
        else:
            with multiprocessing.get_context("spawn").Pool(args.client_procs) as pool:
                job = (base_url, paths, args.concurrency, args.duration)
                results = pool.starmap(client_process, [job] * args.client_procs)
        elapsed = time.monotonic() - started
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
    totals: dict[str, Any] = {key: sum(result[key] for result in results) for key in results[0]}
    report = {
        "benchmark": "simulator",
        "endpoint": args.endpoint,
        "ids_per_request": args.ids if args.endpoint != "profile" else 1,
        "concurrency": args.concurrency,
        "client_procs": args.client_procs,
        "duration_s": round(elapsed, 2),
        **totals,
        "requests_per_s": round(totals["requests"] / elapsed, 1),
        "ok_per_s": round(totals["ok"] / elapsed, 1),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
