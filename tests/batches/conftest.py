"""Fixtures for state-manager tests: a database, a recording pool, a manager."""

from __future__ import annotations

import threading

import pytest

from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from tests.factories import make_niche, make_profiles


class RecordingPool:
    """A pool double that records what the state manager told it (unit-test isolation)."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def register_batch(self, batch_id: str) -> None:
        with self._lock:
            self.running.add(batch_id)
            self.calls.append(("register", batch_id))

    def unregister_batch(self, batch_id: str) -> None:
        with self._lock:
            self.running.discard(batch_id)
            self.calls.append(("unregister", batch_id))

    def sync(self, running_ids: set[str]) -> None:
        with self._lock:
            self.running = set(running_ids)
            self.calls.append(("sync", ",".join(sorted(running_ids))))


@pytest.fixture
def database(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def pool() -> RecordingPool:
    return RecordingPool()


@pytest.fixture
def manager(database: Database, pool: RecordingPool) -> BatchStateManager:
    return BatchStateManager(database, pool)


@pytest.fixture
def niche_profiles(database: Database) -> tuple[str, list[str]]:
    niche_id = make_niche(database)
    return niche_id, make_profiles(database, niche_id, 5)
