"""Slow readers cannot starve the API (issue 15): stalled event streams and downloads hold no
pooled database connection while they wait on their client.

16 event streams and 16 CSV downloads that never read a byte stay open (4 downloads run, the
others are told to retry: each stalled download generates megabytes before it pauses) while
the API answers every call (it answered 500 "QueuePool limit … reached" after 30 s before). Latency under the
same load is measured in bench/bench_slow_readers.py, not asserted here.
"""

from __future__ import annotations

import socket

import httpx

from tests.helpers import wait_until
from tests.robustness.conftest import ServerProcess

NO_INSTAGRAM = "http://127.0.0.1:9"


def stalled(server: ServerProcess, path: str) -> socket.socket:
    """Send a GET and never read the answer (a tiny receive buffer makes it back up fast)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def seed(server: ServerProcess, profiles: int) -> str:
    niche = httpx.post(server.base_url + "/api/niches", json={"name": "slow"}).json()["id"]
    names = "\n".join(f"slow_reader_{i:06d}" for i in range(profiles)).encode()
    response = httpx.post(
        f"{server.base_url}/api/profiles/niches/{niche}/import",
        content=names,
        headers={"Content-Type": "text/plain"},
        timeout=120,
    )
    assert response.status_code == 201, response.text[:200]
    return niche


def test_stalled_streams_and_downloads_do_not_starve_the_api(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(NO_INSTAGRAM, extra_env={"STORYCHECK_ENGINE": "0"})
    niche = seed(server, 20_000)
    sockets = [stalled(server, "/api/events") for _ in range(16)]
    sockets += [stalled(server, f"/api/profiles/export.csv?niche_id={niche}") for _ in range(16)]
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as api:
            statuses = [api.get("/api/niches").status_code for _ in range(40)]
            statuses += [api.get("/api/batches").status_code for _ in range(20)]
            statuses += [
                api.get("/api/profiles", params={"niche_id": niche, "page": 3}).status_code
                for _ in range(20)
            ]
            assert statuses == [200] * 80
            # Every stream slot not held by a stalled reader is still there for a browser.
            with api.stream("GET", "/api/events", params={"max_seconds": "1"}) as live:
                assert live.status_code == 200
    finally:
        for sock in sockets:
            sock.close()
    # Clients that went away give their download slots back.
    with httpx.Client(base_url=server.base_url, timeout=60) as api:
        wait_until(
            lambda: api.get("/api/profiles/export.csv", params={"niche_id": niche}).status_code
            == 200,
            timeout=60,
            what="a free download slot",
        )
