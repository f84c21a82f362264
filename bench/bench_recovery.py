"""Recovery: what a killed worker, a stopped worker and a crashed server cost a running batch.

A real `storycheck serve` (distributed mode) and two `storycheck worker` processes on a fresh
PostgreSQL database and Redis check batches against the simulator through its proxy fleet,
with the distributed tests' compressed pacing (10 lookups and 10 story requests per 2 s per
pair, 6 pairs) but the **production defaults** of everything recovery depends on: pair lease
(a worker silent this long is dead), renew interval, takeover grace, item leases, reconcile
interval. Each round runs one undisturbed batch and one batch of the same size disturbed at a
quarter of the way; the extra time is the difference, measured within the round.

Scenarios: `kill` (kill -9 of one of the two workers), `term` (SIGTERM of one worker),
`server` (kill -9 of the server, restarted at once). After `kill` and `term` a replacement
worker is started and the pairs split again before the next batch.

    PYTHONPATH=. .venv/bin/python bench/bench_recovery.py             (≈ 6 min)
    PYTHONPATH=. .venv/bin/python bench/bench_recovery.py --scenarios kill --rounds 3
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.distributed.conftest import (
    PG_ADMIN_URL,
    REDIS_URL,
    SETTINGS,
    Process,
    Server,
    Simulator,
    base_env,
    held_by,
    storycheck_command,
)
from tests.helpers import free_port, wait_until

from storycheck.batches.models import BatchProfile
from storycheck.db import Database
from storycheck.distributed.models import PairLease
from storycheck.migrate import upgrade

# What recovery depends on keeps its production default: only pacing is compressed.
RECOVERY_KEYS = (
    "STORYCHECK_ENGINE_LEASE_SECONDS",
    "STORYCHECK_ENGINE_RENEW_INTERVAL",
    "STORYCHECK_PAIR_LEASE_SECONDS",
    "STORYCHECK_PAIR_RENEW_INTERVAL",
    "STORYCHECK_PAIR_TAKEOVER_GRACE",
    "STORYCHECK_RECONCILE_INTERVAL",
)


def say(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Rig:
    """Server + workers + simulator on one fresh PostgreSQL database."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.name = f"storycheck_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = (
            make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)
        )
        self.db = Database(self.url)
        upgrade(self.db.engine)
        self.sim = Simulator()
        self.env = {
            k: v
            for k, v in base_env(self.url, REDIS_URL, self.sim.base_url).items()
            if k not in RECOVERY_KEYS
        }
        self.port = free_port()
        self.server = self._start_server()
        self.server.call("PUT", "/api/settings", json=SETTINGS)
        for url, session in zip(self.sim.proxy_urls(), self.sim.sessions, strict=True):
            self.server.call("POST", "/api/proxies", 201, json={"url": url, "session": session})
        self.workers: list[Process] = []
        self.next_range = 100_000

    def _start_server(self) -> Server:
        env = dict(self.env, STORYCHECK_PORT=str(self.port), STORYCHECK_HOST="127.0.0.1")
        server = Server("server", storycheck_command("serve"), env, self.workdir, port=self.port)
        return server.start().wait_healthy(timeout=60)

    def restart_server(self) -> None:
        """kill -9 the server and start it again on the same port."""
        self.server.kill()
        if self.server.http is not None:
            self.server.http.close()
        self.server = self._start_server()

    def start_worker(self) -> Process:
        worker_id = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}"
        proc = Process(
            worker_id,
            storycheck_command("worker", "--worker-id", worker_id),
            self.env,
            self.workdir,
        )
        self.workers.append(proc.start())
        return proc

    def live_workers(self) -> list[Process]:
        return [w for w in self.workers if w.alive()]

    def wait_split(self) -> dict[str, str]:
        """Every pair leased, evenly between the live workers."""
        names = {w.worker_id for w in self.live_workers()}
        held: dict[str, str] = {}

        def split() -> bool:
            nonlocal held
            with self.db.read() as session:
                held = dict(
                    session.execute(
                        select(PairLease.proxy_id, PairLease.owner).where(
                            PairLease.owner.is_not(None)
                        )
                    ).all()
                )
            counts = [list(held.values()).count(name) for name in names]
            return len(held) == 6 and set(held.values()) == names and max(counts) - min(counts) <= 0

        wait_until(split, timeout=90, interval=0.2, what="pairs split between the workers")
        return held

    def usernames(self, count: int) -> list[str]:
        start = self.next_range
        self.next_range += count
        return [f"dist{i:06d}" for i in range(start, start + count)]

    def run_batch(
        self, count: int, disturb: Callable[[str], dict[str, Any]] | None
    ) -> dict[str, Any]:
        """One batch from creation to done; `disturb(batch_id)` at a quarter of the way."""
        self.sim.reset()
        names = self.usernames(count)
        started = time.monotonic()
        batch_id = self.server.create_batch(names)
        facts: dict[str, Any] = {}
        if disturb is not None:
            wait_until(
                lambda: self.server.batch(batch_id)["completed_profiles"] >= count // 4,
                timeout=120,
                interval=0.05,
                what="a quarter of the batch",
            )
            facts = disturb(batch_id)
        wait_until(
            lambda: self.server.batch(batch_id)["status"] == "done",
            timeout=600,
            interval=0.1,
            what="batch done",
        )
        facts["seconds"] = round(time.monotonic() - started, 2)
        with self.db.read() as session:
            missing = session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(BatchProfile.batch_id == batch_id, BatchProfile.failure_kind == "not_found")
            )
            checks = session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(BatchProfile.batch_id == batch_id, BatchProfile.status == "completed")
            )
        lookups = self.sim.stats()["total"]["by_endpoint"].get("web_profile_info", 0)
        facts["lookups_redone"] = int(lookups) - count - int(missing or 0)
        facts["completed"] = int(checks or 0)
        facts["violations"] = self.sim.violations()["count"]
        return facts

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.server.terminate()
        if self.server.http is not None:
            self.server.http.close()
        self.sim.stop()
        self.db.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def kill_worker(rig: Rig, sig: signal.Signals) -> Callable[[str], dict[str, Any]]:
    def disturb(batch_id: str) -> dict[str, Any]:
        victim = rig.live_workers()[0]
        with rig.db.read() as session:
            pairs = set(
                session.scalars(
                    select(PairLease.proxy_id).where(PairLease.owner == victim.worker_id)
                )
            )
        at = time.time()
        if sig == signal.SIGKILL:
            victim.kill()
        else:
            victim.terminate(signum=sig)
        gone = time.time()  # SIGTERM: requests in flight finish first
        facts: dict[str, Any] = {"exit_after": round(gone - at, 2)}
        wait_until(
            lambda: held_by(rig.db, victim.worker_id) == (0, 0, None),
            timeout=120,
            interval=0.05,
            what="the worker's leases freed",
        )
        facts["freed_after"] = round(time.time() - at, 2)

        def first_use() -> bool:
            with rig.db.read() as session:
                return bool(
                    session.scalar(
                        select(func.count())
                        .select_from(BatchProfile)
                        .where(
                            BatchProfile.batch_id == batch_id,
                            BatchProfile.proxy_id.in_(pairs),
                            BatchProfile.processed_at > datetime.fromtimestamp(gone, UTC),
                        )
                    )
                )

        wait_until(first_use, timeout=120, interval=0.05, what="its pairs used again")
        facts["pairs_back_after"] = round(time.time() - at, 2)
        return facts

    return disturb


