"""Distributed-mode fixtures: a fresh PostgreSQL database per module, Redis, the simulator with
its proxy fleet, a real `storycheck serve` process in distributed mode, and `storycheck worker`
processes.

Everything runs as an operator would start it (child processes configured only through
`STORYCHECK_*` variables). Time is compressed on both sides: the simulator allows each session
and each proxy address 10 lookups and 10 story queries per 2 seconds, and the engine is told the
same budget with a 2-second "hour"; a pair used by two workers at once would break it at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.helpers import free_port, wait_until

from storycheck.batches.models import BatchProfile
from storycheck.db import Database
from storycheck.distributed.models import PairLease, WorkerHeartbeat
from storycheck.migrate import upgrade
from storycheck.simulator import PopulationConfig
from storycheck.testing import ProxySpec, SimulatorProcess

PG_ADMIN_URL = os.environ.get(
    "STORYCHECK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("STORYCHECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "distributed-test-secret"
PAIRS = 6
LIMIT = 10  # requests per WINDOW seconds, per session and per address, for both request kinds
WINDOW = 2
SIM_SEED = 23
# Long slots: no story starts or ends while a test runs, so results are stable.
POPULATION = PopulationConfig(slot_seconds=1e7, story_ttl_seconds=2e7, story_probability=0.3)

# Item leases long enough that a killed worker's items can only come back early through its
# heartbeat (distributed/liveness.py); pair leases short so its death is noticed in seconds.
ITEM_LEASE = 60.0
PAIR_LEASE = 4.0
PAIR_RENEW = 0.5
ENGINE_ENV = {
    "STORYCHECK_ENGINE_WINDOW_SECONDS": str(WINDOW),
    "STORYCHECK_ENGINE_FLUSH_INTERVAL": "0.1",
    "STORYCHECK_ENGINE_REFRESH_INTERVAL": "0.3",
    "STORYCHECK_ENGINE_PARTIAL_WAIT": "0.3",
    "STORYCHECK_ENGINE_RECHECK_INTERVAL": "0.3",
    "STORYCHECK_ENGINE_COOLDOWN_BASE": "0.5",
    "STORYCHECK_ENGINE_COOLDOWN_CAP": "2",
    "STORYCHECK_ENGINE_MIN_COOLDOWN": "0.2",
    "STORYCHECK_ENGINE_OPEN_COOLDOWN": "0.5",
    "STORYCHECK_ENGINE_LEASE_SECONDS": str(ITEM_LEASE),
    "STORYCHECK_ENGINE_RENEW_INTERVAL": "5",
    "STORYCHECK_PAIR_LEASE_SECONDS": str(PAIR_LEASE),
    "STORYCHECK_PAIR_RENEW_INTERVAL": str(PAIR_RENEW),
    "STORYCHECK_PAIR_TAKEOVER_GRACE": "1",
}
SETTINGS = {
    "min_request_interval": 0,
    "proxy_hourly_limit": LIMIT,
    "lookup_hourly_limit": LIMIT,
    "max_threads": 16,
    "proxy_test_timeout": 3,
}


def base_env(database_url: str, broker_url: str, instagram_url: str) -> dict[str, str]:
    """A clean copy of our environment plus the distributed-mode configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORYCHECK_") and k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")
    }
    env.update(ENGINE_ENV)
    env.update(
        {
            "STORYCHECK_DATABASE_URL": database_url,
            "STORYCHECK_BROKER_URL": broker_url,
            "STORYCHECK_INSTAGRAM_URL": instagram_url,
            "STORYCHECK_SECRET_KEY": SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def storycheck_command(*args: str) -> list[str]:
    """`storycheck …` run with this interpreter (the venv's)."""
    return [sys.executable, "-m", "storycheck.cli", *args]


# ---------------------------------------------------------------------------------- services


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The Redis broker the workers and the server share (skip when unreachable)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this module, dropped afterwards."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    name = f"storycheck_dist_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def db(pg_url: str) -> Iterator[Database]:
    """The module's database, for inspection."""
    database = Database(pg_url)
    yield database
    database.dispose()


class Simulator(SimulatorProcess):
    """The simulator process (its own proxy fleet) with the module's limits."""

    def __init__(self) -> None:
        window = f"{LIMIT}/{WINDOW}s"
        super().__init__(
            PAIRS,
            [
                "--session-profile-limit",
                window,
                "--session-story-limit",
                window,
                "--address-profile-limit",
                window,
                "--address-story-limit",
                window,
            ],
            seed=SIM_SEED,
            population=POPULATION,
        )

    def proxy_urls(self) -> list[str]:
        return [_proxy_url(spec) for spec in self.proxies]

    def violations(self) -> dict[str, Any]:
        return dict(self.stats()["violations"])


def _proxy_url(spec: ProxySpec) -> str:
    auth = f"{spec.username}:{spec.password}@" if spec.username else ""
    return f"{spec.scheme}://{auth}{spec.host}:{spec.port}"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """The simulator with its local proxy fleet, in a child process."""
    simulator = Simulator()
    yield simulator
    simulator.stop()


# ---------------------------------------------------------------------------------- processes


@dataclass
class Process:
    """A `storycheck …` child process with its output in a file."""

    name: str
    command: list[str]
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def worker_id(self) -> str:
        """The `--worker-id` this process was started with."""
        return self.command[self.command.index("--worker-id") + 1]

    def start(self) -> Process:
        self.log_path = self.workdir / f"{self.name}.log"
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def terminate(self, timeout: float = 20.0, signum: int = signal.SIGTERM) -> int:
        """Send `signum`; return the exit code (-9 when it had to be killed)."""
        assert self.process is not None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Server(Process):
    """`storycheck serve` in distributed mode."""

    port: int = 0
    http: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30.0) -> Server:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as probe:
            while True:
                if not self.alive():
                    raise RuntimeError(f"server exited:\n{self.output()[-3000:]}")
                try:
                    if probe.get(self.base_url + "/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not answer /api/health in time")
                time.sleep(0.1)
        self.http = httpx.Client(base_url=self.base_url, timeout=30.0, trust_env=False)
        return self

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        assert self.http is not None
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == expected, (
            f"{method} {path} -> {response.status_code}: {response.text[:500]}"
        )
        return None if response.status_code == 204 else response.json()

    def batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/batches/{batch_id}", params={"items_limit": 0}))

    def wait_status(self, batch_id: str, status: str, timeout: float) -> dict[str, Any]:
        latest: dict[str, Any] = {}

        def reached() -> bool:
            nonlocal latest
            latest = self.batch(batch_id)
            return latest["status"] == status

        wait_until(reached, timeout=timeout, interval=0.25, what=f"batch {batch_id} {status}")
        return latest

    def create_batch(self, usernames: list[str]) -> str:
        """A niche with these profiles (imported through the API) and a batch of all of them."""
        niche = self.call("POST", "/api/niches", 201, json={"name": f"n-{uuid.uuid4().hex[:8]}"})
        response = self.http.post(  # type: ignore[union-attr]
            f"/api/profiles/niches/{niche['id']}/import",
            content="\n".join(usernames).encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        assert response.status_code in (201, 207), response.text[:500]
        batch = self.call(
            "POST", "/api/batches", 201, json={"niche_id": niche["id"], "all_profiles": True}
        )
        return str(batch["id"])


@pytest.fixture(scope="module")
def server(
    pg_url: str, redis_url: str, sim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`storycheck serve` (distributed mode) with the simulator's pairs and tight settings."""
    workdir = tmp_path_factory.mktemp("server")
    port = free_port()
    env = base_env(pg_url, redis_url, sim.base_url)
    env.update(
        {
            "STORYCHECK_PORT": str(port),
            "STORYCHECK_HOST": "127.0.0.1",
            "STORYCHECK_RECONCILE_INTERVAL": "0.5",
        }
    )
    proc = Server("server", storycheck_command("serve"), env, workdir, port=port)
    proc.start()
    try:
        proc.wait_healthy()
        proc.call("PUT", "/api/settings", json=SETTINGS)
        for url, session in zip(sim.proxy_urls(), sim.sessions, strict=True):
            proc.call("POST", "/api/proxies", 201, json={"url": url, "session": session})
        yield proc
    finally:
        if proc.http is not None:
            proc.http.close()
        code = proc.terminate()
        assert code == 0, proc.output()[-3000:]


@pytest.fixture
def start_worker(
    pg_url: str, redis_url: str, sim: Simulator, tmp_path: Path
) -> Iterator[Callable[..., Process]]:
    """Factory: `start_worker(name, *extra_args)` runs `storycheck worker` in a child process."""
    started: list[Process] = []

    def start(name: str, *args: str) -> Process:
        env = base_env(pg_url, redis_url, sim.base_url)
        proc = Process(
            name,
            storycheck_command("worker", "--worker-id", f"{name}-{uuid.uuid4().hex[:6]}", *args),
            env,
            tmp_path,
        )
        started.append(proc.start())
        return proc

    yield start
    for proc in started:
        proc.kill()


# ---------------------------------------------------------------------------------- inspection


def owners(db: Database) -> dict[str, str]:
    """proxy id -> worker id of every live pair lease."""
    from storycheck.db import utcnow

    with db.read() as session:
        rows = session.execute(
            select(PairLease.proxy_id, PairLease.owner).where(
                PairLease.owner.is_not(None), PairLease.expires_at > utcnow()
            )
        ).all()
    return {proxy_id: owner for proxy_id, owner in rows}


def wait_fair_split(db: Database, names: list[str], timeout: float = 30.0) -> dict[str, str]:
    """Wait until the named workers (id prefixes) hold PAIRS / len(names) pairs each."""
    held: dict[str, str] = {}
    share = PAIRS // len(names)

    def split() -> bool:
        nonlocal held
        held = owners(db)
        counts = {name: 0 for name in names}
        for owner in held.values():
            for name in names:
                if owner.startswith(f"{name}-"):
                    counts[name] += 1
        return len(held) == PAIRS and all(count == share for count in counts.values())

    wait_until(split, timeout=timeout, interval=0.2, what=f"pairs split {share} each")
    return held


def heartbeats(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(WorkerHeartbeat.worker_id)))


def item_counts(db: Database, batch_id: str) -> dict[str, int]:
    with db.read() as session:
        rows = session.execute(
            select(BatchProfile.status, func.count())
            .where(BatchProfile.batch_id == batch_id)
            .group_by(BatchProfile.status)
        ).all()
    return {status: count for status, count in rows}


def held_by(db: Database, worker_id: str) -> tuple[int, int, datetime | None]:
    """(pair leases, items in flight, heartbeat) of one worker, as the database says now."""
    with db.read() as session:
        pairs = session.scalar(
            select(func.count()).select_from(PairLease).where(PairLease.owner == worker_id)
        )
        items = session.scalar(
            select(func.count())
            .select_from(BatchProfile)
            .where(BatchProfile.status == "in_flight", BatchProfile.lease_owner == worker_id)
        )
        seen = session.scalar(
            select(WorkerHeartbeat.last_seen).where(WorkerHeartbeat.worker_id == worker_id)
        )
    return int(pairs or 0), int(items or 0), seen
