"""What each index of `profiles` costs a 100,000-row COPY on PostgreSQL, rolled back.

In one transaction: create a niche, drop the `--drop` indexes (and run any `--sql` statement,
e.g. an `ALTER INDEX … SET (…)`), COPY `--lines` new profiles into the niche as the importer
does (key order, ascending ids, the same columns), then roll everything back. Prints the COPY's
wall time, the server backend's user/system CPU (read from /proc: the server must run on this
machine) and the WAL it wrote. Compare runs with and without an index, alternating, on one
database (BENCHMARKS.md, "Import, fourth pass"). Usage:

    PYTHONPATH=src .venv/bin/python bench/bench_import_pg_indexes.py \\
        postgresql://postgres@127.0.0.1:5432/s1m --drop ix_profiles_username_trgm
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from storycheck.db import new_id, ordered_ids
from storycheck.profiles.models import username_key
from storycheck.profiles.service import profile_url

COLUMNS = (
    "id, username, username_key, url, niche_id, status, active_story, total_checks, "
    "total_detections, not_found, created_at, updated_at"
)


def backend_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one server process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / 100, int(fields[12]) / 100


def one_copy(url: str, lines: int, drop: list[str], sql: list[str], niche_id: str = "") -> str:
    """COPY `lines` new profiles after dropping `drop`, roll back, describe the cost."""
    run_id = random.randrange(10**6)
    names = sorted((f"import{run_id}.user_{i:07d}" for i in range(lines)), key=username_key)
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        cursor = conn.cursor()
        niche = niche_id or new_id()
        cursor.execute(
            'INSERT INTO niches (id, name, "order", daily_story_target, created_at, updated_at)'
            " VALUES (%s, %s, 0, 10, now(), now())",
            (niche, f"bench-copy-{run_id}"),
        )
        for index in drop:
            cursor.execute(f"DROP INDEX {index}")
        for statement in sql:
            cursor.execute(statement)
        pid = conn.info.backend_pid
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        (wal_start,) = cursor.fetchone() or (None,)
        user, system = backend_cpu(pid)
        start = time.perf_counter()
        with cursor.copy(f"COPY profiles ({COLUMNS}) FROM STDIN") as copy:
            for item_id, name in zip(ordered_ids(lines), names, strict=True):
                copy.write_row(
                    (item_id, name, username_key(name), profile_url(name), niche, "active")
                    + (False, 0, 0, False, now, now)
                )
        seconds = time.perf_counter() - start
        user_after, system_after = backend_cpu(pid)
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal_start,))
        (wal,) = cursor.fetchone() or (0,)
    return (
        f"copy {seconds:.2f} s, backend CPU user {user_after - user:.2f} s"
        f" / system {system_after - system:.2f} s, WAL {int(wal) / 1e6:.0f} MB"
    )


def main() -> None:
    """Parse arguments and print one line per round."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url", help="a libpq URL (postgresql://…)")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--drop", nargs="*", default=[], help="indexes to drop first")
    parser.add_argument("--sql", action="append", default=[], help="a statement to run first")
    parser.add_argument("--niche-id", default="", help="the new niche's id (default: a new one)")
    args = parser.parse_args()
    for number in range(1, args.rounds + 1):
        cost = one_copy(args.database_url, args.lines, args.drop, args.sql, args.niche_id)
        print(f"round {number}: {cost}")


if __name__ == "__main__":
    main()