def crash_server(rig: Rig) -> Callable[[str], dict[str, Any]]:
    def disturb(batch_id: str) -> dict[str, Any]:
        at = time.time()
        rig.restart_server()
        return {"server_back_after": round(time.time() - at, 2)}

    return disturb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenarios", default="kill,term,server")
    args = parser.parse_args()

    results: dict[str, Any] = {"profiles": args.profiles, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="storycheck-recovery-") as tmp:
        rig = Rig(Path(tmp))
        try:
            rig.start_worker()
            rig.start_worker()
            rig.wait_split()
            for scenario in args.scenarios.split(","):
                rounds = []
                for n in range(args.rounds):
                    calm = rig.run_batch(args.profiles, None)
                    disturb = {
                        "kill": lambda: kill_worker(rig, signal.SIGKILL),
                        "term": lambda: kill_worker(rig, signal.SIGTERM),
                        "server": lambda: crash_server(rig),
                    }[scenario]()
                    hit = rig.run_batch(args.profiles, disturb)
                    extra = round(hit["seconds"] - calm["seconds"], 2)
                    say(
                        f"{scenario} #{n + 1}: {calm['seconds']} s → {hit['seconds']} s (+{extra}) {hit}"
                    )
                    rounds.append({"undisturbed": calm, "disturbed": hit, "extra_seconds": extra})
                    if len(rig.live_workers()) < 2:
                        rig.start_worker()
                        rig.wait_split()
                results["scenarios"][scenario] = {
                    "rounds": rounds,
                    "median_extra_seconds": statistics.median(r["extra_seconds"] for r in rounds),
                }
        finally:
            rig.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
