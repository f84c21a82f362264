"""Engine fixtures: a migrated SQLite file, the simulator + proxy fleet, and an engine rig.

The simulator runs in its own process (`python -m storycheck.simulator`), so it does not
compete with the engine for the GIL; tests talk to it over real HTTP through its local
proxies, and control it through its `/__sim__` API. Time is compressed: a pacing "hour" of a
few seconds on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.engine.checker import Checker
from storycheck.engine.options import EngineOptions
from storycheck.migrate import upgrade
from storycheck.simulator import PopulationConfig
from storycheck.testing import EngineRig, ProxySpec, SimulatorProcess, start_engine

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


Rig = EngineRig  # the engine rig of `storycheck.testing`


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
        made = start_engine(
            engine_db,
            secrets,
            instagram_url=sim.base_url if sim is not None else "http://127.0.0.1:9",
            secret_key=SECRET_KEY,
            proxies=pairs if pairs is not None else (sim.proxies if sim is not None else []),
            sessions=sessions if sessions is not None else (sim.sessions if sim is not None else []),
            options=options or fast_options(),
            checker=checker,
            reconcile_interval=reconcile_interval,
            **settings,
        )
        rigs.append(made)
        return made

    yield make
    for made in rigs:
        made.stop()
