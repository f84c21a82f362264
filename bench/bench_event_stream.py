"""Server CPU of the live-event stream: 20 browsers on `GET /api/events` during a running batch.

A real `storycheck serve` (in-process engine, fresh SQLite file) checks a batch of 8,000
profiles against the simulator through its local proxy fleet, with the distributed tests'
compressed pacing (10 lookups and 10 story requests per 2 s per pair, 6 pairs: ~25 checks/s),
so the batch runs for minutes and emits a `batch` event every tick plus `story_detected`
events; each round records whether the batch was still running at its end.
The server process's CPU time (user + system, all threads) is measured over intervals of the
same length with 0 stream clients and with N clients that read their streams continuously;
the difference is what the streams cost, as a share of one core. With 0 clients the event
hub's thread is not running at all, so the difference includes the shared tick as well as
the per-client fan-out. The pair is repeated (alternating which comes first) and the median
printed; the machine is shared, so only the ratio within one run means anything.

    PYTHONPATH=. .venv/bin/python bench/bench_event_stream.py            (≈ 2 min)
    PYTHONPATH=. .venv/bin/python bench/bench_event_stream.py --clients 5,30 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.distributed.conftest import ENGINE_ENV, SETTINGS, Server, Simulator, storycheck_command
from tests.helpers import free_port

from storycheck.testing import SimulatorProcess


def say(message: str) -> None:
    """Progress on stderr (stdout carries the JSON result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class StreamClient(threading.Thread):
    """One browser: reads `/api/events` continuously and counts the events it receives."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.events = 0
        self.failure: str | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(base_url=self.base_url, timeout=30.0, trust_env=False) as http,
                http.stream("GET", "/api/events") as response,
            ):
                if response.status_code != 200:
                    self.failure = f"HTTP {response.status_code}"
                    return
                self.connected.set()
                for line in response.iter_lines():
                    if line.startswith("event:") and not line.endswith(" ping"):
                        self.events += 1
                    if self.stop.is_set():
                        return
        except Exception as exc:  # reported in the result, not raised from a thread
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected.set()


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU time of the process (all its threads)."""
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(
    server: Server, process: psutil.Process, clients: int, seconds: float
) -> dict[str, Any]:
    """CPU share of one core over `seconds` with `clients` streams open and read."""
    readers = [StreamClient(server.base_url) for _ in range(clients)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.connected.wait(30)
    time.sleep(2.0)  # the initial snapshot is sent and the hub ticks steadily
    before = [reader.events for reader in readers]
    cpu0, wall0 = cpu_seconds(process), time.monotonic()
    time.sleep(seconds)
    cpu1, wall1 = cpu_seconds(process), time.monotonic()
    received = [reader.events - start for reader, start in zip(readers, before, strict=True)]
    for reader in readers:
        reader.stop.set()
    for reader in readers:
        reader.join(10)
    failures = [reader.failure for reader in readers if reader.failure]
    time.sleep(3.0)  # the server notices a closed stream at its next write; the hub stops
    return {
        "clients": clients,
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
        "events_per_client": statistics.median(received) if received else 0,
        "failures": failures,
    }


def start_server(workdir: Path, sim: SimulatorProcess) -> Server:
    """`storycheck serve` with the in-process engine on a fresh SQLite file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORYCHECK_") and k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")
    }
    env.update(ENGINE_ENV)
    port = free_port()
    env.update(
        STORYCHECK_DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        STORYCHECK_INSTAGRAM_URL=sim.base_url,
        STORYCHECK_SECRET_KEY="bench-event-stream",
        STORYCHECK_HOST="127.0.0.1",
        STORYCHECK_PORT=str(port),
        STORYCHECK_ALERTS="0",
        PYTHONUNBUFFERED="1",
    )
    server = Server("server", storycheck_command("serve"), env, workdir, port=port)
    return server.start().wait_healthy(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=8000)
    parser.add_argument("--clients", default="20", help="comma-separated stream counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each interval")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]

    result: dict[str, Any] = {"profiles": args.profiles, "seconds": args.seconds, "by_clients": {}}
    sim = Simulator()
    with tempfile.TemporaryDirectory(prefix="storycheck-events-") as tmp:
        server = start_server(Path(tmp), sim)
        try:
            server.call("PUT", "/api/settings", json=SETTINGS)
            for spec, session in zip(sim.proxies, sim.sessions, strict=True):
                auth = f"{spec.username}:{spec.password}@" if spec.username else ""
                url = f"{spec.scheme}://{auth}{spec.host}:{spec.port}"
                server.call("POST", "/api/proxies", 201, json={"url": url, "session": session})
            batch_id = server.create_batch(SimulatorProcess.usernames(args.profiles))
            server.wait_status(batch_id, "in_progress", timeout=60)
            process = psutil.Process(server.pid)
            time.sleep(3.0)  # the engine reaches its steady pace
            for clients in counts:
                rounds = []
                for n in range(args.rounds):
                    order = [0, clients] if n % 2 == 0 else [clients, 0]
                    pair = {c: measure(server, process, c, args.seconds) for c in order}
                    extra = pair[clients]["cpu_share"] - pair[0]["cpu_share"]
                    say(
                        f"{clients} clients #{n + 1}: {pair[clients]['cpu_share']:.1%} vs "
                        f"0 clients {pair[0]['cpu_share']:.1%} → streams {extra:.1%} of a core, "
                        f"{pair[clients]['events_per_client']} events per client"
                    )
                    rounds.append(
                        {
                            "baseline_share": round(pair[0]["cpu_share"], 4),
                            "with_clients_share": round(pair[clients]["cpu_share"], 4),
                            "stream_share": round(extra, 4),
                            "events_per_client": pair[clients]["events_per_client"],
                            "failures": pair[clients]["failures"],
                            "batch_running": server.batch(batch_id)["status"] == "in_progress",
                        }
                    )
                result["by_clients"][str(clients)] = {
                    "rounds": rounds,
                    "median_stream_share": statistics.median(r["stream_share"] for r in rounds),
                    "median_baseline_share": statistics.median(
                        r["baseline_share"] for r in rounds
                    ),
                    "median_events_per_client": statistics.median(
                        r["events_per_client"] for r in rounds
                    ),
                }
            batch = server.batch(batch_id)
            result["batch_still_running"] = batch["status"] == "in_progress"
            result["batch_completed_profiles"] = batch["completed_profiles"]
        finally:
            server.terminate()
            if server.http is not None:
                server.http.close()
            sim.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
