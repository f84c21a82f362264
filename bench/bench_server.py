"""Werkzeug's threaded development server against waitress, serving the same app in one run.

For each server: API latency with 8 concurrent clients, then the same while 32 "slowloris"
connections hold half-sent requests, and how many of those half-sent connections the server
still holds open after `--hold` seconds. Ratios within one run; the machine is shared.

    .venv/bin/python bench/bench_server.py [--requests 400] [--hold 5]
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from storycheck.app import create_app, shutdown
from storycheck.config import Config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _werkzeug(app: Any, port: int) -> tuple[Callable[[], None], Callable[[], None]]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    return server.serve_forever, server.shutdown


def _waitress(app: Any, port: int) -> tuple[Callable[[], None], Callable[[], None]]:
    from waitress.server import create_server

    server: Any = create_server(
        app, host="127.0.0.1", port=port, threads=48, connection_limit=200, channel_timeout=3,
        cleanup_interval=1,
    )
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.2, map=server._map, count=5)

    def close() -> None:
        stop.set()
        time.sleep(0.5)
        server.close()

    return run, close


def _latencies(url: str, requests: int) -> list[float]:
    def one(_: int) -> float:
        started = time.perf_counter()
        httpx.get(url, timeout=30).raise_for_status()
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(requests)))


def _slowloris(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /api/niches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        sockets.append(sock)
    return sockets


def _still_open(sockets: list[socket.socket]) -> int:
    open_count = 0
    for sock in sockets:
        sock.settimeout(0.05)
        try:
            data = sock.recv(1)
            open_count += 0 if data == b"" else 1
        except TimeoutError:
            open_count += 1
        except OSError:
            pass
    return open_count


def measure(name: str, factory: Any, app: Any, requests: int, hold: float) -> dict[str, float]:
    port = _free_port()
    run, close = factory(app, port)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/api/niches"
    time.sleep(0.5)
    calm = _latencies(url, requests)
    loris = _slowloris(port, 32)
    loaded = _latencies(url, requests)
    time.sleep(hold)
    held = _still_open(loris)
    for sock in loris:
        sock.close()
    close()
    p95 = statistics.quantiles(calm, n=20)[18]
    p95_loaded = statistics.quantiles(loaded, n=20)[18]
    return {"p50": statistics.median(calm), "p95": p95, "p95_slowloris": p95_loaded,
            "half_sent_open_after_hold": held}


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--hold", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", engine_enabled=False,
                        secret_key="bench")
        app = create_app(config, start_background=False)
        client = app.test_client()
        for i in range(20):
            client.post("/api/niches", json={"name": f"niche {i}"})
        results = {name: measure(name, factory, app, args.requests, args.hold)
                   for name, factory in (("werkzeug", _werkzeug), ("waitress", _waitress))}
        shutdown(app)
    print(f"{'server':10} {'p50 ms':>8} {'p95 ms':>8} {'p95 ms, 32 slowloris':>22} "
          f"{'half-sent open after hold':>27}")
    for name, r in results.items():
        print(f"{name:10} {r['p50']:8.1f} {r['p95']:8.1f} {r['p95_slowloris']:22.1f} "
              f"{int(r['half_sent_open_after_hold']):27d}")
    ratio = results["waitress"]["p50"] / results["werkzeug"]["p50"]
    print(f"waitress p50 / werkzeug p50 = {ratio:.2f}")


if __name__ == "__main__":
    main()
