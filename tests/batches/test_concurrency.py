"""Eight threads hammer the state manager on one file-based SQLite database (and PostgreSQL)."""

from __future__ import annotations

import random
import threading

from storycheck.batches.invariants import check_invariants
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from storycheck.errors import Conflict, NotFound
from tests.batches.conftest import RecordingPool
from tests.batches.helpers import finish_items, snapshot
from tests.factories import make_niche, make_profiles

OPERATIONS_PER_THREAD = 25


def _random_operation(
    manager: BatchStateManager, database: Database, niche: str, profiles: list[str], rng: random.Random
) -> None:
    """One random verb on a random batch, or the engine's part: finish a running batch."""
    ids = list(snapshot(database))
    op = rng.choice(["create", "start", "stop", "resume", "delete", "complete"])
    if op == "create" or not ids:
        manager.create_batch(niche_id=niche, profile_ids=profiles)
    elif op == "complete":
        running = [b for b, (s, _) in snapshot(database).items() if s == "in_progress"]
        if running:
            target = rng.choice(running)
            finish_items(database, target)
            manager.complete_if_finished(target)
    else:
        getattr(manager, op)([rng.choice(ids)])


def test_eight_threads_keep_invariants(database, pool):
    manager = BatchStateManager(database, pool)
    niche = make_niche(database)
    profiles = make_profiles(database, niche, 4)
    for _ in range(4):
        manager.create_batch(niche_id=niche, profile_ids=profiles)
    errors: list[BaseException] = []
    violations: list[list[str]] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(OPERATIONS_PER_THREAD):
            try:
                _random_operation(manager, database, niche, profiles, rng)
            except (Conflict, NotFound):
                pass  # a lost race or an illegal move: a clean refusal is the point
            except BaseException as exc:  # noqa: BLE001 - report anything else to the test
                errors.append(exc)
            with database.snapshot() as session:
                found = check_invariants(session)
            # I5 may be briefly false between another thread's commit and its promotion — never
            # here, since promotion happens in the same transaction; so every check must pass.
            if found:
                violations.append(found)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert violations == []
    running = {b for b, (s, _) in snapshot(database).items() if s == "in_progress"}
    assert pool.running == running


class _PausedWhileHearing(RecordingPool):
    """A pool that, on hearing a batch start, has another thread pause it and waits (up to a
    second) for that pause to return before it records the start."""

    def __init__(self) -> None:
        super().__init__()
        self.manager: BatchStateManager | None = None
        self.pause_errors: list[BaseException] = []
        self.pauser: threading.Thread | None = None

    def register_batch(self, batch_id: str) -> None:
        if self.pauser is None and self.manager is not None:
            manager = self.manager

            def pause() -> None:
                try:
                    manager.stop([batch_id])
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    self.pause_errors.append(exc)

            self.pauser = threading.Thread(target=pause)
            self.pauser.start()
            self.pauser.join(timeout=1.0)
        super().register_batch(batch_id)


def test_the_pool_hears_changes_in_commit_order(database):
    """A pause committed after a start is heard after it: the pool never keeps running a
    batch the database has paused (the start's notification must not overtake the pause's)."""
    pool = _PausedWhileHearing()
    manager = BatchStateManager(database, pool)
    pool.manager = manager
    niche = make_niche(database)
    batch = manager.create_batch(niche_id=niche, profile_ids=make_profiles(database, niche, 2))
    assert pool.pauser is not None
    pool.pauser.join()
    assert pool.pause_errors == []
    assert snapshot(database)[batch.id][0] == "paused"
    assert pool.running == set()
    assert pool.calls == [("register", batch.id), ("unregister", batch.id)]
