"""Shared plumbing of the engine benchmarks: a temporary database, the simulator process,
seeding, an in-process engine, and throughput estimators.

Every bench script prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storycheck.batches.models import BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.engine.options import EngineOptions
from storycheck.engine.pool import WorkerPool
from storycheck.migrate import upgrade
from storycheck.testing import (
    Reconciler,
    SimulatorProcess,
    batch_row,
    seed_niche,
    seed_pairs,
    seed_profiles,
    set_settings,
    wait_until,
)

SECRET_KEY = "bench-secret-key"


def say(message: str) -> None:
    """Progress on stderr (stdout carries the JSON result)."""
    print(message, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the result as one JSON object."""
    print(json.dumps(result, indent=2, sort_keys=False))


def limit_args(per_window: int, window: float, lookups: int | None = None) -> list[str]:
    """Simulator limits per session and per address (each proxy has its own address)."""
    story = f"{per_window}/{window:g}s"
    lookup = f"{lookups if lookups is not None else per_window}/{window:g}s"
    return [
        "--session-profile-limit",
        lookup,
        "--address-profile-limit",
        lookup,
        "--session-story-limit",
        story,
        "--address-story-limit",
        story,
    ]


@contextmanager
def temporary_database() -> Iterator[Database]:
    """A migrated SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="storycheck-bench-") as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(db.engine)
        try:
            yield db
        finally:
            db.dispose()


def seed_world(
    db: Database,
    sim: SimulatorProcess,
    count: int,
    *,
    resolved: bool,
    existing_only: bool = False,
    prefix: str = "user",
    start: int = 0,
) -> tuple[str, list[str]]:
    """Pairs (once) and `count` profiles; `resolved` caches their user ids as a prior lookup
    would; `existing_only` leaves out usernames that do not exist on (simulated) Instagram."""
    secrets = SecretBox(SECRET_KEY)
    from storycheck.proxies.models import Proxy

    with db.read() as session:
        has_pairs = session.scalar(select(Proxy.id).limit(1)) is not None
    if not has_pairs:
        seed_pairs(db, secrets, sim.proxies, sim.sessions)
    niche = seed_niche(db)
    names = sim.usernames(count, prefix=prefix, start=start)
    known = sim.known_ids(names) if resolved or existing_only else {}
    if existing_only:
        names = [n for n in names if n in known]
    privacy = sim.known_privacy(names) if resolved else None
    ids = seed_profiles(db, niche, names, user_ids=known if resolved else None, private=privacy)
    return niche, ids


@dataclass
class Engine:
    """An in-process engine as the app runs it."""

    db: Database
    pool: WorkerPool
    state: BatchStateManager
    reconciler: Reconciler

    def stop(self) -> None:
        self.reconciler.stop()
        self.pool.stop(timeout=5.0)


def start_engine(db: Database, base_url: str, options: EngineOptions, **settings: Any) -> Engine:
    """Settings, worker pool, state manager and reconciler, wired like `create_app`."""
    set_settings(db, **settings)
    config = Config(database_url=str(db.url), instagram_url=base_url, secret_key=SECRET_KEY)
    pool = WorkerPool(db=db, config=config, secrets=SecretBox(SECRET_KEY), options=options)
    state = BatchStateManager(db, pool)
    pool.attach(state)
    pool.start()
    state.reconcile(release_all_leases=True)
    return Engine(db, pool, state, Reconciler(state.reconcile, 1.0).start())


def wait_done(db: Database, batch_id: str, timeout: float) -> None:
    """Block until the batch is done."""

    def done() -> bool:
        row = batch_row(db, batch_id)
        return row is not None and row.status == "done"

    wait_until(done, timeout=timeout, interval=0.2, what="batch done")


def processed(db: Database, batch_id: str) -> list[tuple[float, str | None]]:
    """(processed_at, proxy_id) of every finished item of a batch."""
    with db.read() as session:
        rows = session.execute(
            select(BatchProfile.processed_at, BatchProfile.proxy_id).where(
                BatchProfile.batch_id == batch_id, BatchProfile.processed_at.is_not(None)
            )
        ).all()
    return [(at.timestamp(), proxy) for at, proxy in rows]


def per_pair_rate(
    events: Sequence[tuple[float, str | None]], start: float, end: float
) -> dict[str, float]:
    """Checks per second, summed over pairs, from each pair's evenly paced requests.

    Items answered by one request share its `processed_at`. For each pair the requests whose
    answer lies in [start, end) give (requests − 1) intervals over (last − first) seconds; the
    ids of all but the last request are spread over those intervals. Counting whole intervals
    avoids the ±1-request error of counting items in a fixed window.
    """
    requests: dict[str, dict[float, int]] = defaultdict(lambda: defaultdict(int))
    for at, proxy in events:
        if proxy is not None and start <= at < end:
            requests[proxy][at] += 1
    total = 0.0
    ids = 0
    count = 0
    for per_request in requests.values():
        times = sorted(per_request)
        if len(times) < 2:
            continue
        carried = sum(per_request[t] for t in times[:-1])
        total += carried / (times[-1] - times[0])
        ids += sum(per_request.values())
        count += len(times)
    return {
        "checks_per_second": total,
        "pairs_measured": float(len(requests)),
        "mean_ids_per_request": ids / count if count else 0.0,
    }


def now() -> float:
    return time.time()
