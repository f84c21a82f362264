"""Time a 100,000-line profile import and a 100,000-profile batch on a fresh database.

Runs everything in-process through the Flask test client (no network), prints one JSON
object. Usage:

    .venv/bin/python bench/bench_import.py                 # fresh SQLite file in a temp dir
    .venv/bin/python bench/bench_import.py --lines 20000
    .venv/bin/python bench/bench_import.py --database-url postgresql+psycopg://…/empty_db
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from storycheck.app import create_app, shutdown
from storycheck.config import Config


def _usernames(count: int) -> bytes:
    # A realistic mix: bare names, @names and profile URLs, CRLF line ends.
    lines = []
    for i in range(count):
        name = f"bench.user_{i:07d}"
        if i % 3 == 1:
            name = "@" + name
        elif i % 3 == 2:
            name = f"https://www.instagram.com/{name}/"
        lines.append(name)
    return ("\r\n".join(lines) + "\r\n").encode()


def _timed(func: Any) -> tuple[Any, float, float]:
    """Run `func`; return its result, wall seconds and this process's CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, round(time.perf_counter() - start, 3), round(time.process_time() - cpu, 3)


def run(lines: int, database_url: str) -> dict[str, Any]:
    """Import `lines` usernames twice (fresh, then all duplicates) and batch them all."""
    config = Config(database_url=database_url, engine_enabled=False, secret_key="bench-key")
    app = create_app(config, start_background=False)
    client = app.test_client()
    services = app.extensions["storycheck"]
    try:
        niche = client.post("/api/niches", json={"name": "bench"}).get_json()
        payload = _usernames(lines)

        def upload() -> Any:
            return client.post(
                f"/api/profiles/niches/{niche['id']}/import",
                data={"file": (io.BytesIO(payload), "bench.txt")},
                content_type="multipart/form-data",
            )

        first, first_seconds, first_cpu = _timed(upload)
        first_body = first.get_json()
        again, again_seconds, again_cpu = _timed(upload)
        again_body = again.get_json()
        listing, list_seconds, list_cpu = _timed(
            lambda: client.get(
                "/api/profiles",
                query_string={
                    "sort_by": "detection_rate",
                    "sort_direction": "desc",
                    "page": 500,
                    "page_size": 100,
                },
            )
        )
        batch, batch_seconds, batch_cpu = _timed(
            lambda: services.state.create_batch(niche_id=niche["id"], all_profiles=True)
        )
        return {
            "database": database_url.split("://", 1)[0],
            "lines": lines,
            "upload_bytes": len(payload),
            "import": {
                "status": first.status_code,
                "seconds": first_seconds,
                "cpu_seconds": first_cpu,
                "created_count": first_body["created_count"],
                "error_count": first_body["error_count"],
                "response_bytes": len(first.get_data()),
                "lines_per_second": round(lines / first_seconds) if first_seconds else None,
            },
            "reimport_same_file": {
                "status": again.status_code,
                "seconds": again_seconds,
                "cpu_seconds": again_cpu,
                "created_count": again_body["created_count"],
                "duplicate_count": again_body["duplicate_count"],
                "response_bytes": len(again.get_data()),
            },
            "list_page_500_sorted_by_detection_rate": {
                "status": listing.status_code,
                "seconds": list_seconds,
                "cpu_seconds": list_cpu,
                "total": listing.get_json()["total"],
            },
            "create_batch_all_profiles": {
                "seconds": batch_seconds,
                "cpu_seconds": batch_cpu,
                "total_profiles": batch.total_profiles,
                "status": batch.status,
            },
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        }
    finally:
        shutdown(app)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        help="an EMPTY database to use (default: a fresh SQLite file in a temp directory)",
    )
    args = parser.parse_args(argv)
    if args.database_url:
        result = run(args.lines, args.database_url)
    else:
        with tempfile.TemporaryDirectory(prefix="storycheck-bench-") as tmp:
            result = run(args.lines, f"sqlite:///{Path(tmp) / 'bench.db'}")
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
