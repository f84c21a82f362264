"""Random sequences of batch operations keep every invariant of DESIGN.md §3.3 (Hypothesis)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from storycheck.batches.invariants import check_invariants
from storycheck.batches.state import BatchStateManager
from storycheck.db import Database
from storycheck.errors import Conflict
from tests.batches.conftest import RecordingPool
from tests.batches.helpers import finish_items, snapshot
from tests.factories import make_niche, make_profiles, set_settings


class BatchQueueMachine(RuleBasedStateMachine):
    """Drives create/start/stop/resume/delete/reorder/complete at random."""

    template: Path
    max_concurrent = 1

    @initialize()
    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        shutil.copy(self.template, self.tmp / "db.sqlite")
        self.db = Database(f"sqlite:///{self.tmp / 'db.sqlite'}")
        set_settings(self.db, max_concurrent_batches=self.max_concurrent)
        self.pool = RecordingPool()
        self.manager = BatchStateManager(self.db, self.pool)
        self.niche = make_niche(self.db)
        self.profiles = make_profiles(self.db, self.niche, 3)
        self.ids: list[str] = []

    def teardown(self) -> None:
        if hasattr(self, "db"):
            self.db.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.ids))

    def _try(self, action, *args) -> None:  # type: ignore[no-untyped-def]
        before = snapshot(self.db)
        try:
            action(*args)
        except Conflict:
            assert snapshot(self.db) == before, "a refused transition changed something"

    @rule()
    def create(self) -> None:
        self.ids.append(self.manager.create_batch(niche_id=self.niche, profile_ids=self.profiles).id)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        self._try(self.manager.start, [self._pick(data)])

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        self._try(self.manager.stop, [self._pick(data)])

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        self._try(self.manager.resume, [self._pick(data)])

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        batch_id = self._pick(data)
        self.manager.delete([batch_id])
        self.ids.remove(batch_id)

    @precondition(lambda self: len(self.ids) >= 2)
    @rule(data=st.data())
    def reorder(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(self.ids), min_size=1, max_size=3, unique=True))
        self._try(self.manager.reorder, chosen)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        running = [b for b, (status, _) in snapshot(self.db).items() if status == "in_progress"]
        if running:
            batch_id = data.draw(st.sampled_from(running))
            finish_items(self.db, batch_id, story=data.draw(st.booleans()))
            assert self.manager.complete_if_finished(batch_id)

    @invariant()
    def invariants_hold(self) -> None:
        if not hasattr(self, "db"):
            return
        with self.db.snapshot() as session:
            assert check_invariants(session) == []
        running = {b for b, (status, _) in snapshot(self.db).items() if status == "in_progress"}
        assert self.pool.running == running, "the pool does not match the database"


@pytest.mark.slow  # 2 x 40 random sequences of 25 steps; test_transitions.py is the fast tier's
@pytest.mark.parametrize("max_concurrent", [1, 2])
def test_random_operation_sequences_keep_invariants(sqlite_template: Path, max_concurrent: int):
    machine = type(
        f"Machine{max_concurrent}",
        (BatchQueueMachine,),
        {"template": sqlite_template, "max_concurrent": max_concurrent},
    )
    runner = machine.TestCase
    runner.settings = settings(
        max_examples=40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    runner().runTest()
