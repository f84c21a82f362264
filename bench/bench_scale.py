"""Issue 12's table: every list endpoint at 1,000,000 profiles in one niche against 2,000.

Builds one database holding a "big" niche (`--profiles`, default 1,000,000; half of them with a
live story) and a "small" niche of 2,000 shaped the same way, then times through the Flask
test client (in-process, JSON included):

* the profile page (niche + status=active + every sortable column, asc and desc, page 1 and
  page 200 of 50) and the same with `search=7` and `search=coach`;
* the live-stories page (first page and the page after one cursor);
* the niche sidebar (`GET /api/niches`), before and after the big niche is loaded;
* the live list's coverage (`GET /api/stories/live/coverage`) of each niche and of all;
* a 100,000-line import (its lines in random order; `--import-order sorted` for sorted
  lines) and a batch of those 100,000 profiles;
* `GET /api/batches` with `--batches` batches × 1,000 profiles.

Ratios compare the big niche with the small one in the same run. Usage:

    PYTHONPATH=. .venv/bin/python bench/bench_scale.py --profiles 1000000
    PYTHONPATH=. .venv/bin/python bench/bench_scale.py --profiles 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/empty_db

`--reuse` times a database an earlier run left at `--database-url` again, without loading it
(each such run adds one more imported niche of `--import-lines` profiles and its batch).
`--reuse --writes-only` times only the import and its batch.
`--only coach` (or `page,7,coach`) times only those page rows and skips everything after them;
`--clock cpu` times by this process's CPU time (see CLOCK).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from storycheck.app import create_app, shutdown
from storycheck.config import Config
from storycheck.db import Database, new_id, utcnow
from storycheck.profiles.listing import SORT_COLUMNS
from storycheck.profiles.models import Profile

SMALL = 2_000
CHUNK = 50_000
WORDS = (
    "art bake beach bike blog book brew cafe camp car cat chef city clean coach code craft cycle "
    "dance deco design diet dog draw dream eco fit film fish flow food foto game garden glam "
    "golf green hair happy health hike home horse house ink jazz keto kid lash life light love "
    "luxe make max mind mode mom moto music nail nature news night nomad nova ocean paint "
    "party pet photo pixel play pop pro pure quest rain real retro ride road rock run salon "
    "sea shop skin sky snap soul space spark sport star street studio style sun surf sushi "
    "sweet tattoo tea tech tiny tour toy travel tribe trip urban vegan vibe vino vintage vision "
    "wave wear wild wine wood world yoga zen zone"
).split()


def _rows(niche_id: str, count: int, start: int, rng: random.Random) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    for number in range(start, start + count):
        name = f"{rng.choice(WORDS)}{rng.choice(('', '.', '_'))}{rng.choice(WORDS)}{number}"
        checks = rng.randint(0, 60)
        live = rng.random() < 0.5
        posted = now - timedelta(minutes=rng.randint(1, 1400))
        status_roll = rng.random()
        status = (
            "active" if status_roll < 0.85 else "inactive" if status_roll < 0.95 else "suspended"
        )
        rows.append(
            {
                "id": new_id(),
                "username": name[:30],
                "username_key": name[:30].lower().replace(".", "_"),
                "url": f"https://instagram.com/{name[:30]}",
                "niche_id": niche_id,
                "status": status,
                "active_story": live,
                "total_checks": checks,
                "total_detections": rng.randint(0, checks),
                "not_found": False,
                "is_private": (private := rng.random() < 0.1),
                "last_checked": (
                    checked := None
                    if rng.random() < 0.3
                    else now - timedelta(hours=rng.random() * 72)
                ),
                # A private account's check (no session follows it) could not see.
                "story_seen_at": None if private else checked,
                "last_detected": posted if rng.random() < 0.4 else None,
                "story_posted_at": posted if live else None,
                "story_first_posted_at": posted if live else None,
                "story_expires_at": posted + timedelta(hours=24) if live else None,
                "story_item_count": 1 if live else None,
                "created_at": now - timedelta(seconds=number),
                "updated_at": now - timedelta(seconds=rng.randint(0, 10**6)),
            }
        )
    return rows


def _load(db: Database, niche_id: str, count: int, start: int, say: Callable[[str], None]) -> None:
    """Insert `count` profiles in chunks (COPY on PostgreSQL); the triggers keep counts/search."""
    rng = random.Random(start)
    done = 0
    while done < count:
        rows = _rows(niche_id, min(CHUNK, count - done), start + done, rng)
        with db.write() as session:
            if db.is_sqlite:
                session.execute(insert(Profile), rows)
            else:
                columns = list(rows[0])
                raw = session.connection().connection.dbapi_connection
                statement = f"COPY profiles ({', '.join(columns)}) FROM STDIN"
                with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
        done += len(rows)
        if done % 100_000 == 0 or done == count:
            say(f"  loaded {done:,} / {count:,}")


def _without_indexes(db: Database, load: Callable[[], None]) -> None:
    """Run `load` with the profiles' `ix_` indexes dropped, then build them again as they were.

    Building an index once is much faster than growing twelve of them row by row; the
    resulting database is the same. Triggers (counts, SQLite's search table) stay on.
    """
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'profiles' "
        "AND name LIKE 'ix_%'"
        if db.is_sqlite
        else "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'profiles' "
        "AND indexname LIKE 'ix_%%'"
    )
    with db.engine.begin() as conn:
        indexes = conn.exec_driver_sql(query).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    load()
    with db.engine.begin() as conn:
        for _, definition in indexes:
            conn.exec_driver_sql(definition.replace("%", "%%") if not db.is_sqlite else definition)


# `--clock cpu`: this process's CPU time instead of wall time (SQLite runs in-process, so it is
# the whole cost of a request without the waits of a shared, loaded machine; PostgreSQL's
# server time is then not counted).
CLOCK: Callable[[], float] = time.perf_counter


def _times(client: Any, urls: list[str], repeat: int) -> list[float]:
    """Milliseconds of every request (each URL `repeat` times, interleaved)."""
    elapsed = []
    for _ in range(repeat):
        for url in urls:
            start = CLOCK()
            response = client.get(url)
            elapsed.append((CLOCK() - start) * 1000)
            assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    return elapsed


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "n": len(values)}


def _page_urls(niche_id: str, search: str | None) -> list[str]:
    urls = []
    sorts: tuple[str | None, ...] = (None, *SORT_COLUMNS)
    if search:
        sorts = (None, "last_checked", "total_checks", "created_at")
    for sort_by in sorts:
        for direction in ("asc", "desc"):
            for page in (1, 200):
                url = f"/api/profiles?niche_id={niche_id}&status=active&page={page}&page_size=50"
                if sort_by:
                    url += f"&sort_by={sort_by}&sort_direction={direction}"
                elif direction == "desc":
                    continue
                if search:
                    url += f"&search={search}"
                urls.append(url)
    return urls


def _live_urls(client: Any, niche_id: str) -> list[str]:
    urls = []
    for sort in ("posted", "expires"):
        base = f"/api/stories/live?niche_id={niche_id}&sort={sort}&limit=100"
        first = client.get(base).get_json()
        urls += [base, base + f"&cursor={first['next_cursor']}"]
    return urls


def _time_reads(
    client: Any,
    args: argparse.Namespace,
    big: str,
    small: str,
    niches_small: list[float],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The read rows: pages, searches, live stories and the sidebar (`--only`: some pages)."""
    rows: dict[str, Any] = {}
    for label, search in (("page", None), ("search 7", "7"), ("search coach", "coach")):
        if args.only and label.split()[-1] not in args.only:
            continue
        say(f"timing {label}")
        big_ms = _times(client, _page_urls(big, search), args.repeat)
        small_ms = _times(client, _page_urls(small, search), args.repeat)
        rows[label] = _row(big_ms, small_ms)
    if args.only:
        return rows
    say("timing live stories")
    rows["stories live"] = _row(
        _times(client, _live_urls(client, big), args.repeat * 5),
        _times(client, _live_urls(client, small), args.repeat * 5),
    )
    rows["niche sidebar"] = _row(_times(client, ["/api/niches"], args.repeat * 10), niches_small)
    say("timing coverage")
    coverage = "/api/stories/live/coverage"
    rows["coverage"] = _row(
        _times(client, [f"{coverage}?niche_id={big}"], args.repeat * 5),
        _times(client, [f"{coverage}?niche_id={small}"], args.repeat * 5),
    )
    rows["coverage, all niches"] = _stats(_times(client, [coverage], args.repeat * 5))
    return rows


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    """Build the database, time every row of the table, return the results."""
    config = Config(database_url=args.database_url, engine_enabled=False, secret_key="bench-key")
    app = create_app(config, start_background=False)
    # As `storycheck serve` does (web/server.py): startup objects out of the collector's way.
    gc.collect()
    gc.freeze()
    client = app.test_client()
    services = app.extensions["storycheck"]
    db: Database = services.db
    results: dict[str, Any] = {
        "database": db.engine.dialect.name,
        "profiles": args.profiles,
        "clock": args.clock,
        "import_order": args.import_order,
    }
    try:
        existing = {n["name"]: n["id"] for n in client.get("/api/niches").get_json()}
        if args.reuse:
            # A database an earlier run built (same --database-url): time it again as it is.
            small, big = existing["small"], existing["big"]
            niches_small = _times(client, ["/api/niches"], args.repeat * 10)
        else:
            small = client.post("/api/niches", json={"name": "small"}).get_json()["id"]
            big = client.post("/api/niches", json={"name": "big"}).get_json()["id"]
            say(f"loading {SMALL:,} profiles into 'small'")
            _load(db, small, SMALL, 0, say)
            niches_small = _times(client, ["/api/niches"], args.repeat * 10)
            say(f"loading {args.profiles:,} profiles into 'big'")
            start = time.perf_counter()
            _without_indexes(db, lambda: _load(db, big, args.profiles, SMALL, say))
            if not db.is_sqlite:
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "VACUUM ANALYZE profiles"
                    )
            else:
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            results["load_seconds"] = round(time.perf_counter() - start, 1)

        rows = {} if args.writes_only else _time_reads(client, args, big, small, niches_small, say)
        if args.only:
            # Only the searched pages were asked for: no stories, sidebar, import or batches.
            results["rows"] = rows
            return results

        say("timing a 100,000-line import and its batch")
        run_id = int(time.time())
        imported = client.post("/api/niches", json={"name": f"imported {run_id}"}).get_json()["id"]
        names = [f"import{run_id}.user_{i:07d}" for i in range(args.import_lines)]
        if args.import_order == "shuffled":
            random.Random(run_id).shuffle(names)
        lines = "\n".join(names).encode()
        start, cpu = time.perf_counter(), time.process_time()
        response = client.post(f"/api/profiles/niches/{imported}/import", data=lines)
        # Wall time, and this process's CPU time (SQLite's whole work but its disk waits).
        rows["import"] = {
            "seconds": round(time.perf_counter() - start, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
        }
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
        start = time.perf_counter()
        response = client.post("/api/batches", json={"niche_id": imported, "all_profiles": True})
        rows["batch creation"] = {"seconds": round(time.perf_counter() - start, 2)}
        assert response.get_json()["total_profiles"] == args.import_lines

        if args.writes_only:
            pass
        elif args.batches and args.reuse and "batches" in existing:
            rows["batch list"] = _stats(_times(client, ["/api/batches"], args.repeat * 3))
        elif args.batches:
            say(f"creating {args.batches:,} batches of 1,000 profiles")
            grouped = client.post("/api/niches", json={"name": "batches"}).get_json()["id"]
            _load(db, grouped, 1000, 10**8, say)
            for _ in range(args.batches - 1):
                services.state.create_batch(niche_id=grouped, all_profiles=True)
            if not db.is_sqlite:
                # What autovacuum does after such growth (the test server runs with it off):
                # without statistics the planner scans every item for the last minute's rates.
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "ANALYZE batch_profiles"
                    )
            rows["batch list"] = _stats(_times(client, ["/api/batches"], args.repeat * 3))
        results["rows"] = rows
    finally:
        shutdown(app)
    return results


