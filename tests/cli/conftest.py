"""CLI fixtures: the real `storycheck` executable in a subprocess, a simulator, a proxy fleet.

Every CLI run is `.venv/bin/storycheck …` with stdin, stdout and stderr not terminals (so the
progress display is plain lines) and a clean environment: only the `STORYCHECK_*` variables a
test sets. The simulator (in this process, limits off, no private accounts, long story slots
so no story starts or ends during a test) is the truth the CLI's answers are compared with.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.simulator import (
    LimitsConfig,
    PopulationConfig,
    ProxyFleet,
    SimulatorConfig,
    SimulatorServer,
)
from storycheck.testing import ProxySpec, seed_pairs, set_settings
from tests.robustness.conftest import (  # noqa: F401 - fixtures shared with the robustness suite
    ENGINE_ENV,
    FAST_SETTINGS,
    SERVER_SECRET_KEY,
    STORYCHECK_BIN,
    start_server,
    usernames,
)

PAIRS = 4
# Private accounts answer "unknown" rather than "no story": leave them out, so the truth is
# exactly "exists and has a story now".
POPULATION = PopulationConfig(
    slot_seconds=1e7, story_ttl_seconds=2e7, story_probability=0.3, private_share=0.0
)


@dataclass
class World:
    """The simulator and its proxies: the Instagram the CLI checks against."""

    sim: SimulatorServer
    fleet: ProxyFleet

    def live_story_accounts(self, names: list[str]) -> set[str]:
        """The accounts among `names` with a story now, per `POST /__sim__/truth`."""
        answer = httpx.post(
            f"{self.sim.base_url}/__sim__/truth", json={"usernames": names}, timeout=30
        )
        answer.raise_for_status()
        return {r["username"] for r in answer.json()["results"] if r["exists"] and r["has_story"]}

    def missing_accounts(self, names: list[str]) -> set[str]:
        """The accounts among `names` that do not exist, per `POST /__sim__/truth`."""
        answer = httpx.post(
            f"{self.sim.base_url}/__sim__/truth", json={"usernames": names}, timeout=30
        )
        answer.raise_for_status()
        return {r["username"] for r in answer.json()["results"] if not r["exists"]}


@pytest.fixture
def world() -> Iterator[World]:
    """A simulator with PAIRS sessions and PAIRS local proxies, stopped after the test."""
    sim = SimulatorServer(
        SimulatorConfig(
            seed=23, sessions=PAIRS, limits=LimitsConfig(enabled=False), population=POPULATION
        )
    ).start()
    fleet = ProxyFleet(PAIRS).start()
    yield World(sim, fleet)
    fleet.stop()
    sim.stop()


def cli_env(database_path: Path, instagram_url: str = "", **extra: str) -> dict[str, str]:
    """A clean environment for a CLI process on `database_path`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORYCHECK_") and k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")
    }
    env.update(ENGINE_ENV)
    env.update(
        {
            "STORYCHECK_DATABASE_URL": f"sqlite:///{database_path}",
            "STORYCHECK_SECRET_KEY": SERVER_SECRET_KEY,
            "STORYCHECK_RECONCILE_INTERVAL": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if instagram_url:
        env["STORYCHECK_INSTAGRAM_URL"] = instagram_url
    env.update(extra)
    return env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> Run:
    """`run_cli(*args, env=…, timeout=…)`: run `storycheck` to the end in an empty directory."""
    if not STORYCHECK_BIN.exists():
        pytest.skip(f"{STORYCHECK_BIN} is not installed")
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STORYCHECK_BIN), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def local_database(tmp_path: Path, world: World) -> Path:
    """A migrated SQLite file with one pair per simulator session and fast engine settings."""
    path = tmp_path / "local.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    specs = [ProxySpec.from_url(url) for url in world.fleet.urls]
    seed_pairs(db, SecretBox(SERVER_SECRET_KEY), specs, world.sim.session_ids[:PAIRS])
    set_settings(db, **FAST_SETTINGS)
    db.dispose()
    return path


def account_file(directory: Path, names: list[str], name: str = "accounts.txt") -> Path:
    """Write `names` one a line (the way users hand them over) and return the file."""
    path = directory / name
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    return path
