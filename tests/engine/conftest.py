"""Engine fixtures: a migrated SQLite file, the simulator + proxy fleet, and an engine rig.

The simulator runs in its own process (`python -m storycheck.simulator`), so it does not
compete with the engine for the GIL; tests talk to it over real HTTP through its local
proxies, and control it through its `/__sim__` API. Time is compressed: a pacing "hour" of a
few seconds on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storycheck.batches.models import BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.engine.checker import Checker
from storycheck.engine.harness import (
    ProxySpec,
    Reconciler,
    SimulatorProcess,
    batch_row,
    seed_niche,
    seed_pairs,
    seed_profiles,
    set_settings,
    wait_until,
)
from storycheck.engine.options import EngineOptions
from storycheck.engine.pool import WorkerPool
from storycheck.migrate import upgrade
from storycheck.profiles.models import Profile
from storycheck.simulator import PopulationConfig

SIM_SEED = 7
SECRET_KEY = "engine-test-secret"
# Slots of ~4 months and stories living two slots: no story starts or ends during a test run,
# so comparing an answer with the truth at the item's processed_at cannot flake.
POPULATION = PopulationConfig(slot_seconds=1e7, story_ttl_seconds=2e7, story_probability=0.3)


def fast_options(**changes: Any) -> EngineOptions:
    """Engine options with compressed time for tests."""
    values: dict[str, Any] = {
        "window_seconds": 2.0,
        "lease_seconds": 30.0,
        "renew_interval": 5.0,
        "flush_interval": 0.1,
        "refresh_interval": 0.3,
        "partial_wait": 0.3,
        "cooldown_base": 0.5,
        "cooldown_cap": 3.0,
        "min_cooldown": 0.2,
        "open_cooldown": 0.5,
        "recheck_interval": 0.3,
    }
    values.update(changes)
    return EngineOptions(**values)


class SimProcess(SimulatorProcess):
    """The simulator process with the tests' seed and long-slot population."""

    def __init__(self, pairs: int, args: list[str], population: PopulationConfig) -> None:
        super().__init__(pairs, args, seed=SIM_SEED, population=population)


def limit_args(
    *,
    lookups: str,
    stories: str,
    address_lookups: str | None = None,
    address_stories: str | None = None,
) -> list[str]:
    """Simulator options for per-session and per-address limits (`N/SECONDSs`)."""
    return [
        "--session-profile-limit",
        lookups,
        "--session-story-limit",
        stories,
        "--address-profile-limit",
        address_lookups or lookups,
        "--address-story-limit",
        address_stories or stories,
    ]


@pytest.fixture
def simulator() -> Iterator[Any]:
    """Factory: `simulator(pairs, *args)` starts a simulator process with N proxies/sessions."""
    started: list[SimProcess] = []

    def start(pairs: int, *args: str, population: PopulationConfig = POPULATION) -> SimProcess:
        sim = SimProcess(pairs, list(args), population)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def secrets() -> SecretBox:
    """The key the test pairs are encrypted with."""
    return SecretBox(SECRET_KEY)


@pytest.fixture
def engine_db(tmp_path: Path) -> Iterator[Database]:
    """A fresh file-based SQLite database, migrated."""
    db = Database(f"sqlite:///{tmp_path / 'engine.db'}")
    upgrade(db.engine)
    yield db
    db.dispose()


@dataclass
class Rig:
    """A running engine: worker pool, state manager and reconciler on one database."""

    db: Database
    secrets: SecretBox
    pool: WorkerPool
    state: BatchStateManager
    reconciler: Reconciler
    niche_id: str
    profile_ids: list[str] = field(default_factory=list)

    def add_profiles(
        self, usernames: list[str], user_ids: dict[str, str | None] | None = None
    ) -> list[str]:
        """Seed profiles into the rig's niche."""
        ids = seed_profiles(self.db, self.niche_id, usernames, user_ids=user_ids)
        self.profile_ids.extend(ids)
        return ids

    def create_batch(self, profile_ids: list[str] | None = None) -> str:
        """Create (and, with a free slot, start) a batch."""
        if profile_ids is None:
            return self.state.create_batch(niche_id=self.niche_id, all_profiles=True).id
        return self.state.create_batch(niche_id=self.niche_id, profile_ids=profile_ids).id

    def status(self, batch_id: str) -> str | None:
        """The batch's status now (None when deleted)."""
        row = batch_row(self.db, batch_id)
        return None if row is None else row.status

    def wait_done(self, batch_id: str, timeout: float = 60.0) -> None:
        """Wait until the batch is done."""
        wait_until(
            lambda: self.status(batch_id) == "done", timeout=timeout, what=f"batch {batch_id} done"
        )

    def items(self, batch_id: str) -> list[tuple[BatchProfile, Profile]]:
        """Every item of a batch with its profile."""
        with self.db.read() as session:
            rows = session.execute(
                select(BatchProfile, Profile)
                .join(Profile, Profile.id == BatchProfile.profile_id)
                .where(BatchProfile.batch_id == batch_id)
            ).all()
            return [(bp, p) for bp, p in rows]

    def stop(self) -> None:
        """Stop reconciler and pool."""
        self.reconciler.stop()
        self.pool.stop(timeout=5.0)


@pytest.fixture
def rig(engine_db: Database, secrets: SecretBox) -> Iterator[Any]:
    """Factory: `rig(sim, options=…, checker=…, **settings)` seeds pairs and starts an engine."""
    rigs: list[Rig] = []

    def make(
        sim: SimProcess | None,
        *,
        options: EngineOptions | None = None,
        checker: Checker | None = None,
        pairs: list[ProxySpec] | None = None,
        sessions: list[str] | None = None,
        reconcile_interval: float = 0.5,
        **settings: Any,
    ) -> Rig:
        defaults: dict[str, Any] = {
            "min_request_interval": 0.0,
            "max_threads": 32,
            "proxy_test_timeout": 3,
        }
        defaults.update(settings)
        set_settings(engine_db, **defaults)
        if sim is not None or pairs is not None:
            seed_pairs(
                engine_db,
                secrets,
                pairs if pairs is not None else sim.proxies,  # type: ignore[union-attr]
                sessions if sessions is not None else sim.sessions,  # type: ignore[union-attr]
            )
        config = Config(
            database_url=str(engine_db.url),
            instagram_url=sim.base_url if sim is not None else "http://127.0.0.1:9",
            secret_key=SECRET_KEY,
        )
        pool = WorkerPool(
            db=engine_db,
            config=config,
            secrets=secrets,
            checker=checker,
            options=options or fast_options(),
        )
        state = BatchStateManager(engine_db, pool)
        pool.attach(state)
        pool.start()
        state.reconcile(release_all_leases=True)
        reconciler = Reconciler(state.reconcile, reconcile_interval).start()
        made = Rig(engine_db, secrets, pool, state, reconciler, seed_niche(engine_db))
        rigs.append(made)
        return made

    yield make
    for made in rigs:
        made.stop()
