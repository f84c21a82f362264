"""The engine's write-behind queues: final outcomes (group-committed) and looked-up ids.

`RecordQueue` collects each request's final `ItemOutcome`s and commits several requests'
outcomes together on the database thread (each request's outcomes stay atomic: they are
always in the same commit). Looked-up identities skip that queue: they are saved at once, in
their own short transaction, so a crash never repeats a lookup (issue 9 item 6); so is a
first "not found" opinion, so a crash does not repeat the lookup that gave it (issue 16).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from storycheck.engine.recorder import Recorder
from storycheck.engine.types import Identity, ItemOutcome, NotFoundOpinion

log = logging.getLogger(__name__)

DbCall = Callable[..., Awaitable[Any]]


class RecordQueue:
    """Outcomes waiting for their commit, and ids waiting to be cached (event loop only)."""

    def __init__(
        self,
        *,
        recorder: Recorder,
        db: DbCall,
        clock: Callable[[], float],
        save_db: DbCall | None = None,
        retention_hours: Callable[[], int],
        group: int,
        recorded: Callable[[Sequence[ItemOutcome]], None],
    ) -> None:
        self.recorder = recorder
        self.db = db
        self.save_db = save_db or db  # looked-up ids: their own thread, not behind commits
        self.clock = clock
        self.retention_hours = retention_hours
        self.group = group
        self.recorded = recorded  # called with every outcome handled (recorded or not)
        self.records: list[list[ItemOutcome]] = []
        self.identities: list[Identity] = []
        self.opinions: list[NotFoundOpinion] = []
        self.saving = False  # one task saves looked-up ids at a time
        # Set while no id save is pending: outcomes commit only after the ids of their lookups
        # (an item must never be "done" before its profile's id and follow state are stored).
        self.ids_saved = asyncio.Event()
        self.ids_saved.set()
        self.wake = asyncio.Event()

    # ------------------------------------------------------------------ outcomes

    def add(self, finals: list[ItemOutcome]) -> None:
        """Queue one request's final outcomes."""
        if finals:
            self.records.append(finals)
            self.wake.set()

    async def run(self) -> None:
        """Commit queued outcomes as they come (until cancelled)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.records:
                await self.commit_some()

    async def drain(self) -> None:
        """Commit everything queued now."""
        while self.records:
            await self.commit_some()

    async def commit_some(self) -> None:
        """Commit up to `group` requests' outcomes in one transaction."""
        await self.ids_saved.wait()
        batch = self.records[: self.group]
        del self.records[: len(batch)]
        finals = [o for request in batch for o in request]
        report = None
        for attempt in range(20):
            try:
                report = await self.db(
                    self.recorder.record,
                    finals,
                    retention_hours=self.retention_hours(),
                    now=self.clock(),
                )
                break
            except Exception:
                log.exception("recording %d outcomes failed (attempt %d)", len(finals), attempt + 1)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        # When it gave up, the leases expire and the items are checked again (never twice).
        if report is not None and len(finals) > len(report.recorded):
            missed = len(finals) - len(report.recorded)
            log.info("%d outcome(s) arrived after their lease was gone; ignored", missed)
        self.recorded(finals)

    # ------------------------------------------------------------------ identities

    def save_soon(
        self, identities: Sequence[Identity], opinions: Sequence[NotFoundOpinion] = ()
    ) -> Coroutine[Any, Any, None] | None:
        """Queue looked-up ids and "not found" opinions; return the coroutine to run when no
        saver is running yet."""
        self.identities.extend(identities)
        self.opinions.extend(opinions)
        if self.saving or not (self.identities or self.opinions):
            return None
        self.saving = True
        self.ids_saved.clear()
        return self._save()

    async def _save(self) -> None:
        try:
            await self.save_pending()
        finally:
            self.saving = False
            self.ids_saved.set()

    async def save_pending(self) -> None:
        """Save every queued id and opinion, each group in its own short transaction."""
        while self.identities or self.opinions:
            group, self.identities = self.identities, []
            opinions, self.opinions = self.opinions, []
            for attempt in range(5):
                try:
                    await self.save_db(
                        self.recorder.save_identities, group, opinions, now=self.clock()
                    )
                    break
                except Exception:
                    log.exception("saving %d looked-up ids failed", len(group) + len(opinions))
                    await asyncio.sleep(min(2.0, 0.2 * 2**attempt))


__all__ = ["RecordQueue"]
