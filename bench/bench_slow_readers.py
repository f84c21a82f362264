"""API latency while slow clients hold event streams and downloads open (one run, ratios).

Starts `storycheck serve` (engine off) on a fresh SQLite file with 20,000 profiles, measures
GET latencies of three API calls, then opens 16 event streams and 16 profile CSV exports that
never read a byte and measures again.

    .venv/bin/python bench/bench_slow_readers.py [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "storycheck"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stalled(port: int, path: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def _latencies(api: httpx.Client, niche: str, requests: int) -> list[float]:
    paths = ["/api/niches", "/api/batches", f"/api/profiles?niche_id={niche}&page=3"]
    result = []
    for i in range(requests):
        started = time.perf_counter()
        api.get(paths[i % len(paths)]).raise_for_status()
        result.append((time.perf_counter() - started) * 1000)
    return result


def _summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORYCHECK_")}
        env.update(STORYCHECK_DATABASE_URL=f"sqlite:///{Path(tmp) / 'b.db'}",
                   STORYCHECK_PORT=str(port), STORYCHECK_ENGINE="0", STORYCHECK_ALERTS="0",
                   STORYCHECK_SECRET_KEY="bench")
        server = subprocess.Popen([str(BIN), "serve"], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=60) as api:
                for _ in range(300):
                    try:
                        if api.get("/api/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                niche = api.post("/api/niches", json={"name": "bench"}).json()["id"]
                names = "\n".join(f"slow_{i:06d}" for i in range(20_000)).encode()
                api.post(f"/api/profiles/niches/{niche}/import", content=names,
                         headers={"Content-Type": "text/plain"}).raise_for_status()
                calm = _latencies(api, niche, args.requests)
                held = [_stalled(port, "/api/events") for _ in range(16)]
                held += [_stalled(port, f"/api/profiles/export.csv?niche_id={niche}")
                         for _ in range(16)]
                time.sleep(8)  # the exports fill their 1 MiB buffers, then pause
                loaded = _latencies(api, niche, args.requests)
                for sock in held:
                    sock.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    (c50, c95), (l50, l95) = _summary(calm), _summary(loaded)
    print(f"{'':34} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'API, no slow readers':34} {c50:8.1f} {c95:8.1f}")
    print(f"{'API, 16 stalled SSE + 16 stalled CSV':34} {l50:8.1f} {l95:8.1f}")
    print(f"p95 ratio loaded/calm = {l95 / c95:.2f}")


if __name__ == "__main__":
    main()