def _row(big: list[float], small: list[float]) -> dict[str, Any]:
    big_stats, small_stats = _stats(big), _stats(small)
    return {
        "big": big_stats,
        "small": small_stats,
        "p95_ratio": round(big_stats["p95"] / max(small_stats["p95"], 0.01), 2),
    }


def main() -> None:
    """Parse arguments, run, print the table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--import-lines", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument(
        "--only",
        type=lambda value: value.split(","),
        default=None,
        help="time only these page rows (comma list of: page, 7, coach); skips the rest",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: time requests by this process's CPU time (SQLite: robust on a loaded box)",
    )
    parser.add_argument(
        "--import-order",
        choices=("shuffled", "sorted"),
        default="shuffled",
        help="the imported file's lines: in random order (as users' lists are) or sorted",
    )
    parser.add_argument(
        "--writes-only",
        action="store_true",
        help="with --reuse: time only the import and its batch (the read rows are skipped)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time a database an earlier run built at --database-url (no loading)",
    )
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url is None:
            args.database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results = run(args, say)
    print(_table(results))
    print(json.dumps(results, indent=2))


def _table(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        f"{results['database']}, {results['profiles']:,} profiles in one niche "
        f"(load {results.get('load_seconds')} s, clock {results.get('clock', 'wall')})",
        "| what | big niche p50 / p95 | 2,000 niche p50 / p95 | p95 ratio |",
        "|---|---|---|---|",
    ]
    for label in ("page", "search 7", "search coach", "stories live", "niche sidebar", "coverage"):
        if label not in rows:
            continue
        row = rows[label]
        lines.append(
            f"| {label} | {row['big']['p50']} / {row['big']['p95']} ms "
            f"| {row['small']['p50']} / {row['small']['p95']} ms | {row['p95_ratio']}× |"
        )
    if "coverage, all niches" in rows:
        every = rows["coverage, all niches"]
        lines.append(f"| coverage, all niches | {every['p50']} / {every['p95']} ms | – | – |")
    if "batch list" in rows:
        lines.append(
            f"| GET /api/batches | {rows['batch list']['p50']} / {rows['batch list']['p95']} ms | – | – |"
        )
    if "import" in rows:
        lines.append(
            f"| 100,000-line import | {rows['import']['seconds']} s "
            f"(CPU {rows['import'].get('cpu_seconds', '–')} s) | – | – |"
        )
        lines.append(f"| 100,000-profile batch | {rows['batch creation']['seconds']} s | – | – |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
