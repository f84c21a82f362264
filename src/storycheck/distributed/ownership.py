"""Pair ownership: each pair is used by one `storycheck worker` at a time, across machines.

Every worker runs one `PairOwnership`. Every `renew_interval` seconds it runs one short
transaction (serialised between workers by a PostgreSQL advisory lock; SQLite's
`BEGIN IMMEDIATE` serialises it there):

1. writes its heartbeat (`worker_heartbeats.last_seen`);
2. frees what dead workers held (`liveness.reap_dead_workers`): a worker whose heartbeat is
   older than `lease_seconds` (a few renew intervals) loses its item leases and pair leases at
   once — the server does the same at each reconcile. Between ticks a worker also ticks at the
   moment the oldest other heartbeat it saw would pass that age, so a dead peer is noticed
   within a poll interval of becoming dead, not at the next renew;
3. computes its fair share, ``ceil(usable pairs / live workers)``;
4. renews the leases it holds (`pair_leases.expires_at = now + lease_seconds`);
5. with fewer pairs than its share, claims pairs nobody holds: handed back or freed (owner
   NULL), or never leased;
6. with more than its share (a worker joined), marks the surplus *draining*.

Only pairs that are held, not draining, confirmed until comfortably in the future and past
their hand-over hold pass `allowed`, the engine's `pair_filter`. A draining pair leaves the
filter at once; the engine drops it at its next pair refresh (asked for at once); once the
engine has no request on it any more (`WorkerPool.pairs_in_use`), the lease is handed back
(owner NULL, usable at once) and another worker may claim it at its next tick. The new holder
reads the pair's budget from the persisted `proxy_usage` ledger (the engine does that for every
admitted pair), exactly as after a restart, so pacing holds across the hand-over.

A freed row's `expires_at` is the moment the pair may be used again. For a dead holder that is
its confirmed end minus `safety` plus `takeover_grace`: a worker that merely stalled (not dead)
stops using a pair once less than `safety` seconds of its lease are confirmed, and the next
holder starts `takeover_grace` seconds after that.

Times are the workers' own clocks (unix seconds stored as UTC timestamps); like the item
leases of the engine, this assumes clocks synchronised (NTP) to well under a second.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from storycheck.config import ConfigError, read_settings
from storycheck.db import AdvisoryLock, Database, advisory_xact_lock
from storycheck.distributed.liveness import Reaped, reap_dead_workers
from storycheck.distributed.liveness import to_datetime as _dt
from storycheck.distributed.models import PairLease, WorkerHeartbeat
from storycheck.periodic import Periodic
from storycheck.proxies.models import IgSession, Proxy

log = logging.getLogger(__name__)

# Health values that take a pair out of the engine's usable set.
UNUSABLE_HEALTH = ("invalid", "challenge", "disabled")


class EngineHooks(Protocol):
    """What ownership needs from the engine (`WorkerPool`)."""

    def refresh_pairs(self) -> None:
        """Re-apply the pair filter soon."""

    def pairs_in_use(self, timeout: float = 5.0) -> set[str]:
        """Pairs the engine may use or still has a request on."""


@dataclass(frozen=True)
class OwnershipOptions:
    """Time scales of pair ownership (seconds)."""

    lease_seconds: float = 6.0  # a worker silent this long is dead; its pairs and items freed
    renew_interval: float = 2.0  # heartbeat and pair lease renewal
    takeover_grace: float = 3.0  # between a vanished holder's stop and the next holder's start
    poll_interval: float = 0.25

    @property
    def safety(self) -> float:
        """Stop using a pair when less than this much of its lease is confirmed."""
        return self.lease_seconds / 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OwnershipOptions:
        """Defaults overridden by `STORYCHECK_PAIR_LEASE_SECONDS`, `…_RENEW_INTERVAL`,
        `…_TAKEOVER_GRACE` (`ConfigError` naming the variable for a bad value)."""
        options = cls(**read_settings(PairVariables, env).model_dump(exclude_none=True))
        if options.renew_interval * 2 >= options.lease_seconds:
            raise ConfigError(
                "Bad environment configuration: STORYCHECK_PAIR_RENEW_INTERVAL="
                f"{options.renew_interval:g} must be under half STORYCHECK_PAIR_LEASE_SECONDS="
                f"{options.lease_seconds:g}"
            )
        return options


class PairVariables(BaseSettings):
    """The `STORYCHECK_PAIR_*` time scales; unset ones keep `OwnershipOptions`' defaults."""

    model_config = SettingsConfigDict(
        env_prefix="STORYCHECK_PAIR_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    lease_seconds: Annotated[float, Field(gt=0)] | None = None
    renew_interval: Annotated[float, Field(gt=0)] | None = None
    takeover_grace: Annotated[float, Field(ge=0)] | None = None


@dataclass
class Held:
    """A pair this worker holds: confirmed until `expires_at`, usable from `usable_from`."""

    expires_at: float
    usable_from: float
    draining: bool = False


def default_worker_id() -> str:
    """`host:pid:random`, unique per process."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def balance(keep: set[str], local: dict[str, Held], share: int) -> tuple[set[str], set[str]]:
    """Split the pairs this worker keeps into active and draining for its fair `share`.

    Draining pairs stay ours until the engine has let go of them; a surplus starts draining
    (highest ids first), and a shortfall takes draining pairs back before claiming new ones.
    """
    draining = {pid for pid in keep if local.get(pid, Held(0, 0)).draining}
    active = keep - draining
    if len(active) > share:
        surplus = sorted(active, reverse=True)[: len(active) - share]
        draining |= set(surplus)
        active -= set(surplus)
    elif len(active) < share and draining:
        back = sorted(draining)[: share - len(active)]
        draining -= set(back)
        active |= set(back)
    return active, draining


class PairOwnership:
    """One worker's share of the pairs; see the module docstring."""

    def __init__(
        self,
        db: Database,
        worker_id: str | None = None,
        options: OwnershipOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.worker_id = worker_id or default_worker_id()
        self.options = options or OwnershipOptions()
        self.clock = clock
        self.engine: EngineHooks | None = None
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()
        self._published: set[str] = set()
        self._ticker: Periodic | None = None
        self.last_reaped = Reaped()
        # When the oldest other heartbeat will be older than the lease: tick then, not later.
        self._next_death: float | None = None

    # ------------------------------------------------------------------ what the engine sees

    def attach(self, engine: EngineHooks) -> None:
        """Tell the engine (`WorkerPool`) about changes of the share."""
        self.engine = engine

    def allowed(self, candidates: set[str]) -> set[str]:
        """The engine's pair filter: the pairs among `candidates` this worker may use now."""
        return self._usable_now() & set(candidates)

    def owned(self) -> set[str]:
        """Every pair held now (draining ones included)."""
        with self._lock:
            return set(self._held)

    def _usable_now(self) -> set[str]:
        now = self.clock()
        safety = self.options.safety
        with self._lock:
            return {
                proxy_id
                for proxy_id, held in self._held.items()
                if not held.draining and held.usable_from <= now and held.expires_at - safety > now
            }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Join: heartbeat and a first share at once, then keep both up in a thread."""
        try:
            self.tick()
        except Exception:
            log.exception("first pair-ownership tick failed; retrying in the background")
        self._ticker = (
            Periodic("pair-ownership")
            .every(self.options.renew_interval, self.tick, what="pair ownership tick")
            .every(self.options.poll_interval, self._poll, what="pair hand-back")
            .start()
        )

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; with `release`, hand every pair back and leave the worker list.

        Call it only after the engine stopped sending (the hand-back is immediate).
        """
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if release:
            try:
                self.release_all()
            except Exception:
                log.exception("could not hand pairs back; live workers free them when it is gone")

    def wake(self) -> None:
        """Run the next tick now (tests, and after a drain finished)."""
        if self._ticker is not None:
            self._ticker.wake()

    def _poll(self) -> None:
        self._finish_draining()
        self._publish()
        due = self._next_death
        if due is not None and self.clock() >= due:
            self._next_death = None
            self.wake()  # a peer just became dead: free its pairs and items now

    # ------------------------------------------------------------------ the tick

    def tick(self) -> None:
        """Heartbeat, free dead workers' leases, renew, claim up to the fair share, mark any
        surplus draining."""
        now = self.clock()
        options = self.options
        expires = now + options.lease_seconds
        me = self.worker_id
        with self._lock:
            local = {
                pid: Held(h.expires_at, h.usable_from, h.draining) for pid, h in self._held.items()
            }
        with self.db.write() as session:
            self._lock_ownership(session)
            self._heartbeat(session, now, len(local))
            reaped = reap_dead_workers(
                session,
                now=now,
                lease_seconds=options.lease_seconds,
                safety=options.safety,
                grace=options.takeover_grace,
            )
            oldest = session.scalar(
                select(func.min(WorkerHeartbeat.last_seen)).where(WorkerHeartbeat.worker_id != me)
            )
            live = (
                session.scalar(
                    select(func.count())
                    .select_from(WorkerHeartbeat)
                    .where(WorkerHeartbeat.last_seen >= _dt(now - options.lease_seconds))
                )
                or 1
            )
            usable = self._usable_pairs(session)
            leases = {
                row.proxy_id: row
                for row in session.execute(
                    select(PairLease.proxy_id, PairLease.owner, PairLease.expires_at)
                ).all()
            }
            mine = {pid for pid, row in leases.items() if row.owner == me}
            unusable = mine - usable
            keep = mine & usable
            share = math.ceil(len(usable) / max(1, live))

            active, draining = balance(keep, local, share)

            # Free pairs (handed back, freed from a dead holder, never leased) and when each
            # may be used: a freed row's `expires_at` says so (handed back: at once).
            free = {
                pid: (max(now, leases[pid].expires_at.timestamp()) if pid in leases else now)
                for pid in sorted(usable - mine)
                if pid not in leases or leases[pid].owner is None
            }
            claimed: dict[str, float] = {}  # proxy id -> usable from
            for pid in list(free)[: max(0, share - len(active))]:
                if pid in leases:
                    result = session.execute(
                        update(PairLease)
                        .where(PairLease.proxy_id == pid, PairLease.owner.is_(None))
                        .values(owner=me, acquired_at=_dt(now), expires_at=_dt(expires))
                    )
                    if not result.rowcount:  # type: ignore[attr-defined]
                        continue  # taken meanwhile (only without the advisory lock)
                else:
                    session.execute(
                        insert(PairLease).values(
                            proxy_id=pid, owner=me, acquired_at=_dt(now), expires_at=_dt(expires)
                        )
                    )
                claimed[pid] = free[pid]
            if keep:
                session.execute(
                    update(PairLease)
                    .where(PairLease.owner == me, PairLease.proxy_id.in_(sorted(keep)))
                    .values(expires_at=_dt(expires))
                )
            if unusable:
                session.execute(
                    update(PairLease)
                    .where(PairLease.owner == me, PairLease.proxy_id.in_(sorted(unusable)))
                    .values(owner=None, expires_at=_dt(now))
                )
        # Committed: adopt the new state.
        self.last_reaped = reaped
        self._next_death = (
            None if oldest is None else oldest.timestamp() + options.lease_seconds + 0.01
        )
        with self._lock:
            held: dict[str, Held] = {}
            for pid in keep:
                before = self._held.get(pid)
                usable_from = before.usable_from if before else now + options.takeover_grace
                held[pid] = Held(expires, usable_from, pid in draining)
            for pid, usable_from in claimed.items():
                held[pid] = Held(expires, usable_from)
            gained = set(held) - set(self._held)
            lost = set(self._held) - set(held)
            newly_draining = {
                pid for pid in draining if not self._held.get(pid, Held(0, 0)).draining
            }
            self._held = held
        if gained or lost or newly_draining:
            log.info(
                "worker %s holds %d pair(s) (share %d of %d usable, %d live worker(s))%s%s%s",
                me,
                len(held),
                share,
                len(usable),
                live,
                f"; claimed {len(gained)}" if gained else "",
                f"; gave up {len(lost)}" if lost else "",
                f"; handing back {len(newly_draining)}" if newly_draining else "",
            )
        self._publish(force=bool(gained or lost or newly_draining))

    def _lock_ownership(self, session: Session) -> None:
        advisory_xact_lock(session, AdvisoryLock.PAIR_OWNERSHIP)

    def _heartbeat(self, session: Session, now: float, owned: int) -> None:
        me = self.worker_id
        updated = session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.worker_id == me)
            .values(last_seen=_dt(now), pairs_owned=owned)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            session.execute(
                insert(WorkerHeartbeat).values(
                    worker_id=me,
                    hostname=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=_dt(now),
                    last_seen=_dt(now),
                    pairs_owned=owned,
                )
            )

    @staticmethod
    def _usable_pairs(session: Session) -> set[str]:
        """Pairs the engine could use: proxy and session active, health not terminal."""
        return set(
            session.scalars(
                select(Proxy.id)
                .join(IgSession, IgSession.proxy_id == Proxy.id)
                .where(
                    Proxy.is_active.is_(True),
                    IgSession.status == "active",
                    Proxy.health.not_in(UNUSABLE_HEALTH),
                )
            )
        )

    # ------------------------------------------------------------------ hand-back

    def _finish_draining(self) -> None:
        with self._lock:
            draining = {pid for pid, held in self._held.items() if held.draining}
        if not draining:
            return
        engine = self.engine
        if engine is not None:
            engine.refresh_pairs()
            try:
                in_use = engine.pairs_in_use(timeout=5.0)
            except Exception:
                return  # ask again at the next poll
        else:
            in_use = set()
        done = draining - in_use
        if not done:
            return
        now = self.clock()
        with self.db.write() as session:
            self._lock_ownership(session)
            session.execute(
                update(PairLease)
                .where(PairLease.owner == self.worker_id, PairLease.proxy_id.in_(sorted(done)))
                .values(owner=None, expires_at=_dt(now))
            )
        with self._lock:
            for pid in done:
                held = self._held.get(pid)
                if held is not None and held.draining:
                    del self._held[pid]
        log.info("worker %s handed back %d pair(s)", self.worker_id, len(done))

    def release_all(self) -> None:
        """Hand every pair back and leave the worker list (the engine must have stopped)."""
        now = self.clock()
        with self.db.write() as session:
            self._lock_ownership(session)
            session.execute(
                update(PairLease)
                .where(PairLease.owner == self.worker_id)
                .values(owner=None, expires_at=_dt(now))
            )
            session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == self.worker_id)
            )
        with self._lock:
            count = len(self._held)
            self._held = {}
        self._published = set()
        log.info("worker %s handed back %d pair(s) and left", self.worker_id, count)

    def _publish(self, *, force: bool = False) -> None:
        """Ask the engine to re-apply the filter when what it allows changed."""
        current = self._usable_now()
        if current == self._published and not force:
            return
        self._published = current
        if self.engine is not None:
            self.engine.refresh_pairs()


__all__ = ["EngineHooks", "Held", "OwnershipOptions", "PairOwnership", "default_worker_id"]
