"""Where a niche batch's INSERT … SELECT spends its time on PostgreSQL (issue 12).

Runs `batches.items.insert_active_profiles` for the newest imported niche of a database that
`bench/bench_scale.py` built, as `EXPLAIN (ANALYZE, BUFFERS, WAL)` inside a transaction that
is rolled back (nothing stays but dead rows), once per variant and round, variants
alternated. A variant is `name=SQL;SQL…` run first in the same transaction (drop an index or
a constraint, `SET LOCAL …`), optionally `@@SQL` run after the insert and timed (`:batch` is
the new batch's id). Prints per run: load, wall and backend CPU seconds, the insert node (and
its select part), each foreign-key trigger, and the WAL the plan wrote. Usage:

    PYTHONPATH=src:. .venv/bin/python bench/bench_batch_insert.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/batchcreate_1m \\
        --rounds 3 "now=" \\
        "no-proxy-session-keys=ALTER TABLE batch_profiles DROP CONSTRAINT \\
fk_batch_profiles_proxy_id_proxies;ALTER TABLE batch_profiles DROP CONSTRAINT \\
fk_batch_profiles_session_id_sessions"

The backend's CPU time is read from /proc, so the server must run on this machine.
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid
from typing import Any

from sqlalchemy import Connection, create_engine, text

from storycheck.batches.items import insert_active_profiles
from storycheck.db import utcnow

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class _Explaining:
    """Stands in for the connection: runs the insert under EXPLAIN and keeps the plan."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.dialect, self.plan = conn, conn.dialect, ""

    def execute(self, statement: Any) -> Any:
        compiled = statement.compile(dialect=self.dialect)
        sql = "EXPLAIN (ANALYZE, BUFFERS, WAL) " + str(compiled)
        rows = self.conn.exec_driver_sql(sql, compiled.params).all()
        self.plan = "\n".join(row[0] for row in rows)

        class Result:
            rowcount = 0

        return Result()


def _summary(plan: str) -> str:
    insert = re.search(r"Insert on .*?actual time=[\d.]+\.\.([\d.]+)", plan)
    select = re.search(r"Subquery Scan.*?actual time=[\d.]+\.\.([\d.]+)", plan)
    wal = re.search(r"WAL: (.*)", plan)
    triggers = re.findall(r"Trigger for constraint fk_batch_profiles_(\w+?)_\w+: time=([\d.]+)", plan)
    parts = " ".join(f"{name} {float(ms) / 1000:.2f}" for name, ms in triggers)
    total = sum(float(ms) for _, ms in triggers) / 1000
    return (
        f"insert {float(insert.group(1)) / 1000 if insert else 0:.2f}"
        f" (select {float(select.group(1)) / 1000 if select else 0:.2f})"
        f" triggers {total:.2f} [{parts}] | WAL {wal.group(1) if wal else '-'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--niche-id", help="default: the newest niche named 'imported …'")
    parser.add_argument("variants", nargs="+", help="name=SQL;SQL…[@@SQL after]")
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        niche = args.niche_id or conn.exec_driver_sql(
            "SELECT id FROM niches WHERE name LIKE 'imported %%' ORDER BY created_at DESC LIMIT 1"
        ).scalar_one()
    for _ in range(args.rounds):
        for variant in args.variants:
            name, _, statements = variant.partition("=")
            before, _, after = statements.partition("@@")
            with engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                for statement in filter(None, before.split(";")):
                    conn.exec_driver_sql(statement)
                batch = str(uuid.uuid4())
                conn.execute(
                    text(
                        "INSERT INTO batches (id, niche_id, status, queue_position,"
                        " total_profiles, completed_profiles, successful_checks, failed_checks,"
                        " private_profiles, created_at)"
                        " VALUES (:b, :n, 'paused', NULL, 0, 0, 0, 0, 0, :t)"
                    ),
                    {"b": batch, "n": niche, "t": utcnow()},
                )
                cpu, start = _cpu_seconds(pid), time.perf_counter()
                explaining = _Explaining(conn)
                insert_active_profiles(explaining, batch_id=batch, niche_id=niche, now=utcnow())  # type: ignore[arg-type]
                after_seconds = 0.0
                if after:
                    mark = time.perf_counter()
                    conn.exec_driver_sql(after.replace(":batch", f"'{batch}'")).all()
                    after_seconds = time.perf_counter() - mark
                wall, cpu = time.perf_counter() - start, _cpu_seconds(pid) - cpu
                conn.rollback()
            load = open("/proc/loadavg", encoding="ascii").read().split()[0]
            print(
                f"{name:24} load {load} wall {wall:.2f} s (after-statement {after_seconds:.2f})"
                f" backend CPU {cpu:.2f} s | {_summary(explaining.plan)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
